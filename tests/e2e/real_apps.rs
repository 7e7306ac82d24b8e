//! End to end: apps shaped like the ones VTEX developers write — code that reads files next to
//! it, shared folders beside node/, JSON imports — run exactly as their own tsc output would in
//! place, with stacks on the .ts lines.

use serde_json::Value;

use crate::harness::*;

const SERVICE: &str = r#"{
  "routes": { "page": { "path": "/_v/app/real/page", "public": true } },
  "events": { "h": { "sender": "ioctl.manual", "keys": ["boom"] } }
}"#;

/// node/index.ts: a route that renders assets read through `__dirname`, a JSON import and a
/// helper from `../common`; an event handler that throws inside `../common`.
const INDEX: &str = r#"import { Service } from '@vtex/api'
import { readFileSync } from 'fs'
import { join } from 'path'

import { greet, explode } from '../common/utils'
import { VERSION } from '../common'
import settings from './data/settings.json'

const template = readFileSync(join(__dirname, '../assets/mail.html'), 'utf8')
const resolved = require.resolve('./data/settings.json')

export default new Service({
  routes: {
    page: async (ctx: any) => {
      ctx.body = {
        html: template.replace('{{name}}', greet(settings.name)),
        version: VERSION,
        dirname: __dirname,
        resolved,
      }
    },
  },
  events: {
    h: async () => explode(),
  },
})
"#;

const UTILS: &str = "export function greet(name: string) {\n  return `hello ${name}`\n}\n\nexport function explode(): never {\n  throw new Error('exploded in common')\n}\n";

fn app(env: &Env, name: &str) -> std::path::PathBuf {
    env.app(
        name,
        &[
            ("node/service.json", SERVICE),
            ("node/index.ts", INDEX),
            ("node/data/settings.json", r#"{"name": "Ana"}"#),
            ("common/utils.ts", UTILS),
            ("common/index.ts", "export const VERSION = 'v1'\n"),
            ("assets/mail.html", "<p>{{name}}</p>\n"),
        ],
    )
}

fn get(url: &str, path: &str) -> Value {
    let (_, _, body) = http(url, "GET", path, &[], "");
    serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn code_runs_from_where_it_was_written() {
    let env = Env::new();
    let root = app(&env, "app");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(ready["linked"], true, "{}", link.seen.join("\n"));
    let url = ready["url"].as_str().unwrap().to_string();
    let page = get(&url, "/_v/app/real/page");
    assert_eq!(page["html"], "<p>hello Ana</p>\n", "assets through __dirname, JSON import, ../common");
    assert_eq!(page["version"], "v1", "a folder import of ../common/index.ts");
    assert_eq!(page["dirname"], root.join("node").to_str().unwrap(), "__dirname is the source folder");
    assert_eq!(page["resolved"], root.join("node/data/settings.json").to_str().unwrap());
    // A throw inside ../common points at its .ts line.
    assert_eq!(env.run(&["events", "send", "boom"]).status.code(), Some(0));
    let failed = link.wait_json("the failure", |v| v["type"] == "log" && v["handler"] == "h");
    let message = failed["message"].as_str().unwrap();
    assert!(message.contains("exploded in common") && message.contains("common/utils.ts:6:9"), "{message}");
    // ioctl's own frames (the runtime in its cache) are not the user's to read.
    assert!(!message.contains("host/events.js") && !message.contains("loader.js"), "{message}");
    // Saving a file outside node/ relinks, and the new code runs.
    std::fs::write(root.join("common/index.ts"), "export const VERSION = 'v2'\n").unwrap();
    link.wait_json("relinked", |v| v["type"] == "relinked");
    assert_eq!(get(&url, "/_v/app/real/page")["version"], "v2");
    // ioctl writes nothing into the app folder: neither its build nor its runtime.
    assert!(!root.join("node/.ioctl").exists(), "nothing of ioctl's inside the app");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn two_workspaces_linking_one_folder_keep_their_own_builds() {
    let env = Env::new();
    let root = app(&env, "app");
    let mut dev = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", "-w", "dev"]);
    let mut qa = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", "-w", "qa"]);
    let dev_url = dev.wait_json("dev ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    let qa_url = qa.wait_json("qa ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    assert_eq!(get(&dev_url, "/_v/app/real/page")["version"], "v1");
    assert_eq!(get(&qa_url, "/_v/app/real/page")["version"], "v1");
    let builds = |w: &str| std::fs::read_dir(env.home().join("build/local").join(w)).map(|d| d.count()).unwrap_or(0);
    assert_eq!((builds("dev"), builds("qa")), (1, 1), "one build folder per workspace");
    assert_eq!(dev.interrupt(), 0);
    assert_eq!(qa.interrupt(), 0);
}

#[test]
fn a_link_that_never_linked_a_version_is_not_ready_and_fails() {
    let env = Env::new();
    let broken = env.app("app", &[("node/index.ts", "export default new Service({ oops\n")]);
    // Watching: the build error, no `ready`, and Ctrl-C exits 1 since nothing ever linked.
    let mut link = env.spawn(&["link", broken.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("the wait for changes", |v| {
        v["message"].as_str().is_some_and(|m| m.contains("App build failed. Waiting for changes"))
    });
    assert_eq!(link.interrupt(), 1);
    assert!(!link.seen.iter().any(|l| l.contains("\"type\":\"ready\"")), "{}", link.seen.join("\n"));
    // Once fixed, the first version that links is the `ready`.
    let mut link = env.spawn(&["link", broken.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("the build error", |v| v["type"] == "error" || v["type"] == "diagnostic" || v["level"] == "error");
    let index = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/service-course/node/index.ts"))
        .unwrap();
    std::fs::write(broken.join("node/index.ts"), index).unwrap();
    let ready = link.wait_json("ready after the fix", |v| v["type"] == "ready");
    assert_eq!(ready["linked"], true);
    assert_eq!(link.interrupt(), 0);
    // Not watching: exit 1, no ready.
    std::fs::write(broken.join("node/index.ts"), "export default new Service({ oops\n").unwrap();
    let out = env.run(&["link", broken.to_str().unwrap(), "--no-watch", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("\"type\":\"ready\""), "{}", stdout(&out));
}

#[test]
fn an_app_for_the_pre_service_api_is_refused_with_what_to_change() {
    let env = Env::new();
    let legacy = env.app(
        "app",
        &[("node/index.ts", "export default {\n  routes: { ping: (ctx: any) => { ctx.body = 'pong' } },\n}\n")],
    );
    let out = env.run(&["link", legacy.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("pre-Service API") && text.contains("new Service({ routes, events })"), "{text}");
    let manifest = std::fs::read_to_string(legacy.join("manifest.json")).unwrap().replace("\"6.x\"", "\"3.x\"");
    std::fs::write(legacy.join("manifest.json"), manifest).unwrap();
    let out = env.run(&["link", legacy.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("manifest.json:") && text.contains("node builder 3.x is the pre-Service API"), "{text}");
}

#[test]
fn the_apps_setup_event_fires_when_the_app_links_and_on_demand() {
    let env = Env::new();
    let service = r#"{"events": {"onSetup": {"sender": "apps", "keys": ["setup"]}}}"#;
    let index = "import { Service } from '@vtex/api'\n\nexport default new Service({\n  events: { onSetup: async (ctx: any) => { console.log('setup ran from ' + ctx.sender) } },\n})\n";
    let app = env.app("app", &[("node/service.json", service), ("node/index.ts", index)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    link.wait_json("setup on link", |v| v["type"] == "log" && v["message"] == "setup ran from apps");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    let sent = env.run(&["events", "send", "setup", "--sender", "apps"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    let event = tail.wait_json("the setup event", |v| v["type"] == "event" && v["key"] == "setup");
    assert_eq!(event["sender"], "apps");
    link.wait_json("setup again", |v| v["type"] == "log" && v["message"] == "setup ran from apps");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_public_and_a_private_route_share_a_path_as_on_vtex() {
    let env = Env::new();
    let service = r#"{"routes": {
      "pub": { "path": "/_v/shared", "public": true },
      "priv": { "path": "/_v/shared", "public": false },
      "ghost": { "path": "/_v/ghost", "public": true }
    }}"#;
    let index = "import { Service } from '@vtex/api'\n\nexport default new Service({\n  routes: {\n    pub: async (ctx: any) => { ctx.body = 'public' },\n    priv: async (ctx: any) => { ctx.body = 'private' },\n  },\n})\n";
    let app = env.app("app", &[("node/service.json", service), ("node/index.ts", index)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    let private_url = format!("{url}/vtex.service-course/v0/local/dev/_v/shared");
    assert!(link.seen.iter().any(|l| l.contains(&private_url)), "link prints the private domain URL");
    let token =
        serde_json::from_str::<Value>(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap())
            .unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
    let raw = |path: &str, auth: bool| {
        let addr = url.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        let auth = if auth { format!("Authorization: Bearer {token}\r\n") } else { String::new() };
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer.split_whitespace().nth(1).unwrap_or_default().to_string();
        (status, answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
    };
    // The store's domain reaches the public route, the app's private domain the private one.
    assert_eq!(raw("/_v/shared", false), ("200".into(), "public".into()));
    assert_eq!(raw("/local/dev/_v/shared", false), ("200".into(), "public".into()));
    assert_eq!(raw("/vtex.service-course/v0/local/dev/_v/shared", false).0, "401");
    assert_eq!(raw("/vtex.service-course/v0/local/dev/_v/shared", true), ("200".into(), "private".into()));
    // Declared but not implemented: a 404 that says so.
    let (status, body) = raw("/_v/ghost", false);
    assert_eq!(status, "404");
    assert!(body.contains("has no handler for route `ghost`"), "{body}");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_missing_import_is_positioned_at_its_line() {
    let env = Env::new();
    let clients = "import { IOClients } from '@vtex/api'\n\n// a comment, then the import that fails\nimport leftPad from 'left-pad-not-installed'\n\nexport class Clients extends IOClients {\n  get pad() { return leftPad }\n}\n";
    let app = env.app("app", &[("node/clients/index.ts", clients)]);
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("node/clients/index.ts:4:22: Cannot find module 'left-pad-not-installed'"), "{text}");
    assert!(text.contains("node/package.json"), "says what to do: {text}");
}

#[test]
fn packages_vtex_api_brings_along_resolve_with_a_warning() {
    let env = Env::new();
    let index = "import { Service } from '@vtex/api'\nimport axios from 'axios'\nimport { map } from 'ramda'\n\nconsole.log('axios ' + typeof axios.get + ', ramda ' + map((x: number) => x * 2, [1, 2]).join(','))\n\nexport default new Service({})\n";
    let service = r#"{"events": {}}"#;
    let app = env.app("app", &[("node/index.ts", index), ("node/service.json", service)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender", "--no-watch"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    // Logged while loading, so before `ready`.
    assert!(link.seen.iter().any(|l| l.contains("axios function, ramda 2,4")), "{}", link.seen.join("\n"));
    let warned = |name: &str| link.seen.iter().filter(|l| l.contains(&format!("node/index.ts imports {name}"))).count();
    // The template's package.json declares ramda (but has no node_modules); axios it does not.
    assert_eq!(warned("axios"), 1, "{}", link.seen.join("\n"));
    assert!(link.seen.iter().any(|l| l.contains(
        "imports axios, which node/package.json does not declare; it resolves on VTEX only through @vtex/api"
    )));
    assert!(link
        .seen
        .iter()
        .any(|l| l.contains("imports ramda, which node/package.json declares but node/node_modules lacks")));
    assert_eq!(link.interrupt(), 0);
}
