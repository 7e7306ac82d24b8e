//! The type check of one linked app, off the relink's path: after each good build the app's
//! task asks its checker (one long-lived Node process, started at the first request) to check
//! the app again; a newer build's request stops a stale check; each result goes to the app's
//! terminal as a `typecheck` report. With `--strict-types` a relink waits for its check and a
//! type error refuses it, as VTEX's node builder refuses the build.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::diagnostic::Diagnostic;
use crate::protocol::stream::{Level, Output, TypeCheckOutcome, TypeCheckReport, TypeError};
use crate::protocol::TypeCheckMode;
use crate::runtime::checker::{Answer, Checked, CheckerProcess};
use crate::terminal::Terminal;

/// How long a `--strict-types` relink waits for its check before going ahead without it (the
/// first check of a large app, with the checker's install, takes seconds; a stuck one must not
/// hold relinks for ever).
const STRICT_WAIT: Duration = Duration::from_secs(120);

/// The checker of one linked app, as its link sees it. Dropping it ends nothing: the task ends
/// with the app's services (`stop`).
pub struct TypeCheck {
    mode: TypeCheckMode,
    /// The newest good build's number; the task checks the newest only. Its receiver is the
    /// task's; a closed channel (the task ended) makes requests no-ops.
    requests: watch::Sender<u64>,
    /// The newest finished check (the build number it answered, and its error count), for a
    /// strict relink to wait on; closed when the task ends.
    results: watch::Receiver<Option<Finished>>,
}

#[derive(Debug, Clone, Copy)]
struct Finished {
    id: u64,
    errors: usize,
}

/// What the task needs to start a checker for the app.
pub struct Target {
    pub node: PathBuf,
    pub app_root: PathBuf,
    /// The major of manifest.json's `builders.node`: it picks the TypeScript version.
    pub builder_major: Option<u32>,
}

impl TypeCheck {
    /// The app's checker, started lazily by the first request, on `tracker` until `stop`.
    pub fn start(
        mode: TypeCheckMode,
        target: Target,
        terminal: Terminal,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> TypeCheck {
        let (requests, requests_rx) = watch::channel(0);
        let (results_tx, results) = watch::channel(None);
        if mode != TypeCheckMode::Off {
            let task = Task { mode, target, terminal, requests: requests_rx, results: results_tx, last_errors: None };
            tracker.spawn(task.run(stop));
        }
        TypeCheck { mode, requests, results }
    }

    /// No checker (`--no-typecheck`, and the linked app before its link request is read).
    pub fn off() -> TypeCheck {
        TypeCheck { mode: TypeCheckMode::Off, requests: watch::channel(0).0, results: watch::channel(None).1 }
    }

    /// A good build is live: check it, off the relink's path (returns at once).
    pub fn after_build(&self) {
        if self.mode == TypeCheckMode::Report {
            self.requests.send_modify(|n| *n += 1);
        }
    }

    /// With `--strict-types`: checks the build just made and waits for the answer; whether its
    /// type errors refuse it. Without, or when no checker could run, nothing is refused.
    pub async fn refuses(&self) -> bool {
        if self.mode != TypeCheckMode::Strict {
            return false;
        }
        let mut want = 0;
        self.requests.send_modify(|n| {
            *n += 1;
            want = *n;
        });
        let mut results = self.results.clone();
        let answered = tokio::time::timeout(STRICT_WAIT, results.wait_for(|r| r.is_some_and(|f| f.id >= want))).await;
        match answered {
            Ok(Ok(finished)) => finished.is_some_and(|f| f.errors > 0),
            // The task ended (no checker could start: it said why) or took too long.
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::warn!("strict type check: no answer within {STRICT_WAIT:?}; the build goes ahead");
                false
            }
        }
    }
}

/// The task behind a [`TypeCheck`].
struct Task {
    mode: TypeCheckMode,
    target: Target,
    terminal: Terminal,
    requests: watch::Receiver<u64>,
    results: watch::Sender<Option<Finished>>,
    /// Whether the last check had errors (`None` before the first): a clean one after errors
    /// says so.
    last_errors: Option<bool>,
}

impl Task {
    async fn run(mut self, stop: CancellationToken) {
        let mut checker: Option<CheckerProcess> = None;
        // The request being checked (the newest sent to the checker).
        let mut asked = 0;
        loop {
            let answer = async {
                match checker.as_mut() {
                    Some(c) => c.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = self.requests.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let id = *self.requests.borrow_and_update();
                    if checker.is_none() {
                        match self.start_checker().await {
                            Some(c) => checker = Some(c),
                            // Said why; a strict relink waiting on it goes ahead.
                            None => return,
                        }
                    }
                    if let Some(c) = checker.as_mut() {
                        if let Err(e) = c.ask(id).await {
                            self.stopped(&format!("{e:#}")).await;
                            checker = None;
                            continue;
                        }
                        asked = id;
                    }
                }
                answer = answer => match answer {
                    Ok(Some(Answer::Done(done))) if done.id == asked => {
                        let ts = checker.as_ref().map(|c| c.typescript.clone()).unwrap_or_default();
                        self.report(done, ts).await;
                    }
                    // A stale check's answer (a newer one is on its way), or a cancellation.
                    Ok(Some(Answer::Done(_) | Answer::Cancelled { .. } | Answer::Ready { .. })) => {}
                    Ok(Some(Answer::Failed { id, message })) => {
                        tracing::warn!(message, "type check failed");
                        let first = message.lines().next().unwrap_or_default().to_string();
                        self.terminal.status(Level::Warn, format!("the type check failed: {first}")).await;
                        if id == Some(asked) {
                            self.results.send_replace(Some(Finished { id: asked, errors: 0 }));
                        }
                    }
                    Ok(Some(Answer::Fatal { message })) => {
                        self.stopped(&message).await;
                        checker = None;
                    }
                    Err(e) => {
                        self.stopped(&format!("{e:#}")).await;
                        checker = None;
                    }
                    Ok(None) => {
                        self.stopped("its process ended").await;
                        checker = None;
                    }
                }
            }
        }
    }

    /// Installs the checker's packages (once per machine) and starts its process; says why
    /// not when it cannot (the link goes on unchecked).
    async fn start_checker(&self) -> Option<CheckerProcess> {
        let started = async {
            let installed = crate::runtime::install_typecheck(&self.terminal).await?;
            let typescript = installed.typescript_for(self.target.builder_major);
            CheckerProcess::start(&self.target.node, &installed, &self.target.app_root, typescript).await
        };
        match started.await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("type checker: {e:#}");
                let line = format!("type check unavailable: {e:#}; the app links without it");
                self.terminal.status(Level::Warn, line).await;
                None
            }
        }
    }

    /// The checker went away: say so; the next build starts another.
    async fn stopped(&mut self, why: &str) {
        tracing::warn!(why, "type checker stopped");
        let line = format!("the type checker stopped ({why}); the next good build starts it again");
        self.terminal.status(Level::Warn, line).await;
        let asked = *self.requests.borrow();
        self.results.send_replace(Some(Finished { id: asked, errors: 0 }));
    }

    /// A finished check to the terminal, and to a strict relink waiting for it.
    async fn report(&mut self, done: Checked, typescript: String) {
        let first = self.last_errors.is_none();
        if first {
            for note in &done.notes {
                self.terminal.info(format!("type check: {note}")).await;
            }
        }
        let report = build_report(&done, typescript, self.last_errors, self.mode == TypeCheckMode::Strict);
        self.last_errors = Some(!report.errors.is_empty());
        tracing::info!(
            errors = report.errors.len(),
            elapsed_ms = done.elapsed_ms,
            checked = done.checked,
            "type check"
        );
        let errors = report.errors.len();
        self.terminal.send(Output::TypeCheck(report)).await;
        self.results.send_replace(Some(Finished { id: done.id, errors }));
    }
}

/// The report of a finished check: each error positioned in the app (a problem of the whole
/// program, such as a missing `types` entry, at node/tsconfig.json), and how it compares with
/// the check before.
fn build_report(done: &Checked, typescript: String, last_errors: Option<bool>, strict: bool) -> TypeCheckReport {
    let errors: Vec<TypeError> = done
        .diagnostics
        .iter()
        .map(|d| {
            let file = PathBuf::from(d.file.as_deref().unwrap_or("node/tsconfig.json"));
            let (line, column) = (d.line.unwrap_or(1), d.column.unwrap_or(1));
            TypeError { code: d.code, at: Diagnostic::at_line_col(&file, None, line, column, d.message.clone()) }
        })
        .collect();
    let outcome = match (errors.is_empty(), last_errors) {
        (false, _) => TypeCheckOutcome::Errors,
        (true, Some(true)) => TypeCheckOutcome::CleanAgain,
        (true, _) => TypeCheckOutcome::Clean,
    };
    TypeCheckReport {
        refused: strict && !errors.is_empty(),
        errors,
        outcome,
        typescript,
        files: done.files,
        elapsed_ms: done.elapsed_ms,
        first: last_errors.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::checker::WireDiagnostic;

    fn checked(diagnostics: Vec<WireDiagnostic>) -> Checked {
        Checked { id: 1, diagnostics, elapsed_ms: 12.5, files: 3, checked: 1, notes: vec![] }
    }

    fn ts2322() -> WireDiagnostic {
        WireDiagnostic {
            code: 2322,
            message: "Type 'string' is not assignable to type 'number'.".into(),
            file: Some("node/index.ts".into()),
            line: Some(5),
            column: Some(7),
        }
    }

    #[test]
    fn errors_are_positioned_with_their_code_and_summed_up() {
        let report = build_report(&checked(vec![ts2322(), ts2322()]), "3.9.7".into(), None, false);
        assert_eq!(report.outcome, TypeCheckOutcome::Errors);
        let (lines, summary) = report.lines();
        assert_eq!(
            lines[0].to_string(),
            "node/index.ts:5:7: type error TS2322: Type 'string' is not assignable to type 'number'."
        );
        let (level, summary) = summary.unwrap();
        assert_eq!(level, Level::Warn);
        assert!(
            summary.starts_with("2 type errors; the app runs the last build anyway (TypeScript 3.9.7"),
            "{summary}"
        );
        let strict = build_report(&checked(vec![ts2322()]), "3.9.7".into(), None, true);
        assert!(strict.refused);
        assert!(strict.lines().1.unwrap().1.starts_with("1 type error; --strict-types refuses the build"));
    }

    #[test]
    fn a_clean_check_says_so_first_and_after_errors_only() {
        let first = build_report(&checked(vec![]), "5.5.3".into(), None, false);
        assert!(first.lines().1.unwrap().1.starts_with("types are clean (TypeScript 5.5.3"));
        let again = build_report(&checked(vec![]), "5.5.3".into(), Some(true), false);
        assert_eq!(again.outcome, TypeCheckOutcome::CleanAgain);
        assert!(again.lines().1.unwrap().1.starts_with("types are clean again"));
        let quiet = build_report(&checked(vec![]), "5.5.3".into(), Some(false), false);
        assert_eq!((quiet.outcome, quiet.lines().1), (TypeCheckOutcome::Clean, None));
    }

    #[test]
    fn a_problem_of_the_whole_program_is_placed_at_the_tsconfig() {
        let missing = WireDiagnostic {
            code: 2688,
            message: "Cannot find type definition file for 'jest'.".into(),
            file: None,
            line: None,
            column: None,
        };
        let report = build_report(&checked(vec![missing]), "3.9.7".into(), None, false);
        assert_eq!(
            report.errors[0].at.to_string(),
            "node/tsconfig.json:1:1: Cannot find type definition file for 'jest'."
        );
        let json = serde_json::to_value(crate::protocol::stream::LinkRecord::Typecheck(report)).unwrap();
        assert_eq!(json["type"], "typecheck");
        assert_eq!(json["errors"][0]["code"], 2688);
        assert_eq!(json["errors"][0]["file"], "node/tsconfig.json");
        assert_eq!(json["outcome"], "errors");
    }
}
