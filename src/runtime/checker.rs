//! The type checker's Node process (src/runtime/typecheck/checker.js) and the NDJSON messages
//! it exchanges with the session: `check` requests in, `ready` / `done` / `cancelled` /
//! `failed` answers out.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::TypeChecker;

/// The checker's niceness: below the session, the relink and the app's processes.
const CHECKER_NICE: libc::c_int = 10;

/// How long the checker may take to load TypeScript and say `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the session asks: check the app as it is on disk now (`id`: the build's number).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    Check { id: u64 },
}

/// What the checker answers, one a line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Answer {
    /// Loaded: the TypeScript version, and whether it is the app's own (node/node_modules).
    Ready { typescript: String, own: bool },
    /// A check finished.
    Done(Checked),
    /// A newer request came before check `id` finished: it stopped.
    Cancelled { id: u64 },
    /// Check `id` threw (TypeScript's own failure); `id` is null for an unreadable request.
    Failed { id: Option<u64>, message: String },
    /// The checker cannot run (TypeScript did not load).
    Fatal { message: String },
}

/// A finished check: the app's type errors, its own files' count, how many files were checked
/// again (the rest kept their earlier results), and notes (no tsconfig.json, ...).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Checked {
    pub id: u64,
    pub diagnostics: Vec<WireDiagnostic>,
    pub elapsed_ms: f64,
    pub files: usize,
    pub checked: usize,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One of TypeScript's diagnostics: its code (2322), the file relative to the app root and a
/// 1-based line and column (none for a problem of the whole program, e.g. a missing `types` entry).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireDiagnostic {
    pub code: u32,
    pub message: String,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub line: Option<usize>,
    #[serde(default)]
    pub column: Option<usize>,
}

/// A running checker: its stdin for requests, its stdout for answers. Dropping it kills the
/// process (its own process group, so the terminal's Ctrl-C reaches ioctl only).
pub struct CheckerProcess {
    _child: Child,
    stdin: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
    /// The TypeScript version checking, as `ready` said it (`5.5.3`, or `5.4.5 (the app's own)`).
    pub typescript: String,
}

impl CheckerProcess {
    /// Starts the checker for the app at `app_root` with `typescript` (a package folder; the
    /// app's own node/node_modules/typescript wins) and waits for its `ready`.
    pub async fn start(
        node: &Path,
        installed: &TypeChecker,
        app_root: &Path,
        typescript: PathBuf,
    ) -> anyhow::Result<Self> {
        let config = serde_json::json!({
            "app_root": app_root,
            "typescript": typescript,
            "modules": installed.modules,
        });
        let mut command = Command::new(node);
        command
            .arg(&installed.checker_js)
            .arg(config.to_string())
            .current_dir(app_root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // Background work: at nice 10 (set before exec, so every thread Node starts has it),
        // a check never takes the CPU from a relink or the app's own processes on a busy machine.
        // SAFETY: between fork and exec the closure only makes the `nice` system call, which
        // is async-signal-safe; its result is ignored (a failed nice leaves the priority as is).
        unsafe {
            command.pre_exec(|| {
                let _ = libc::nice(CHECKER_NICE);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start Node.js ({}) for the type checker", node.display()))?;
        let stdin = child.stdin.take().context("the type checker's stdin")?;
        let mut answers = BufReader::new(child.stdout.take().context("the type checker's stdout")?).lines();
        if let Some(stderr) = child.stderr.take() {
            // Its stderr is Node's own (an uncaught error): the session log keeps it. The task
            // ends with the process (killed when the CheckerProcess drops), its stderr closing.
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(line, "type checker stderr");
                }
            });
        }
        let first = tokio::time::timeout(READY_TIMEOUT, next(&mut answers)).await;
        let typescript = match first {
            Ok(Ok(Some(Answer::Ready { typescript, own }))) => {
                if own {
                    format!("{typescript} (the app's own)")
                } else {
                    typescript
                }
            }
            Ok(Ok(Some(Answer::Fatal { message }))) => bail!("{message}"),
            Ok(Ok(other)) => bail!("the type checker did not start: it said {other:?}"),
            Ok(Err(e)) => return Err(e),
            Err(_) => bail!("the type checker did not start within {} s", READY_TIMEOUT.as_secs()),
        };
        Ok(CheckerProcess { _child: child, stdin, answers, typescript })
    }

    /// Asks for a check of the app as it is now; a check still running stops.
    pub async fn ask(&mut self, id: u64) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(&Request::Check { id })?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.context("the type checker's stdin")?;
        self.stdin.flush().await.context("the type checker's stdin")
    }

    /// The next answer; `None` when the process has ended.
    pub async fn next(&mut self) -> anyhow::Result<Option<Answer>> {
        next(&mut self.answers).await
    }
}

/// The next answer line, skipping none: a line that is not an answer is an error (the checker
/// and the session disagree on the protocol).
async fn next(answers: &mut Lines<BufReader<ChildStdout>>) -> anyhow::Result<Option<Answer>> {
    let Some(line) = answers.next_line().await.context("the type checker's stdout")? else {
        return Ok(None);
    };
    serde_json::from_str(&line).with_context(|| format!("the type checker said `{}`", crate::app::clip(&line, 200)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checker's answers as checker.js writes them.
    #[test]
    fn answers_read_as_the_checker_writes_them() {
        let done = r#"{"type":"done","id":2,"diagnostics":[{"code":2322,"category":"error","message":"Type 'string' is not assignable to type 'number'.","file":"node/index.ts","line":55,"column":7},{"code":2688,"category":"error","message":"Cannot find type definition file for 'jest'."}],"elapsed_ms":350.5,"files":3,"checked":1,"notes":[]}"#;
        let Answer::Done(c) = serde_json::from_str(done).unwrap() else { panic!() };
        assert_eq!((c.id, c.files, c.checked, c.diagnostics.len()), (2, 3, 1, 2));
        assert_eq!(c.diagnostics[0].file.as_deref(), Some("node/index.ts"));
        assert_eq!((c.diagnostics[0].line, c.diagnostics[0].column, c.diagnostics[0].code), (Some(55), Some(7), 2322));
        assert_eq!(c.diagnostics[1].file, None);
        let ready: Answer = serde_json::from_str(r#"{"type":"ready","typescript":"3.9.7","own":false}"#).unwrap();
        assert_eq!(ready, Answer::Ready { typescript: "3.9.7".into(), own: false });
        let cancelled: Answer = serde_json::from_str(r#"{"type":"cancelled","id":3}"#).unwrap();
        assert_eq!(cancelled, Answer::Cancelled { id: 3 });
        let failed: Answer = serde_json::from_str(r#"{"type":"failed","id":null,"message":"not JSON"}"#).unwrap();
        assert_eq!(failed, Answer::Failed { id: None, message: "not JSON".into() });
        assert_eq!(serde_json::to_string(&Request::Check { id: 7 }).unwrap(), r#"{"type":"check","id":7}"#);
    }
}
