//! `GET /_ioctl/api/overview`: the workspace's linked apps as the dashboard's overview shows
//! them (process state, pid and memory, restarts, last relink, subscriptions, routes, GraphQL,
//! settings), from the [`Board`] each linked app keeps current, with the workspace's counts.
//! Memory is read from /proc when the overview is asked for, never on a timer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::lock::Locked;
use crate::protocol::dashboard::{AppOverview, AppState, Overview};
use crate::session::state::Session;

pub fn routes() -> Router<Arc<Session>> {
    Router::new().route("/_ioctl/api/overview", get(overview))
}

async fn overview(State(s): State<Arc<Session>>) -> Response {
    let mut apps = s.journal().board().list();
    for app in &mut apps {
        app.rss_bytes = app.pid.and_then(rss_bytes);
    }
    let scope = s.scope();
    super::activity::json(&Overview {
        account: scope.account.clone(),
        workspace: scope.workspace.clone(),
        url: s.url().to_string(),
        counts: s.counts(),
        apps,
    })
}

/// The resident memory of process `pid` (VmRSS of /proc/PID/status), on Linux.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The linked apps as the overview shows them, by link id; each linked app updates its own
/// entry (through the journal, which tells the pages).
#[derive(Default)]
pub struct Board {
    apps: Mutex<BTreeMap<u64, AppOverview>>,
}

impl Board {
    /// Changes link `link`'s entry (made, as `starting`, if it has none).
    pub fn update(&self, link: u64, id: &str, change: impl FnOnce(&mut AppOverview)) {
        let mut apps = self.apps.locked();
        let app = apps.entry(link).or_insert_with(|| AppOverview {
            id: id.to_string(),
            link,
            state: AppState::Starting,
            pid: None,
            rss_bytes: None,
            restarts: 0,
            relink: None,
            events: Vec::new(),
            routes: Vec::new(),
            graphql: None,
            settings: false,
        });
        app.id = id.to_string();
        change(app);
    }

    pub fn remove(&self, link: u64) {
        self.apps.locked().remove(&link);
    }

    /// Every linked app, by link id.
    pub fn list(&self) -> Vec<AppOverview> {
        self.apps.locked().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_size() {
        let rss = rss_bytes(std::process::id()).expect("/proc/self/status has VmRSS on Linux");
        assert!(rss > 1 << 20, "{rss}");
        assert_eq!(rss_bytes(u32::MAX), None);
    }

    #[test]
    fn an_entry_is_made_on_first_update_and_removed() {
        let board = Board::default();
        board.update(2, "v.a@1.0.0", |a| a.state = AppState::Running);
        board.update(1, "v.b@1.0.0", |a| a.restarts += 1);
        let apps = board.list();
        assert_eq!(
            apps.iter().map(|a| (a.link, a.state)).collect::<Vec<_>>(),
            [(1, AppState::Starting), (2, AppState::Running)]
        );
        assert_eq!(apps[0].restarts, 1);
        board.remove(1);
        assert_eq!(board.list().len(), 1);
    }
}
