//! `ioctl dashboard`: a fresh one-time login link to the running session's dashboard, printed,
//! and opened in the default browser when there is a display to show it on (unless
//! `--no-open`). The link works once: it logs that browser in (an HttpOnly cookie that is not
//! the session token) and leaves the address bar.

use std::process::ExitCode;
use std::time::Duration;

use crate::protocol::endpoint::NewDashboardLogin;
use crate::protocol::Scope;

pub async fn run(scope: &Scope, open: bool, timeout: Duration) -> anyhow::Result<ExitCode> {
    let session = super::Connection::find(scope, timeout)?;
    let login = session.call(&NewDashboardLogin).await.map_err(super::Refusal::into_error)?;
    println!("dashboard: {} (one-time link: logs this browser in)", login.url);
    if open {
        match opener() {
            Some(program) => match std::process::Command::new(program)
                .arg(&login.url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
            {
                Ok(_) => println!("opened in the default browser ({program})"),
                Err(e) => eprintln!("warning: cannot run {program} to open the browser ({e}): open the link yourself"),
            },
            None => println!("no display to open a browser on: open the link where you have one"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The program that opens a URL in the default browser, when there is a display for it.
fn opener() -> Option<&'static str> {
    if cfg!(target_os = "macos") {
        return Some("open");
    }
    let display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    display.then_some("xdg-open")
}
