//! The tools around ioctl: `--version`, shell completions, the manual and `ioctl doctor`, run
//! as a user runs them.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::harness::*;

#[test]
fn version_names_the_commit_and_the_node_it_will_use() {
    let env = Env::new();
    let out = env.run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.starts_with(&format!("ioctl {} (commit ", env!("CARGO_PKG_VERSION"))), "{text}");
    let node =
        String::from_utf8_lossy(&Command::new("node").arg("--version").output().unwrap().stdout).trim().to_string();
    assert!(lines.next().is_some_and(|l| l.starts_with(&format!("Node.js {node} ("))), "{text}");
}

#[test]
fn bash_completes_ioctl_ev_to_events() {
    let env = Env::new();
    let script = env.home().join("ioctl.bash");
    std::fs::create_dir_all(env.home()).unwrap();
    let out = env.run(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(&script, &out.stdout).unwrap();
    // What bash does on `ioctl ev<TAB>`: the completion function with the words so far.
    let complete = |line: &str| -> String {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT={}\n_ioctl ioctl '{}' '{}'\necho \"${{COMPREPLY[*]}}\"",
            script.display(),
            words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = Command::new("bash").arg("--norc").arg("-c").arg(program).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("ioctl ev"), "events");
    let sub = complete("ioctl events ");
    assert!(sub.split(' ').any(|w| w == "send") && sub.split(' ').any(|w| w == "tail"), "{sub}");
}

#[test]
fn the_manual_is_a_man_page_per_command() {
    let env = Env::new();
    let out = env.run(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = stdout(&out);
    assert!(page.starts_with(".ie") || page.contains(".TH ioctl"), "{}", &page[..page.len().min(200)]);
    assert!(page.contains("events"), "the commands are listed");
    let dir = env.home().join("man");
    let out = env.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let send = std::fs::read_to_string(dir.join("ioctl-events-send.1")).unwrap();
    assert!(send.contains("\\-\\-repeat"), "the flags of `events send`");
    assert!(!dir.join("ioctl-session-serve.1").exists(), "hidden commands have no page");
}

#[test]
fn doctor_passes_on_a_good_machine_and_names_what_is_wrong() {
    let env = Env::new();
    let ok = env.run(&["doctor"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("ok    Node.js: v"), "{}", stdout(&ok));
    assert!(stdout(&ok).trim_end().ends_with("all is well"));

    // No node on PATH (only a folder without it), no IOCTL_NODE.
    let empty = env.home().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let no_node = env.command(&["doctor"]).env("PATH", &empty).env_remove("IOCTL_NODE").output().unwrap();
    assert_eq!(no_node.status.code(), Some(1));
    let text = stdout(&no_node);
    assert!(text.contains("FAIL  Node.js: cannot run Node.js (node): not found on PATH"), "{text}");
    assert!(text.contains("fix: install Node.js 18 or newer"), "{text}");
    assert!(
        text.contains("1 problem(s) found") || text.contains("2 problem(s) found"),
        "npm may be missing too: {text}"
    );

    // A cache that cannot be written: its path is a file.
    let file = env.home().join("not-a-folder");
    std::fs::write(&file, "").unwrap();
    let bad_cache = env.command(&["doctor"]).env("IOCTL_CACHE", &file).output().unwrap();
    assert_eq!(bad_cache.status.code(), Some(1));
    let text = stdout(&bad_cache);
    assert!(text.contains(&format!("FAIL  cache: {} is not a folder", file.display())), "{text}");
    assert!(text.contains("fix: set IOCTL_CACHE to a folder you own"), "{text}");
}

/// `npm install` of the packages npm/pack.sh makes, with no registry reachable: the launcher
/// runs this machine's binary, whose first link copies the package sets it carries (no npm).
/// Without the platform package, the launcher says which one is missing and exits 1.
#[test]
fn the_npm_packages_install_and_link_with_no_network() {
    let env = Env::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = env.home().join("npm");
    let packed = Command::new(root.join("npm/pack.sh"))
        .args(["--binary", BIN, "--out", out.to_str().unwrap()])
        .env("IOCTL_HOME", env.home())
        .output()
        .unwrap();
    assert!(packed.status.success(), "{}{}", stdout(&packed), stderr(&packed));
    let tarballs: Vec<String> = stdout(&packed).lines().map(String::from).collect();
    let (launcher, platform) = match &tarballs[..] {
        [a, b] if a.ends_with("ioctl-0.1.0.tgz") || b.contains("-linux-") => (a.clone(), b.clone()),
        other => panic!("two tarballs expected: {other:?}"),
    };
    // npm with a registry nothing answers, offline: everything must come from the tarballs.
    let npm = |dir: &std::path::Path, args: &[&str]| {
        Command::new("npm")
            .args(args)
            .current_dir(dir)
            .env("npm_config_registry", "http://127.0.0.1:9/")
            .env("npm_config_offline", "true")
            .env("npm_config_audit", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_update_notifier", "false")
            .env("IOCTL_HOME", env.home().join("state"))
            .env("IOCTL_CACHE", env.home().join("fresh-cache"))
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let project = env.home().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("package.json"), r#"{"name": "project", "private": true}"#).unwrap();
    let installed = npm(&project, &["install", &launcher, &platform]);
    assert!(installed.status.success(), "{}", stderr(&installed));

    let version = npm(&project, &["exec", "--", "ioctl", "--version"]);
    assert_eq!(version.status.code(), Some(0), "{}", stderr(&version));
    assert!(stdout(&version).starts_with("ioctl 0.1.0 (commit "), "{}", stdout(&version));
    let init = npm(&project, &["exec", "--", "ioctl", "init", "service-course", "app"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));

    let mut link = Command::new("npm");
    link.args(["exec", "--", "ioctl", "link", "app", "--no-watch", "--no-sample-sender"])
        .current_dir(&project)
        .env("npm_config_registry", "http://127.0.0.1:9/")
        .env("npm_config_offline", "true")
        .env("npm_config_update_notifier", "false")
        .env("IOCTL_HOME", env.home().join("state"))
        .env("IOCTL_CACHE", env.home().join("fresh-cache"))
        .env("NO_COLOR", "1")
        .process_group(0);
    let mut link = Running::from_command(link);
    let copied =
        link.wait_line("the runtime packages copied", |l| l.contains("copying ioctl's Node runtime packages from"));
    assert!(copied.contains("node_modules/@ioctl-cli/ioctl-linux-"), "{copied}");
    link.wait_line("ready", |l| l.starts_with("ready in "));
    // Ctrl-C as a terminal sends it: to the whole foreground group (npm, the launcher, ioctl).
    // SAFETY: signalling the process group of our own child.
    unsafe { libc::kill(-(link.child.id() as i32), libc::SIGINT) };
    // ioctl stops as it does in a terminal (npm itself may end by the signal: -1 here).
    let code = link.wait_exit();
    assert!(code == 0 || code == -1, "{code}: {}", link.seen.join("\n"));
    assert!(
        link.seen.iter().any(|l| l.contains("unlinked from account local, workspace dev")),
        "{}",
        link.seen.join("\n")
    );

    let bare = env.home().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::write(bare.join("package.json"), r#"{"name": "bare", "private": true}"#).unwrap();
    let only_launcher = npm(&bare, &["install", &launcher]);
    assert!(only_launcher.status.success(), "{}", stderr(&only_launcher));
    let missing = npm(&bare, &["exec", "--", "ioctl", "--version"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("@ioctl-cli/ioctl-linux-x64-gnu, is not installed"), "{}", stderr(&missing));
}
