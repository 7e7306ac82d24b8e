//! The one task that owns stdout: every other task sends it [`Output`] messages, so lines
//! never interleave. Renders in `vtex link` style for people or one JSON object per line.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use console::Style;
use tokio::sync::mpsc;

use crate::protocol::stream::LinkRecord;

// The wire types of a link's output live in the protocol; re-exported for the tasks that print.
pub use crate::protocol::stream::{Level, Output};

/// How output is rendered; decided once at start.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    pub json: bool,
    pub color: bool,
}

impl Format {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    pub fn detect(json: bool, choice: ColorChoice) -> Format {
        Format { json, color: !json && choice.enabled(console::Term::stdout().is_term()) }
    }
}

/// `--color`: `auto` colours a terminal unless NO_COLOR is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self, is_term: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_term && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// The sending side, cloned into every task that prints. `send` waits when the terminal is
/// behind (bounded channel); an app's own log lines use `log`, which never waits: when the
/// reader (a paused `ioctl link | less`) is behind, lines are counted, not queued, and the
/// count is said once the reader catches up. So a slow terminal never delays a handler's
/// result or a ping.
#[derive(Clone)]
pub struct Terminal {
    tx: mpsc::Sender<Output>,
    skipped: Arc<AtomicU64>,
}

impl Terminal {
    /// A terminal whose output arrives on the returned receiver (the session streams it to
    /// the app's link command).
    pub fn channel() -> (Terminal, mpsc::Receiver<Output>) {
        let (tx, rx) = mpsc::channel::<Output>(4096);
        (Terminal { tx, skipped: Arc::default() }, rx)
    }

    /// Starts the printing task; it ends when every `Terminal` clone is dropped.
    pub fn start(format: Format) -> (Terminal, tokio::task::JoinHandle<()>) {
        let (terminal, rx) = Terminal::channel();
        (terminal, print(rx, format))
    }

    /// A terminal that prints nothing (for tests of tasks that log).
    pub fn discard() -> Terminal {
        let (tx, mut rx) = mpsc::channel::<Output>(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        Terminal { tx, skipped: Arc::default() }
    }

    /// Whether whoever reads this terminal has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub async fn send(&self, msg: Output) {
        // The receiver only goes away when the link command has gone; nothing to do then.
        let _ = self.tx.send(msg).await;
    }

    /// An app's log line, without waiting: skipped (and counted) while the reader is behind.
    /// By hand over the one bounded channel: a broadcast channel counts what a slow reader
    /// lost, but would drop records and statuses too, which [`Terminal::send`] waits to deliver;
    /// only an app's log lines may be skipped, and the reader is told how many.
    pub fn log(&self, msg: Output) {
        let skipped = self.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            let notice = Output::Log {
                level: Level::Warn,
                message: format!("{skipped} log line(s) skipped: the terminal was not reading"),
                app: None,
                handler: None,
            };
            if self.tx.try_send(notice).is_err() {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.skipped.fetch_sub(skipped, Ordering::Relaxed);
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(msg) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub async fn status(&self, level: Level, message: impl Into<String>) {
        self.send(Output::Log { level, message: message.into(), app: None, handler: None }).await;
    }

    pub async fn info(&self, message: impl Into<String>) {
        self.status(Level::Info, message).await;
    }

    /// A record shown to people as a log line at `level` (or plain with `None`).
    pub async fn record(&self, level: Option<Level>, human: impl Into<String>, record: LinkRecord) {
        self.send(Output::Record { level, human: human.into(), record }).await;
    }
}

/// The task that owns stdout: renders what arrives until every sender is gone.
pub fn print(mut rx: mpsc::Receiver<Output>, format: Format) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut out = std::io::stdout();
        while let Some(msg) = rx.recv().await {
            let text = render(&msg, format);
            // A clean type check after a clean one has nothing to say to people.
            if !text.is_empty() {
                let _ = writeln!(out, "{text}");
            }
            if rx.is_empty() {
                let _ = out.flush();
            }
        }
        let _ = out.flush();
    })
}

fn render(msg: &Output, f: Format) -> String {
    if f.json {
        return serde_json::to_string(&LinkRecord::from(msg)).unwrap_or_default();
    }
    match msg {
        Output::Log { level, message, app, .. } => log_line(*level, message, app.as_deref(), f.color),
        Output::Diagnostic { level, diagnostic: d } => diagnostic(*level, d, f.color),
        Output::TypeCheck(report) => {
            let (errors, summary) = report.lines();
            let mut lines: Vec<String> = errors.iter().map(|d| diagnostic(Level::Error, d, f.color)).collect();
            lines.extend(summary.map(|(level, line)| log_line(level, &line, None, f.color)));
            lines.join("\n")
        }
        // A record about an app (an outbound call) ends its first line with the app, as the
        // app's own lines do; what follows (a missing call's explanation) stays below it.
        Output::Record { level: Some(level), human, record } => match (record.app(), human.split_once('\n')) {
            (Some(app), Some((first, rest))) => format!("{}\n{rest}", log_line(*level, first, Some(app), f.color)),
            (app, _) => log_line(*level, human, app, f.color),
        },
        Output::Record { level: None, human, .. } => human.clone(),
    }
}

/// `path:line:col: message` as a log line, then its code frame.
fn diagnostic(level: Level, d: &crate::diagnostic::Diagnostic, color: bool) -> String {
    let line = log_line(level, &d.to_string(), None, color);
    match d.frame(color) {
        frame if frame.is_empty() => line,
        frame => format!("{line}\n{frame}"),
    }
}

/// `HH:MM:SS.mmm - level: message  app`, as the VTEX toolbelt prints it.
pub fn log_line(level: Level, message: &str, app: Option<&str>, color: bool) -> String {
    let dim = Style::new().dim().force_styling(color);
    let lvl = match level {
        Level::Debug => Style::new().blue(),
        Level::Info => Style::new().green(),
        Level::Warn => Style::new().yellow(),
        Level::Error => Style::new().red(),
    }
    .force_styling(color);
    let time = chrono::Local::now().format("%H:%M:%S%.3f").to_string();
    let mut line = format!("{} - {}: {}", dim.apply_to(time), lvl.apply_to(level.as_str()), message);
    if let Some(app) = app {
        line.push_str(&format!("  {}", dim.apply_to(app)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn plain_log_line_shape() {
        let l = log_line(Level::Info, "EVENT HANDLER: received event", Some("vtex.service-course@0.0.1"), false);
        let (time, rest) = l.split_once(" - ").unwrap();
        assert_eq!(time.len(), 12, "{l}");
        assert_eq!(rest, "info: EVENT HANDLER: received event  vtex.service-course@0.0.1");
    }

    #[test]
    fn a_call_line_ends_with_its_app_before_any_explanation() {
        use crate::protocol::stream::{Answered, CallLine};
        let line = CallLine {
            app: "a.b@1.0.0".into(),
            via: "axios".into(),
            method: "GET".into(),
            url: "https://x".into(),
            answered: Answered::Missing,
            status: 501,
            elapsed_ms: 0.1,
        };
        let f = Format { json: false, color: false };
        let human = "GET https://x → missing 501 in 0.1 ms\nwhy and how".to_string();
        let text = render(&Output::Record { level: Some(Level::Warn), human, record: LinkRecord::Call(line) }, f);
        let (first, rest) = text.split_once('\n').unwrap();
        assert!(first.ends_with("warn: GET https://x → missing 501 in 0.1 ms  a.b@1.0.0"), "{text}");
        assert_eq!(rest, "why and how");
    }

    #[test]
    fn json_log_has_handler_only_when_known() {
        let f = Format { json: true, color: false };
        let with = render(
            &Output::Log {
                level: Level::Warn,
                message: "m".into(),
                app: Some("a.b@1.0.0".into()),
                handler: Some("h".into()),
            },
            f,
        );
        let v: Value = serde_json::from_str(&with).unwrap();
        assert_eq!(v["type"], "log");
        assert_eq!(v["handler"], "h");
        let without =
            render(&Output::Log { level: Level::Info, message: "m".into(), app: Some("a".into()), handler: None }, f);
        assert!(serde_json::from_str::<Value>(&without).unwrap().get("handler").is_none());
    }
}
