//! End to end: `ioctl link --fixtures DIR` reads fixture files as a user writes them (a bad one
//! is a positioned diagnostic, the link goes on, a save reloads them without relinking the
//! app), and `--cloud ACCOUNT --record DIR` carries the developer's credentials to the session
//! without any file or process of ioctl's holding them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::*;

const KEY: &str = "vtexappkey-acme-E2EKEY7";
const TOKEN: &str = "E2E-APPTOKEN-0f9e8d7c6b5a";

fn fixture(url: &str, body: &str) -> String {
    format!("{{\"request\": {{\"url\": \"{url}\"}}, \"response\": {{\"body\": {body}}}}}\n")
}

#[test]
fn a_bad_fixture_file_is_positioned_the_link_goes_on_and_a_save_reloads_without_relinking() {
    let env = Env::new();
    let good = fixture(
        "https://{account}.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/*",
        "{\"Id\": 1}",
    );
    let bad = "[\n  {\"request\": {\"url\": \"https://api.vtex.com/{account}/x\"},\n    \"respons\": {}}\n]\n";
    let app = env.app("app", &[("fixtures/good.json", &good), ("fixtures/sub/bad.json", bad)]);
    let fixtures = app.join("fixtures");
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--fixtures", fixtures.to_str().unwrap()]);
    link.wait_line("ready", |l| l.contains("ready in"));
    let seen = link.seen.join("\n");
    assert!(
        seen.contains("fixtures/sub/bad.json:3:5: unknown field `respons`, expected `request` or `response`"),
        "{seen}"
    );
    assert!(seen.contains("\"respons\": {}}"), "the code frame shows the line: {seen}");
    assert!(seen.contains("fixtures: 1 entry from 1 file (1 file with errors, see above) in fixtures/"), "{seen}");

    // Fixing the file reloads the fixtures; the app is not relinked for it.
    std::fs::write(fixtures.join("sub/bad.json"), fixture("https://api.vtex.com/{account}/x", "2")).unwrap();
    link.wait_line("the reload", |l| l.contains("fixtures reloaded: 2 entries from 2 files"));
    // A save of the app's code still relinks it (and only it is shown as a change).
    let index = app.join("node/index.ts");
    let code = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, format!("{code}\n// saved\n")).unwrap();
    link.wait_line("the relink", |l| l.contains("relinked in"));
    assert!(!link.seen.iter().any(|l| l.contains("U fixtures/")), "{}", link.seen.join("\n"));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_fixtures_folder_that_is_not_there_is_refused_before_linking() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let out = env
        .command(&["link", app.to_str().unwrap(), "--no-watch", "--fixtures", "nope"])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--fixtures nope: No such file or directory") && err.contains("name an existing folder"),
        "{err}"
    );
    assert!(!env.home().join("sessions/local/dev.json").exists(), "no session started");
}

#[test]
fn cloud_without_credentials_says_where_they_come_from() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let empty_home = env.dir.path().join("user");
    std::fs::create_dir(&empty_home).unwrap();
    let out = env
        .command(&["link", app.to_str().unwrap(), "--no-watch", "--cloud", "acme"])
        .env("HOME", &empty_home)
        .env_remove("VTEX_APP_KEY")
        .env_remove("VTEX_APP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--cloud acme needs your credentials: set VTEX_APP_KEY and VTEX_APP_TOKEN")
            && err.contains("`vtex login acme`"),
        "{err}"
    );
    let out = env.run(&["link", app.to_str().unwrap(), "--record", "rec"]);
    assert_eq!(out.status.code(), Some(2), "--record needs --cloud: {}", stderr(&out));
}

#[test]
fn cloud_credentials_reach_the_session_but_no_file_and_no_app_process() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let rec = env.dir.path().join("recorded");
    let mut command =
        env.command(&["link", app.to_str().unwrap(), "--cloud", "acme", "--record", rec.to_str().unwrap()]);
    command.env("VTEX_APP_KEY", KEY).env("VTEX_APP_TOKEN", TOKEN).env("IOCTL_CLOUD_URL", "http://127.0.0.1:9");
    let mut link = Running::from_command(command);
    link.wait_line("ready", |l| l.contains("ready in"));
    let banner = link.seen.iter().find(|l| l.contains("cloud: ")).cloned().unwrap_or_default();
    assert!(
        banner.contains("go to VTEX account acme through IOCTL_CLOUD_URL http://127.0.0.1:9 (calls naming account local go to acme) with the app key in VTEX_APP_KEY/VTEX_APP_TOKEN; writes refused (--cloud-writes allows them); recording into"),
        "{}",
        link.seen.join("\n")
    );
    assert_eq!(std::fs::metadata(&rec).unwrap().permissions().mode() & 0o777, 0o700, "the record folder is private");

    // Neither the session nor the app's Node processes got them in their environment.
    let session = env.session_pid("dev").expect("a session");
    let nodes = env.node_processes("dev");
    assert!(!nodes.is_empty());
    for pid in std::iter::once(session).chain(nodes) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        assert!(!environ.contains(KEY) && !environ.contains(TOKEN), "pid {pid} has the credentials in its environment");
    }
    assert_eq!(link.interrupt(), 0);
    assert!(wait_gone(session));
    for dir in [env.home(), rec] {
        for file in files_under(&dir) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(KEY) && !text.contains(TOKEN), "{} holds a credential", file.display());
        }
    }
    assert!(!link.seen.iter().any(|l| l.contains(KEY) || l.contains(TOKEN)), "never shown");
}

/// Every regular file under `dir` (links not followed).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = entry.file_type().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}
