//! The tools around ioctl: `--version`, shell completions, the manual and `ioctl doctor`, run
//! as a user runs them.

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
