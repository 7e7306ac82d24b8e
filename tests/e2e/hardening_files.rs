//! End to end, issue 20 items 4 and 14: ioctl's files. Links planted in `$IOCTL_HOME` are
//! refused, not followed out of it; builds and the runtime cache are private; the hosts'
//! sockets go when the session does; a session whose folder was removed says so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 10,
  "routes": { "hello": { "path": "/_v/hello", "public": true } }
}"#;

const INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'

export default new Service({
  clients: { implementation: IOClients, options: {} },
  routes: { hello: async (ctx: any) => { ctx.body = 'hello' } },
})
"#;

/// An app with one public route, `/_v/hello`.
fn routed_app(env: &Env) -> PathBuf {
    env.app("app", &[("node/service.json", SERVICE), ("node/index.ts", INDEX)])
}

/// `ioctl link APP --json --no-watch --no-sample-sender`, with the hosts' sockets under
/// `$IOCTL_HOME/run` (no `XDG_RUNTIME_DIR`) and `extra` variables set.
fn link_command(env: &Env, app: &Path, extra: &[(&str, &Path)]) -> Command {
    let mut command = env.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    command.env_remove("XDG_RUNTIME_DIR");
    for (k, v) in extra {
        command.env(k, v);
    }
    command
}

/// Runs a link that must be refused: (exit code, everything it printed).
fn refused_link(env: &Env, app: &Path) -> (i32, String) {
    let mut link = Running::from_command(link_command(env, app, &[]));
    link.wait_line("the link to be refused", |l| l.contains("is a symlink") || l.contains("\"type\":\"ready\""));
    let code = link.wait_exit();
    (code, link.seen.join("\n"))
}

const REFUSAL: &str = "is a symlink; ioctl does not follow links out of its folders; remove it";

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

/// Every folder and file under `dir` (links are listed, not followed).
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(e.path());
        if e.file_type().unwrap().is_dir() {
            out.extend(tree(&e.path()));
        }
    }
    out
}

/// A folder outside `$IOCTL_HOME` that a planted link points at, 0755 with one file.
fn victim(env: &Env) -> PathBuf {
    let victim = env.dir.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "mine").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    victim
}

fn assert_untouched(victim: &Path) {
    assert_eq!(mode(victim), 0o755, "{} was chmodded", victim.display());
    let names: Vec<_> = tree(victim).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["keep.txt"], "{} was written into", victim.display());
}

fn plant(link: &Path, target: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn a_session_log_link_is_refused_and_its_target_not_written() {
    let env = Env::new();
    let app = routed_app(&env);
    let target = env.dir.path().join("elsewhere.log");
    plant(&env.home().join("sessions/local/dev.log"), &target);
    let (code, out) = refused_link(&env, &app);
    assert!(out.contains(&format!("sessions/local/dev.log: {REFUSAL}")), "{out}");
    assert_eq!(code, 1, "{out}");
    assert!(!target.exists(), "the session log was written at the link's target");
}

#[test]
fn a_database_link_is_refused_and_its_target_not_created() {
    let env = Env::new();
    let target = env.dir.path().join("elsewhere.sqlite");
    plant(&env.home().join("data/local/dev.sqlite"), &target);
    let out = env.run(&["vbase", "put", "vtex.app", "b", "p.json", "--data", "{}"]);
    assert!(stderr(&out).contains(&format!("data/local/dev.sqlite: {REFUSAL}")), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!target.exists(), "a database was created at the link's target");

    // SQLite's own files beside it are not followed either.
    let wal = env.dir.path().join("elsewhere.sqlite-wal");
    plant(&env.home().join("data/local/masterdata.sqlite-wal"), &wal);
    let out = env.run(&["masterdata", "search", "CL"]);
    assert!(stderr(&out).contains(&format!("data/local/masterdata.sqlite-wal: {REFUSAL}")), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!wal.exists(), "SQLite's log was created at the link's target");
}

#[test]
fn a_build_folder_link_is_refused_and_its_target_not_written() {
    let env = Env::new();
    let app = routed_app(&env);
    let victim = victim(&env);
    plant(&env.home().join("build/local/dev"), &victim);
    let (code, out) = refused_link(&env, &app);
    assert!(out.contains(&format!("build/local/dev: {REFUSAL}")), "{out}");
    assert_eq!(code, 1, "{out}");
    assert_untouched(&victim);
}

#[test]
fn a_sockets_folder_link_is_refused_before_anything_is_chmodded() {
    let env = Env::new();
    let app = routed_app(&env);
    let victim = victim(&env);
    plant(&env.home().join("run"), &victim);
    let (code, out) = refused_link(&env, &app);
    assert!(out.contains(&format!("run: {REFUSAL}")), "{out}");
    assert_eq!(code, 1, "{out}");
    assert_untouched(&victim);
}

/// Asserts folders 0700 and files 0600 (or 0700 where executable) under `dir`; the count.
fn assert_private(dir: &Path) -> usize {
    let entries = tree(dir);
    for p in &entries {
        let meta = std::fs::symlink_metadata(p).unwrap();
        if meta.is_dir() {
            assert_eq!(mode(p), 0o700, "{}", p.display());
        } else if meta.is_file() {
            assert!(matches!(mode(p), 0o600 | 0o700), "{} is {:o}", p.display(), mode(p));
        }
    }
    entries.len()
}

#[test]
fn builds_and_the_runtime_cache_are_private() {
    let env = Env::new();
    let app = routed_app(&env);
    // A cache of its own: the runtime's packages are installed (npm ci) by this link.
    let cache = env.dir.path().join("cache");
    let mut link = Running::from_command(link_command(&env, &app, &[("IOCTL_CACHE", &cache)]));
    link.wait_json("ready", |v| v["type"] == "ready");
    let build = env.home().join("build");
    assert!(assert_private(&build) >= 2, "no build under {}", build.display());
    assert!(tree(&build).iter().any(|p| p.ends_with("node/index.js")), "{:?}", tree(&build));
    assert_eq!(mode(&cache), 0o700);
    let runtime = std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.path());
    let runtime: Vec<PathBuf> =
        runtime.filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("runtime-")).collect();
    assert_eq!(runtime.len(), 1, "{runtime:?}");
    assert!(assert_private(&runtime[0]) > 100, "the packages of {}", runtime[0].display());
    assert!(runtime[0].join("node_modules/koa/package.json").is_file());
    assert_eq!(link.interrupt(), 0);
}

/// A unix socket file at `path` with nobody listening (as a killed process leaves it).
fn stale_socket(path: &Path) {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    assert!(path.exists());
}

fn sockets(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::FileTypeExt;
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_hosts_sockets_go_with_the_session_and_stale_ones_are_swept() {
    let env = Env::new();
    let app = routed_app(&env);
    let run = env.home().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    // One of a session killed long ago (no such pid), one of a live process (this test).
    let dead = run.join(format!("{}-0-routes.sock", 0x7fff_fff0u32));
    let live = run.join(format!("{}-0-routes.sock", std::process::id()));
    stale_socket(&dead);
    stale_socket(&live);

    // Watching: a warm standby runs beside the app's process, with a socket of its own.
    let mut command = env.command(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    command.env_remove("XDG_RUNTIME_DIR");
    let mut link = Running::from_command(command);
    link.wait_json("ready", |v| v["type"] == "ready");
    let session = env.session_pid("dev").unwrap();
    let ours = |run: &Path| sockets(run).into_iter().filter(|s| s.starts_with(&format!("{session}-"))).count();
    eventually("the standby's socket beside the app's", || (ours(&run) >= 2).then_some(()));
    assert!(!dead.exists(), "a dead session's socket was not swept: {:?}", sockets(&run));
    assert!(live.exists(), "a live process's socket was removed");
    assert_eq!(link.interrupt(), 0);
    assert!(wait_gone(session), "the session did not end");
    assert_eq!(ours(&run), 0, "the ended session left sockets: {:?}", sockets(&run));
}

#[test]
fn a_route_of_a_session_whose_folder_was_removed_says_so() {
    let env = Env::new();
    let app = routed_app(&env);
    let mut link = Running::from_command(link_command(&env, &app, &[]));
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    std::fs::remove_dir_all(env.home()).unwrap();
    let (status, _, body) = http(&url, "GET", "/_v/hello", &[], "");
    assert_eq!(status, 502, "{body}");
    let said = format!(
        "ioctl's folder {} was removed while the session ran; stop the link and link again",
        env.home().display()
    );
    assert!(body.contains(&said), "{body}");
    assert!(!body.contains("No such file or directory"), "{body}");
    assert_eq!(link.interrupt(), 0);
}
