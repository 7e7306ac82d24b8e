//! What a linked app may do to its session, and nothing more: the narrow context the
//! session builds for each link ([`super::state::Session::link`]). A linked app publishes on
//! the bus and records dead letters, serves its routes, uses the workspace's store, gets its
//! boundary (its outbound calls), logs the IDE in, and says when its manifest renamed it; it
//! never sees the other apps or the session's own switches. Also how a link is asked to end
//! ([`Unlink`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::boundary::{self, calls::Feed, Boundary};
use super::bus::Bus;
use super::dashboard::journal::Journal;
use super::delivery::DeadLetters;
use super::gateway::Gateway;
use super::ide::Ide;
use super::routes::{self, Route};
use crate::protocol::dashboard::AppOverview;
use crate::protocol::{Counts, Scope};
use crate::terminal::Terminal;

/// Where the session runs, for the app's processes and banner.
pub struct Place {
    pub scope: Scope,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The session's control token (in its record; never handed to an app's process).
    pub token: String,
    /// `$IOCTL_HOME`.
    pub home: PathBuf,
    /// Node.js.
    pub node: PathBuf,
    /// The private folder for the hosts' sockets.
    pub sockets: PathBuf,
    /// The session's record (the banner says where the token is).
    pub record: PathBuf,
}

/// The sample sender, as an app's banner speaks of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleSender {
    /// `--no-sample-sender`.
    Off,
    /// Waiting for its healthcheck, or firing.
    On,
    /// The real vtex.events-example is linked: the sample sender keeps quiet.
    Muted,
}

/// A linked app's handle on its session.
pub struct AppContext {
    place: Arc<Place>,
    bus: Arc<Bus>,
    dead: Arc<DeadLetters>,
    store: Arc<crate::store::Store>,
    routes: Arc<routes::Table>,
    gateway: Gateway,
    calls: Arc<Feed>,
    ide: Arc<Ide>,
    journal: Arc<Journal>,
    cluster: Option<Arc<super::cluster::Cluster>>,
    link: u64,
    sample_sender: Arc<dyn Fn() -> SampleSender + Send + Sync>,
    renamed: Arc<dyn Fn(&Path) + Send + Sync>,
}

/// The parts of an [`AppContext`], as the session hands them over.
pub struct Parts {
    pub place: Arc<Place>,
    pub bus: Arc<Bus>,
    pub dead: Arc<DeadLetters>,
    pub store: Arc<crate::store::Store>,
    pub routes: Arc<routes::Table>,
    /// The way into the apps' routes (an app's calls to another linked app go through it).
    pub gateway: Gateway,
    /// The session's calls feed (`ioctl calls tail`).
    pub calls: Arc<Feed>,
    pub ide: Arc<Ide>,
    /// The session's history (the app's log lines, its entry in the overview).
    pub journal: Arc<Journal>,
    /// The team workspace the session joined (`--cluster`): the app's events come from there.
    pub cluster: Option<Arc<super::cluster::Cluster>>,
    /// The session's id of this link.
    pub link: u64,
    /// The sample sender's state now.
    pub sample_sender: Arc<dyn Fn() -> SampleSender + Send + Sync>,
    /// Called with the app's folder when its manifest.json gave it another id.
    pub renamed: Arc<dyn Fn(&Path) + Send + Sync>,
}

impl AppContext {
    pub fn new(p: Parts) -> AppContext {
        AppContext {
            place: p.place,
            bus: p.bus,
            dead: p.dead,
            store: p.store,
            routes: p.routes,
            gateway: p.gateway,
            calls: p.calls,
            ide: p.ide,
            journal: p.journal,
            cluster: p.cluster,
            link: p.link,
            sample_sender: p.sample_sender,
            renamed: p.renamed,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.place.scope
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    /// The session's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.place.url
    }

    /// The session's bus: the app subscribes its handlers and publishes its events there.
    pub fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    /// The way into the apps' routes (this machine's, and the team workspace's).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The team workspace the session joined, if any.
    pub fn cluster(&self) -> Option<&Arc<super::cluster::Cluster>> {
        self.cluster.as_ref()
    }

    /// The workspace's counts (every app's deliveries).
    pub fn counts(&self) -> Counts {
        self.bus.counts()
    }

    /// Where the app's failed deliveries go.
    pub fn dead_letters(&self) -> &Arc<DeadLetters> {
        &self.dead
    }

    /// The workspace's settings, VBase and Master Data.
    pub fn store(&self) -> &Arc<crate::store::Store> {
        &self.store
    }

    /// The boundary of the app `app` (`vendor.name@version`): its outbound calls answered by a
    /// linked app, a local service or nothing, each logged to `terminal` and the calls feed.
    pub fn boundary(&self, app: String, terminal: Terminal) -> Boundary {
        let local = boundary::local::Local {
            scope: self.place.scope.clone(),
            identity: self.gateway.identity().clone(),
            store: self.store.clone(),
        };
        let log = boundary::calls::Log::new(app, terminal, self.calls.clone());
        Boundary::new(self.place.scope.clone(), self.gateway.clone(), local, log)
    }

    /// Replaces the routes `app` serves (none at unlink).
    pub fn set_routes(&self, app: &str, routes: Vec<Route>) {
        self.routes.set(app, routes);
    }

    /// The session's history.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Changes this app's entry in the dashboard's overview (`id`: `vendor.name@version`).
    pub fn overview(&self, id: &str, change: impl FnOnce(&mut AppOverview)) {
        self.journal.app(self.link, id, change);
    }

    /// The GraphQL IDE: its packages, once installed, and a fresh one-time login.
    pub fn ide(&self) -> &Ide {
        &self.ide
    }

    pub fn sample_sender(&self) -> SampleSender {
        (self.sample_sender)()
    }

    /// The app's manifest.json gave it another id.
    pub fn renamed(&self, root: &Path) {
        (self.renamed)(root)
    }
}

/// How a link is asked to end. The session holds one per link; the link command's `DELETE`
/// (and its stream going away) request it. `graceful` lets running handlers finish, bounded;
/// `force` (a second Ctrl-C) ends the app's Node processes at once, even in the middle of a
/// graceful stop.
#[derive(Clone, Default)]
pub struct Unlink {
    graceful: CancellationToken,
    force: CancellationToken,
}

impl Unlink {
    /// Asks the link to end; `force` does not wait for running handlers.
    pub fn request(&self, force: bool) {
        self.graceful.cancel();
        if force {
            self.force.cancel();
        }
    }

    /// A guard that asks for a graceful unlink when dropped (the link's output stream).
    pub fn drop_guard(&self) -> tokio_util::sync::DropGuard {
        self.graceful.clone().drop_guard()
    }

    /// Resolves when an unlink (graceful or forced) was asked for.
    pub async fn requested(&self) {
        self.graceful.cancelled().await
    }

    /// The forced stop's signal.
    pub fn force(&self) -> &CancellationToken {
        &self.force
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_forced_unlink_is_also_a_requested_one() {
        let u = Unlink::default();
        assert!(!u.force().is_cancelled());
        u.request(true);
        u.requested().await;
        assert!(u.force().is_cancelled());
        let graceful = Unlink::default();
        drop(graceful.drop_guard());
        graceful.requested().await;
        assert!(!graceful.force().is_cancelled(), "a dropped stream is a graceful unlink");
    }
}
