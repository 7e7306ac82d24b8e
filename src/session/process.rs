//! What a linked app needs of its Node processes ([`Process`], and [`Processes`] to start
//! them), and the real ones: a [`Worker`] per version, cold or from a warm standby host. A
//! trait, as delivery's [`Target`] is, so that linked_app's relink / restart decisions are
//! tested with a fake process, without Node.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::delivery::Target;
use crate::failure::Failure;
use crate::runtime::{self, Host, Installed, Loaded, Spec, Worker};
use crate::terminal::Terminal;

/// How long a start waits for a standby that is still starting before it starts cold.
const SPARE_WAIT: Duration = Duration::from_secs(5);

/// The app's live process, `None` while no version runs. The linked app replaces it (relink,
/// restart, unlink); the dispatcher and the routes hold receivers and use whichever is live.
pub type Live<P> = watch::Sender<Option<Arc<P>>>;

/// One process running one version of the app: where its deliveries run ([`Target`]), what
/// it loaded, and how the linked app learns that it exited and ends it.
pub trait Process: Target {
    /// What the app's Service declares, as this process loaded it.
    fn loaded(&self) -> &Loaded;
    /// The OS process id (the dashboard reads its memory); a test's fake has none.
    fn pid(&self) -> Option<u32> {
        None
    }
    /// Resolves once the process has exited (a crash, or a stop).
    fn exited(&self) -> impl Future<Output = ()> + Send;
    /// Why it exited (`None` while it runs).
    fn exit_reason(&self) -> Option<String>;
    /// Waits (up to `limit`) until no attempt runs in it, so a replaced version finishes its
    /// work before it is stopped.
    fn drain(&self, limit: Duration) -> impl Future<Output = ()> + Send;
    /// Asks it to exit, and kills it if it does not within `grace`.
    fn stop(&self, grace: Duration) -> impl Future<Output = ()> + Send;
    /// Whichever process `live` holds, as the session's routes reach it (over a [`Worker`]'s
    /// routes socket). A process that serves no routes (a test's fake) gives a receiver that
    /// never holds one: its routes answer as an app's that is not running.
    fn served(live: &Live<Self>) -> watch::Receiver<Option<Arc<Worker>>>
    where
        Self: Sized;
}

/// What a standby host preloads.
pub enum Preloads {
    /// What the live version required (its [`Loaded::preload`]).
    Live(Vec<String>),
    /// No version has loaded yet (the first build failed): what the runtime knows an app
    /// with routes, or with GraphQL, needs.
    Parts { routes: bool, graphql: bool },
}

/// Where a linked app's processes come from: started on the app's latest build, from a warm
/// standby when one is ready.
pub trait Processes: Send + Sync + 'static {
    type Process: Process;
    /// Starts a process with the built app loaded (or says why it did not load).
    fn start(&self, spec: &Spec, terminal: &Terminal) -> impl Future<Output = Result<Self::Process, Failure>> + Send;
    /// Prepares a standby for the next start, in the background on `tracker`, unless one is
    /// ready or being prepared.
    fn prepare_spare(&self, spec: &Spec, terminal: &Terminal, preload: Preloads, tracker: &TaskTracker);
    /// Ends the standby, if there is one (the app is unlinked).
    fn drop_spare(&self) -> impl Future<Output = ()> + Send;
}

impl Process for Worker {
    fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    fn pid(&self) -> Option<u32> {
        Worker::pid(self)
    }

    async fn exited(&self) {
        Worker::exited(self).await
    }

    fn exit_reason(&self) -> Option<String> {
        Worker::exit_reason(self)
    }

    async fn drain(&self, limit: Duration) {
        Worker::drain(self, limit).await
    }

    async fn stop(&self, grace: Duration) {
        Worker::stop(self, grace).await
    }

    fn served(live: &Live<Worker>) -> watch::Receiver<Option<Arc<Worker>>> {
        live.subscribe()
    }
}

/// Node processes for one linked app: [`Worker`]s on the installed runtime, and the warm
/// standby [`Host`] for the next relink (filled in the background after each link), so a
/// relink loads the new build without paying for a process start.
pub struct NodeProcesses {
    runtime: Installed,
    /// Locked while a standby is being prepared: a start waits for it (up to [`SPARE_WAIT`]).
    spare: Arc<tokio::sync::Mutex<Option<Host>>>,
}

impl NodeProcesses {
    pub fn new(runtime: Installed) -> NodeProcesses {
        NodeProcesses { runtime, spare: Arc::default() }
    }
}

impl Processes for NodeProcesses {
    type Process = Worker;

    async fn start(&self, spec: &Spec, terminal: &Terminal) -> Result<Worker, Failure> {
        // A warm standby when one is ready, else (or if it turns out dead) a cold start.
        // A standby still starting is worth waiting for: it began before this save, so it is
        // ready sooner than a cold start would be. One whose preloaded dependencies changed on
        // disk (npm install) is dropped.
        let deps = runtime::DepsState::read(&spec.node_dir);
        let spare = match tokio::time::timeout(SPARE_WAIT, self.spare.lock()).await {
            Ok(mut slot) => slot.take().filter(|h| h.deps_current(&deps)),
            Err(_) => None,
        };
        match spare {
            Some(host) => match host.load(spec, terminal.clone()).await {
                Err(Failure::Internal(_)) => Worker::start(spec, &self.runtime, terminal.clone()).await,
                done => done,
            },
            None => Worker::start(spec, &self.runtime, terminal.clone()).await,
        }
    }

    fn prepare_spare(&self, spec: &Spec, terminal: &Terminal, preload: Preloads, tracker: &TaskTracker) {
        // Taken here, not in the task: a start right after this waits for this standby.
        let Ok(mut held) = self.spare.clone().try_lock_owned() else {
            return; // one is being prepared
        };
        let (spec, installed, terminal) = (spec.clone(), self.runtime.clone(), terminal.clone());
        let files = match preload {
            Preloads::Live(files) => files,
            Preloads::Parts { routes, graphql } => self.runtime.parts_for(routes, graphql),
        };
        tracker.spawn(async move {
            let deps = runtime::DepsState::read(&spec.node_dir);
            if held.as_mut().is_some_and(|h| h.alive() && h.deps_current(&deps)) {
                return;
            }
            let preload = runtime::Preload { files, deps };
            // A failed standby is not worth reporting: the next relink starts cold and says why.
            *held = Host::spawn(&spec, &installed, &terminal, Some(&preload)).await.ok();
        });
    }

    async fn drop_spare(&self) {
        drop(self.spare.lock().await.take());
    }
}
