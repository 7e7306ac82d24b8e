//! The `ioctl` binary: parse the command line, run it, map the outcome to an exit code
//! (0 success, 1 a user-facing error, 2 bad usage).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `ioctl --version` (as clap's own flag, only first) also names the commit and Node.js.
    if std::env::args_os().nth(1).is_some_and(|a| a == "--version" || a == "-V") {
        return ioctl::version::print(env!("IOCTL_COMMIT"));
    }
    let cli = ioctl::cli::Cli::parse();
    if let Some(url) = &cli.store {
        // Checked here rather than by clap, whose error would repeat the value, password and all.
        if let Err(e) = ioctl::store::pg::Url::parse(url) {
            eprintln!("error: --store (or IOCTL_STORE): {e}");
            return ExitCode::from(2);
        }
        // The session a link starts, and every store this process opens, read it from here.
        // Set before the runtime below starts any thread.
        std::env::set_var(ioctl::store::STORE_ENV, url);
    }
    if let Some(url) = &cli.cluster {
        // As --store: checked here, never repeated (it may hold a password).
        if let Err(e) = ioctl::session::cluster::check_url(url) {
            eprintln!("error: --cluster (or IOCTL_CLUSTER): {e}");
            return ExitCode::from(2);
        }
        // The session a link starts joins the team workspace from these. Set before the
        // runtime below starts any thread.
        std::env::set_var(ioctl::session::cluster::CLUSTER_ENV, url);
        if let Some(token) = &cli.cluster_token {
            std::env::set_var(ioctl::session::cluster::TOKEN_ENV, token);
        }
        if let Some(file) = &cli.cluster_creds {
            // Absolute: the session runs from another folder.
            let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
            std::env::set_var(ioctl::session::cluster::CREDS_ENV, file);
        }
    } else if cli.cluster_token.is_some() || cli.cluster_creds.is_some() {
        eprintln!("error: --cluster-token and --cluster-creds go with --cluster (or IOCTL_CLUSTER)");
        return ExitCode::from(2);
    }
    if !matches!(cli.command, ioctl::cli::Command::SessionServe(_)) {
        // A client whose reader goes away (`ioctl status | head -1`) ends quietly, as a
        // command-line tool does, instead of failing on EPIPE. The session keeps ignoring it:
        // a link that went away must not take the session down.
        // SAFETY: setting a signal's disposition to its default, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // The session process carries the event path on every core; the other commands (link
    // included: it only relays its app's output) need one thread and less memory.
    let mut builder = match cli.command {
        ioctl::cli::Command::SessionServe(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(ioctl::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
