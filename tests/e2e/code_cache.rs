//! V8's code caches of an app's dependencies and modules (host/code_cache.js): a link leaves
//! the app's packs in the cache folder, readable by the user only; a damaged pack is ignored
//! (the app links and handles events as ever, its stacks on the .ts lines) and written again.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::harness::{eventually, Env, Running};

/// The header line of a pack (after its checksum line).
fn header_of(pack: &Path) -> Option<String> {
    let bytes = std::fs::read(pack).ok()?;
    let mut lines = bytes.split(|b| *b == b'\n');
    lines.next()?;
    Some(String::from_utf8_lossy(lines.next()?).into_owned())
}

/// The packs of the app at `app` in the shared cache's code-cache folder: each names the app
/// folder that wrote it last (its built modules' pack) or its node folder (its dependencies')
/// in its header.
fn packs_of(app: &Path) -> Vec<PathBuf> {
    let dir = ioctl::layout::code_cache(&ioctl::layout::cache().unwrap());
    let name = format!("\"{}", app.display());
    let mut packs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .filter(|p| header_of(p).is_some_and(|h| h.contains(&name)))
        .collect();
    packs.sort();
    packs
}

fn link(env: &Env, app: &Path) -> Running {
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--sender-interval", "0.3"]);
    link.wait_json("ready", |v| v["type"] == "ready" && v["linked"] == true);
    link
}

#[test]
fn a_damaged_code_cache_is_ignored_the_app_runs_and_the_cache_is_written_again() {
    let env = Env::new();
    let handler = "export async function updateLiveUsers(_ctx: StatusChangeContext) {\n  console.log('EVENT HANDLER: received event')\n  throw new Error('from the handler')\n}\n";
    // A name of its own: the modules' pack is the app's (by vendor and name), other tests link
    // the template at the same time, and an earlier run's pack (of the same code) would not
    // be written again.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("code-cache-e2e-{}-{}", std::process::id(), nanos % 1_000_000_000);
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/service-course/manifest.json"))
            .unwrap()
            .replace("\"name\": \"service-course\"", &format!("\"name\": \"{name}\""));
    assert!(manifest.contains(&name), "the template's manifest names it service-course");
    let app = env.app("app", &[("node/event/liveUsersUpdate.ts", handler), ("manifest.json", &manifest)]);
    let mut first = link(&env, &app);
    // Written once the app has loaded (off the way to `ready`): its modules' and its
    // dependencies' (the runtime's lru-cache, which the template's LRUCache loads).
    let packs = eventually("the app's two packs", || Some(packs_of(&app)).filter(|p| p.len() == 2));
    assert_eq!(first.interrupt(), 0);
    let mut damaged = Vec::new();
    for pack in &packs {
        assert_eq!(std::fs::metadata(pack).unwrap().permissions().mode() & 0o777, 0o600, "{}", pack.display());
        let mut bytes = std::fs::read(pack).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(pack, &bytes).unwrap();
        damaged.push(bytes);
    }
    let mut second = link(&env, &app);
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    second.wait_json("the handler's log", |v| v["type"] == "log" && v["message"] == "EVENT HANDLER: received event");
    let failed = second.wait_json("the handler's error", |v| v["type"] == "log" && v["level"] == "error");
    let message = failed["message"].as_str().unwrap();
    assert!(message.contains("node/event/liveUsersUpdate.ts:3:9"), "the stack is on the .ts line: {message}");
    eventually("the packs written again", || {
        packs.iter().zip(&damaged).all(|(p, d)| std::fs::read(p).is_ok_and(|now| &now != d)).then_some(())
    });
    assert_eq!(second.interrupt(), 0);
}
