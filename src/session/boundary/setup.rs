//! The answerers of one linked app, from its link's `--fixtures` and `--cloud` options: built
//! when it links (what was loaded is said in its terminal), the fixtures read again whenever
//! a file in their folders changes, until the app's services stop.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cloud::{Cloud, Limits};
use super::fixtures::{Fixtures, Report};
use super::Answerer;
use crate::protocol::stream::{Level, Output};
use crate::protocol::{BoundaryOptions, Scope};
use crate::session::watch as fswatch;
use crate::terminal::Terminal;

/// A linked app's fixtures and cloud, in the order the boundary asks them.
#[derive(Default, Clone)]
pub struct Answerers {
    fixtures: Option<Arc<Fixtures>>,
    cloud: Option<Arc<Cloud>>,
}

impl Answerers {
    /// Fixtures, then the cloud (the resolver asks them after linked apps and local services).
    pub fn list(&self) -> Vec<Arc<dyn Answerer>> {
        let fixtures = self.fixtures.clone().map(|f| f as Arc<dyn Answerer>);
        let cloud = self.cloud.clone().map(|c| c as Arc<dyn Answerer>);
        fixtures.into_iter().chain(cloud).collect()
    }

    /// Whether `path` is in a fixture folder: a save there reloads the fixtures, not the app.
    pub fn owns(&self, path: &Path) -> bool {
        self.fixtures.as_ref().is_some_and(|f| f.owns(path))
    }

    pub fn fixtures(&self) -> Option<&Arc<Fixtures>> {
        self.fixtures.as_ref()
    }

    pub fn cloud(&self) -> Option<&Arc<Cloud>> {
        self.cloud.as_ref()
    }
}

/// Loads the app's fixtures and sets up its cloud, saying what it found on `terminal`. With
/// `watch` (a tracker and the signal that ends its tasks: the app's services), the fixture
/// folders are watched and read again on each change, as the app's code is (not with
/// `--no-watch`).
pub async fn start(
    options: &BoundaryOptions,
    scope: &Scope,
    root: &Path,
    terminal: &Terminal,
    watch_on: Option<(&TaskTracker, CancellationToken)>,
) -> Answerers {
    let mut answerers = Answerers::default();
    if !options.fixtures.is_empty() {
        let (dirs, root_dir, scope) = (options.fixtures.clone(), root.to_path_buf(), scope.clone());
        let loaded = tokio::task::spawn_blocking(move || Fixtures::load(dirs, &root_dir, scope)).await;
        match loaded {
            Ok((fixtures, report)) => {
                let shown: Vec<String> = fixtures.dirs().iter().map(|d| shown(d, root)).collect();
                say(terminal, &report, format!("fixtures: {} in {}", report.summary(), shown.join(", "))).await;
                let fixtures = Arc::new(fixtures);
                if let Some((tracker, stop)) = watch_on {
                    watch(fixtures.clone(), terminal.clone(), tracker, stop);
                }
                answerers.fixtures = Some(fixtures);
            }
            Err(e) => terminal.status(Level::Error, format!("fixtures: cannot load them: {e}")).await,
        }
    }
    if let Some(cloud) = &options.cloud {
        match Cloud::new(cloud, scope.clone(), terminal.clone(), Limits::default()) {
            Ok(c) => {
                terminal.info(c.describe()).await;
                if let Some(warning) = cleartext_warning(cloud.base_url.as_deref()) {
                    terminal.status(Level::Warn, warning).await;
                }
                answerers.cloud = Some(Arc::new(c));
            }
            Err(e) => terminal.status(Level::Error, format!("--cloud: {e:#}; calls will not reach VTEX")).await,
        }
    }
    answerers
}

/// The diagnostics of a load, then its summary line.
async fn say(terminal: &Terminal, report: &Report, line: String) {
    for (level, diagnostic) in &report.diagnostics {
        terminal.send(Output::Diagnostic { level: *level, diagnostic: diagnostic.clone() }).await;
    }
    let level = if report.bad_files > 0 { Level::Warn } else { Level::Info };
    terminal.status(level, line).await;
}

/// Reloads the fixtures after each batch of changes to a `.json` file in their folders.
fn watch(fixtures: Arc<Fixtures>, terminal: Terminal, tracker: &TaskTracker, stop: CancellationToken) {
    // One pending reload at most: changes while one is pending are covered by it.
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watches = Vec::new();
    for dir in fixtures.dirs() {
        let (w, mut batches) = match fswatch::start(dir) {
            Ok(w) => w,
            Err(e) => {
                let (terminal, line) = (terminal.clone(), format!("fixtures: {e:#}; not reloaded on save"));
                tracker.spawn(async move { terminal.status(Level::Warn, line).await });
                continue;
            }
        };
        watches.push(w);
        let (tx, stop) = (tx.clone(), stop.clone());
        tracker.spawn(async move {
            loop {
                let batch = tokio::select! {
                    b = batches.recv() => b,
                    _ = stop.cancelled() => None,
                };
                let Some(batch) = batch else { break };
                if batch.iter().any(|c| c.path.extension().is_some_and(|x| x == "json")) {
                    let _ = tx.try_send(());
                }
            }
        });
    }
    drop(tx);
    tracker.spawn(async move {
        // The watches live as long as this task: dropping them stops watching.
        let _watches = watches;
        loop {
            let changed = tokio::select! {
                c = rx.recv() => c,
                _ = stop.cancelled() => None,
            };
            if changed.is_none() {
                break;
            }
            let f = fixtures.clone();
            let Ok(report) = tokio::task::spawn_blocking(move || f.reload()).await else { break };
            say(&terminal, &report, format!("fixtures reloaded: {}", report.summary())).await;
        }
    });
}

/// A folder as the link shows it: relative to the app folder when inside it.
fn shown(dir: &Path, root: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => format!("{}/", rel.display()),
        Err(_) => format!("{}/", dir.display()),
    }
}

/// `IOCTL_CLOUD_URL` in plain http to another machine: the credentials would cross the network
/// unencrypted.
fn cleartext_warning(base_url: Option<&str>) -> Option<String> {
    let uri: hyper::Uri = base_url?.parse().ok()?;
    let host = uri.host()?;
    let loopback = host == "localhost"
        || host.trim_matches(|c| c == '[' || c == ']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (uri.scheme_str() == Some("http") && !loopback)
        .then(|| format!("IOCTL_CLOUD_URL is plain http to {host}: your VTEX credentials travel to it unencrypted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_away_from_this_machine_is_warned_about() {
        assert!(cleartext_warning(Some("http://proxy.corp:3128")).unwrap().contains("proxy.corp"));
        for quiet in [
            None,
            Some("http://127.0.0.1:9"),
            Some("http://localhost:1"),
            Some("http://[::1]:2"),
            Some("https://proxy.corp"),
        ] {
            assert!(cleartext_warning(quiet).is_none(), "{quiet:?}");
        }
    }

    #[tokio::test]
    async fn a_saved_fixture_file_is_reloaded_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let fx = root.join("fixtures");
        std::fs::create_dir(&fx).unwrap();
        std::fs::write(fx.join("a.json"), r#"{"request": {"url": "https://api.vtex.com/a"}, "response": {"body": 1}}"#)
            .unwrap();
        let options = BoundaryOptions { fixtures: vec![fx.clone()], cloud: None };
        let scope = Scope { account: "acme".into(), workspace: "dev".into() };
        let (terminal, mut out) = Terminal::channel();
        let (tracker, stop) = (TaskTracker::new(), CancellationToken::new());
        let answerers = start(&options, &scope, &root, &terminal, Some((&tracker, stop.clone()))).await;
        let line = |o: Output| match o {
            Output::Log { message, .. } => message,
            Output::Diagnostic { diagnostic, .. } => diagnostic.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(line(out.recv().await.unwrap()), "fixtures: 1 entry from 1 file in fixtures/");
        assert_eq!(answerers.list().len(), 1);
        assert!(answerers.owns(&fx.join("b.json")) && !answerers.owns(&root.join("node/index.ts")));

        std::fs::write(fx.join("b.json"), "{\"request\": {\"url\": 1}}").unwrap();
        let deadline = std::time::Duration::from_secs(10);
        let first = tokio::time::timeout(deadline, out.recv()).await.unwrap().unwrap();
        assert!(line(first).starts_with("fixtures/b.json:1:21: invalid type: integer `1`, expected a string"));
        let summary = tokio::time::timeout(deadline, out.recv()).await.unwrap().unwrap();
        assert_eq!(line(summary), "fixtures reloaded: 1 entry from 1 file (1 file with errors, see above)");
        stop.cancel();
        tracker.close();
        tokio::time::timeout(deadline, tracker.wait()).await.expect("the watching tasks end with the app's services");
    }
}
