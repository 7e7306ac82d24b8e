//! End to end: a team workspace on a real `nats-server -js` (started once for the test
//! binary, see `ioctl::session::cluster::server`), three link sessions with their own
//! `IOCTL_HOME`s as three machines. An event sent on machine 1 reaches the handler on machine
//! 2 and nothing reaches another workspace, and a private route of machine 2's app answers
//! through machine 1's URL with its token (401 without, 413 for a body over the server's max
//! payload); an app on machines 2 and 3 shares a 10,000-event
//! burst, and loses nothing when machine 3 is killed mid-burst; a server that goes away and
//! comes back loses nothing; an unreachable server is said plainly, without its password.
//! Each test is an account of its own on the shared server.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::*;

fn nats() -> &'static ioctl::session::cluster::server::Server {
    ioctl::session::cluster::server::shared()
        .unwrap_or_else(|why| panic!("the team workspace tests need nats-server: {why} (apt-get install nats-server)"))
}

/// One machine of the team workspace of `account` (workspace `dev`).
struct Machine {
    env: Env,
    account: String,
    /// The NATS server it joins.
    server: String,
}

impl Machine {
    fn new(account: &str) -> Machine {
        Machine::on(&nats().url(), account)
    }

    fn on(server: &str, account: &str) -> Machine {
        Machine { env: Env::new(), account: account.to_string(), server: server.to_string() }
    }

    /// `ioctl ARGS -a ACCOUNT`, joined to its server.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.env.command(args);
        c.args(["-a", &self.account]).env("IOCTL_CLUSTER", &self.server);
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// Links `app` (no watch, no sample sender); `out` is the file its handlers append to.
    fn link(&self, app: &Path, out: &Path) -> (Running, String) {
        self.link_with(app, out, &["--no-sample-sender"])
    }

    fn link_with(&self, app: &Path, out: &Path, flags: &[&str]) -> (Running, String) {
        let mut args = vec!["link", app.to_str().unwrap(), "--json", "--no-watch"];
        args.extend(flags);
        let mut c = self.command(&args);
        c.env("EVENTS_OUT", out);
        let mut link = Running::from_command(c);
        let ready = link.wait_json("ready", |v| v["type"] == "ready");
        assert_eq!(ready["linked"], true, "{}", link.seen.join("\n"));
        (link, ready["url"].as_str().unwrap().to_string())
    }

    /// This machine's own counts (`status --json`).
    fn counts(&self) -> Value {
        let out = stdout(&self.run(&["status", "--json"]));
        serde_json::from_str::<Value>(out.trim()).unwrap_or_default()["counts"].clone()
    }

    /// The session's token (from its record).
    fn token(&self) -> String {
        let text =
            std::fs::read_to_string(self.env.home().join(format!("sessions/{}/dev.json", self.account))).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["token"].as_str().unwrap().to_string()
    }

    fn session_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.env.home().join(format!("sessions/{}/dev.json", self.account))).ok()?;
        serde_json::from_str::<Value>(&text).ok()?["pid"].as_u64().map(|p| p as u32)
    }
}

const SERVICE: &str = r#"{
  "events": {
    "work": { "sender": "ioctl.manual", "keys": ["work"] },
    "boom": { "sender": "ioctl.manual", "keys": ["boom"] }
  },
  "routes": { "hello": { "path": "/_v/cluster/hello", "public": false } }
}"#;

/// Appends `BURST EVENT-ID` per delivery to $EVENTS_OUT (one small append: whole lines).
const INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'
import { appendFileSync } from 'fs'

const OUT = process.env.EVENTS_OUT as string

async function work(ctx: any) {
  await new Promise((resolve) => setTimeout(resolve, ctx.body.wait ?? 0))
  appendFileSync(OUT, `${ctx.body.burst} ${ctx.vtex.eventInfo.id}\n`)
  console.log(`handled burst ${ctx.body.burst}`)
}

/// Appends `boom EVENT-ID` per attempt, then fails.
async function boom(ctx: any) {
  appendFileSync(OUT, `boom ${ctx.vtex.eventInfo.id}\n`)
  throw new Error('boom on purpose')
}

async function hello(ctx: any) {
  ctx.set('x-served-by', process.env.EVENTS_OUT as string)
  ctx.body = { hello: ctx.vtex.account, method: ctx.method }
}

export default new Service({
  clients: {
    implementation: IOClients,
    options: { events: { retries: 2, timeout: 5000, concurrency: 20, initialBackoffDelay: 20 } },
  },
  events: { work, boom },
  routes: { hello },
})
"#;

/// The template's manifest.json under another name (an app's replicas share its id).
fn manifest(name: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/service-course/manifest.json"))
            .unwrap();
    text.replace("\"service-course\"", &format!("\"{name}\""))
}

/// The worker app (the same id on every machine that links it) in `m`'s folder.
fn worker(m: &Machine) -> PathBuf {
    m.env.app(
        "worker",
        &[("manifest.json", &manifest("cluster-worker")), ("node/service.json", SERVICE), ("node/index.ts", INDEX)],
    )
}

/// An app that subscribes to nothing the tests send (machine 1's, to have a session).
fn bystander(m: &Machine) -> PathBuf {
    m.env.app("bystander", &[("manifest.json", &manifest("bystander"))])
}

/// The event ids handled for `burst`, with how many lines (repeats included).
fn handled(out: &Path, burst: &str) -> (HashSet<String>, usize) {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix(burst)?.strip_prefix(' ')).collect();
    (lines.iter().map(|s| s.to_string()).collect(), lines.len())
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

#[test]
fn an_event_sent_on_one_machine_reaches_the_handler_on_another_and_no_other_workspace() {
    let (m1, m2) = (Machine::new("team1"), Machine::new("team1"));
    let elsewhere = Machine::new("team1other");
    let (out, out_elsewhere) = (m2.env.dir.path().join("out.txt"), elsewhere.env.dir.path().join("out.txt"));
    let (mut l1, url1) = m1.link(&bystander(&m1), &m1.env.dir.path().join("none.txt"));
    let (mut l2, _) = m2.link(&worker(&m2), &out);
    let (mut l3, _) = elsewhere.link(&worker(&elsewhere), &out_elsewhere);

    // A private route of the app on machine 2 answers through machine 1's URL with machine
    // 1's token, and 401s without it; a body over the server's max payload is refused whole.
    let path = "/vtex.cluster-worker/v0/team1/dev/_v/cluster/hello";
    let bearer = format!("Bearer {}", m1.token());
    let (status, head, body) = http(&url1, "GET", path, &[("authorization", &bearer)], "");
    assert_eq!((status, body.as_str()), (200, r#"{"hello":"team1","method":"GET"}"#), "{head}");
    let served_by = format!("x-served-by: {}", out.display()).to_lowercase();
    assert!(head.contains(&served_by), "machine 2 answered: {head}");
    let (status, _, body) = http(&url1, "GET", path, &[], "");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("is private"), "{body}");
    let big = "x".repeat(1_100_000);
    let (status, _, body) =
        http(&url1, "POST", path, &[("authorization", &bearer), ("content-type", "text/plain")], &big);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_payload"), "{body}");
    // An app linked nowhere in the workspace is a 404, as before.
    let (status, _, _) = http(&url1, "GET", "/vtex.nowhere/v0/team1/dev/_v/x", &[("authorization", &bearer)], "");
    assert_eq!(status, 404);

    // Machine 1's tail shows the event and machine 2's delivery of it, naming machine 2.
    let mut tail = Running::from_command(m1.command(&["events", "tail", "--json"]));
    tail.wait_json("the tail's start", |v| v["type"] == "hello");
    let sent = m1.run(&["events", "send", "work", "--data", r#"{"burst": "one"}"#]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    l2.wait_json("the handler on machine 2", |v| v["message"] == "handled burst one");
    let event = tail.wait_json("the event in machine 1's tail", |v| v["type"] == "event");
    let delivery = tail.wait_json("machine 2's delivery in machine 1's tail", |v| v["type"] == "delivery");
    assert_eq!((&delivery["event_id"], &delivery["outcome"]), (&event["id"], &Value::from("ok")), "{delivery}");
    let on = delivery["machine"].as_str().unwrap_or_else(|| panic!("no machine: {delivery}"));
    assert!(on.ends_with(&format!("-{}", m2.session_pid().unwrap())), "{delivery}");
    // Machine 1's link log names machine 2 as the one that handled its event.
    let id = event["id"].as_str().unwrap();
    let line = l1.wait_json("machine 2's delivery in machine 1's link", |v| {
        v["type"] == "log" && v["message"].as_str().is_some_and(|m| m.starts_with(&format!("event {id} ok")))
    });
    assert_eq!((&line["app"], &line["handler"]), (&delivery["app"], &Value::from("work")), "{line}");
    assert!(line["message"].as_str().unwrap().ends_with(&format!(" [on {on}]")), "{line}");
    let c = m2.counts();
    assert_eq!((n(&c, "deliveries"), n(&c, "delivered")), (1, 1), "{c}");
    assert_eq!(handled(&out, "one").0.len(), 1);
    // The same app linked in another account on the same server sees nothing of it.
    let meanwhile = l3.collect_for(std::time::Duration::from_millis(1500));
    assert!(!meanwhile.iter().any(|l| l.contains("handled")), "{meanwhile:?}");
    assert_eq!(n(&elsewhere.counts(), "deliveries"), 0);
    assert!(!out_elsewhere.exists());
}

#[test]
fn a_dead_letter_made_on_one_machine_is_listed_and_replayed_from_another() {
    let (m1, m2) = (Machine::new("team6"), Machine::new("team6"));
    let out = m2.env.dir.path().join("out.txt");
    let (_l1, _) = m1.link(&bystander(&m1), &m1.env.dir.path().join("none.txt"));
    let (_l2, _) = m2.link(&worker(&m2), &out);
    let attempts = || handled(&out, "boom").1;

    // The handler on machine 2 fails three times (retries 2): a dead letter of machine 2.
    let sent = m1.run(&["events", "send", "boom", "--json"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    let letter = eventually("machine 2's dead letter listed on machine 1", || {
        let listed = stdout(&m1.run(&["events", "failed", "--json"]));
        listed.lines().find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v["handler"] == "boom"))
    });
    let id = letter["event"]["id"].as_str().unwrap().to_string();
    assert_eq!(letter["app"], "vtex.cluster-worker@0.0.1", "{letter}");
    assert_eq!(letter["attempts"].as_array().map(Vec::len), Some(3), "{letter}");
    assert!(letter["attempts"][2]["error"].as_str().unwrap().contains("boom on purpose"), "{letter}");
    assert_eq!(attempts(), 3);

    // Replayed from machine 1, machine 2's replica delivers it again (three more attempts),
    // and its new dead letter is the one listed.
    let replay = m1.run(&["events", "replay", &id]);
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    assert!(
        stdout(&replay).contains(&format!("replaying {id} to vtex.cluster-worker@0.0.1 boom")),
        "{}",
        stdout(&replay)
    );
    eventually("the replay's attempts on machine 2", || (attempts() == 6).then_some(()));
    let again = eventually("the new dead letter", || {
        let listed = stdout(&m2.run(&["events", "failed", "--json"]));
        let letters: Vec<Value> = listed.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        (letters.len() == 1 && letters[0]["failed_at"] != letter["failed_at"]).then(|| letters[0].clone())
    });
    assert_eq!(again["event"]["id"], id.as_str());
    let missing = m1.run(&["events", "replay", "no-such-id"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no failed event with id no-such-id in the team workspace"),
        "{}",
        stderr(&missing)
    );
    // Only the failed handler ran it again: the file holds its attempts alone.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().all(|l| l == format!("boom {id}")), "{text}");
}

#[test]
fn replicas_on_two_machines_share_a_burst_and_a_killed_machine_loses_nothing() {
    let (m1, m2, m3) = (Machine::new("team2"), Machine::new("team2"), Machine::new("team2"));
    // Both replicas append to one file (as one shared log would show it).
    let out = m1.env.dir.path().join("out.txt");
    let (_l1, _) = m1.link(&bystander(&m1), &m1.env.dir.path().join("none.txt"));
    let (mut l2, _) = m2.link(&worker(&m2), &out);
    let (_l3, _) = m3.link(&worker(&m3), &out);

    // A burst of 10,000: each replica gets some, and the sum is exact.
    let sent = m1.run(&["events", "send", "work", "--repeat", "10000", "--data", r#"{"burst": "a"}"#]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    let (c2, c3) = eventually("the burst to be delivered", || {
        let (c2, c3) = (m2.counts(), m3.counts());
        let done = n(&c2, "delivered") + n(&c3, "delivered") + n(&c2, "failed") + n(&c3, "failed");
        (done >= 10_000 && n(&c2, "in_flight") == 0 && n(&c3, "in_flight") == 0).then_some((c2, c3))
    });
    eprintln!("cluster burst: machine 2 {c2}, machine 3 {c3}");
    assert_eq!(n(&c2, "delivered") + n(&c3, "delivered"), 10_000, "{c2} {c3}");
    assert!(n(&c2, "delivered") > 0 && n(&c3, "delivered") > 0, "each replica gets some: {c2} {c3}");
    let (ids, lines) = handled(&out, "a");
    assert_eq!((ids.len(), lines), (10_000, 10_000), "each event handled once");

    // Machine 1's status lists the three machines, what each links, and counts that add up
    // across the workspace (the others' as their presence last said them).
    let team = eventually("machine 1's status to list the 3 machines and the burst", || {
        let status: Value = serde_json::from_str(stdout(&m1.run(&["status", "--json"])).trim()).ok()?;
        let team = status["team"].clone();
        (team["machines"].as_array()?.len() == 3 && team["counts"]["delivered"] == 10_000).then_some(team)
    });
    let workers = team["machines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["apps"] == serde_json::json!(["vtex.cluster-worker@0.0.1"]));
    assert_eq!(workers.count(), 2, "{team}");
    assert_eq!(n(&team["counts"], "deliveries"), 10_000, "{team}");
    let human = stdout(&m1.run(&["status"]));
    assert!(human.contains(&format!("team workspace on {}: 3 machines", nats().url())), "{human}");
    assert!(human.contains("(this one): vtex.bystander@0.0.1"), "{human}");

    // A second burst, slower; machine 3's session is killed (SIGKILL) in the middle of it.
    let before3 = n(&m3.counts(), "delivered");
    let sent = m1.run(&["events", "send", "work", "--repeat", "10000", "--data", r#"{"burst": "b", "wait": 2}"#]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    eventually("machine 3 to be in the middle of the burst", || {
        (n(&m3.counts(), "delivered") >= before3 + 300).then_some(())
    });
    let pid = m3.session_pid().unwrap();
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    assert!(wait_gone(pid));
    // Every event ends handled: machine 3's unacknowledged ones come back to machine 2.
    let ids = eventually("every event of the burst to be handled", || {
        let (ids, _) = handled(&out, "b");
        (ids.len() == 10_000).then_some(ids)
    });
    assert_eq!(ids.len(), 10_000, "0 lost");
    let c2 = eventually("machine 2 to settle", || {
        let c = m2.counts();
        (n(&c, "in_flight") == 0).then_some(c)
    });
    assert_eq!(n(&c2, "deliveries"), n(&c2, "delivered") + n(&c2, "failed"), "machine 2's counts add up: {c2}");
    let (_, lines) = handled(&out, "b");
    eprintln!("cluster kill: {} events handled twice (their machine died before it acknowledged them)", lines - 10_000);
    l2.collect_for(std::time::Duration::from_millis(200));
    assert!(l2.seen.iter().any(|l| l.contains("came back")), "machine 2 says it took events back");
}

#[test]
fn a_lost_server_pauses_the_team_workspace_and_nothing_published_meanwhile_is_lost() {
    // A server of this test's own: stopping it must not disturb the other tests.
    let server = ioctl::session::cluster::server::own().unwrap();
    let (m1, m2) = (Machine::on(&server.url(), "team4"), Machine::on(&server.url(), "team4"));
    let out = m2.env.dir.path().join("out.txt");
    let (mut l1, _) = m1.link(&bystander(&m1), &m1.env.dir.path().join("none.txt"));
    let (mut l2, _) = m2.link(&worker(&m2), &out);
    let sent = m1.run(&["events", "send", "work", "--data", r#"{"burst": "before"}"#]);
    assert!(stdout(&sent).contains("to the team workspace"), "{}", stdout(&sent));
    l2.wait_json("the first event", |v| v["message"] == "handled burst before");

    server
        .outage(|| {
            // Both links say it; local work goes on: events sent meanwhile wait on machine 1.
            l1.wait_json("the loss", |v| v["message"].as_str().is_some_and(|m| m.starts_with("lost the NATS server")));
            l2.wait_json("the loss", |v| v["message"].as_str().is_some_and(|m| m.starts_with("lost the NATS server")));
            let sent = m1.run(&["events", "send", "work", "--repeat", "50", "--data", r#"{"burst": "during"}"#]);
            assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
            assert_eq!(n(&m1.counts(), "published"), 51, "published while the server is away");
        })
        .unwrap();
    l1.wait_json("the return", |v| v["message"].as_str().is_some_and(|m| m.contains("is back")));
    // Without a restart, everything sent meanwhile reaches machine 2, once each.
    let (ids, lines) = eventually("the events sent during the outage", || {
        let (ids, lines) = handled(&out, "during");
        (ids.len() == 50).then_some((ids, lines))
    });
    assert_eq!((ids.len(), lines), (50, 50), "each once (NATS dropped the repeated sends by their id)");
    let sent = m1.run(&["events", "send", "work", "--data", r#"{"burst": "after"}"#]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    eventually("an event after the return", || (handled(&out, "after").0.len() == 1).then_some(()));
}

#[test]
fn one_sample_sender_fires_for_the_whole_team_workspace() {
    let (m1, m2) = (Machine::new("team5"), Machine::new("team5"));
    let out = m1.env.dir.path().join("out.txt");
    let service = r#"{"events": {"work": {"sender": "vtex.events-example", "keys": ["send-event"]}},
      "routes": {"hello": {"path": "/_v/cluster/hello", "public": false}}}"#;
    let index = INDEX.replace("${ctx.body.burst}", "sample");
    let app = m1.env.app(
        "listener",
        &[("manifest.json", &manifest("listener")), ("node/service.json", service), ("node/index.ts", &index)],
    );
    let (_l1, _) = m1.link_with(&app, &out, &["--sender-interval", "0.05"]);
    let (_l2, _) = m2.link_with(&bystander(&m2), &m2.env.dir.path().join("none.txt"), &["--sender-interval", "0.05"]);
    // Both senders armed: still one machine fires (event ids start with their session's prefix).
    for m in [&m1, &m2] {
        assert_eq!(m.run(&["healthcheck"]).status.code(), Some(0));
    }
    let ids = eventually("40 sample events", || {
        let (ids, _) = handled(&out, "sample");
        (ids.len() >= 40).then_some(ids)
    });
    let senders: HashSet<&str> = ids.iter().map(|id| id.split('-').next().unwrap()).collect();
    assert_eq!(senders.len(), 1, "one sender for the workspace: {senders:?}");
    let (p1, p2) = (n(&m1.counts(), "published"), n(&m2.counts(), "published"));
    assert!(p1 == 0 || p2 == 0, "one machine publishes: {p1} and {p2}");
}

#[test]
fn credentials_in_the_url_let_a_machine_in_and_are_never_shown_or_logged() {
    let server = ioctl::session::cluster::server::own_with(&["--user", "team", "--pass", "hunter2"]).unwrap();
    let port = server.port;
    let m = Machine::on(&format!("nats://team:hunter2@127.0.0.1:{port}"), "team6");
    let mut c = m.command(&["link", bystander(&m).to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    c.env("IOCTL_LOG", "debug");
    let mut link = Running::from_command(c);
    link.wait_json("ready", |v| v["type"] == "ready");
    let human = stdout(&m.run(&["status"]));
    assert!(human.contains(&format!("team workspace on nats://team@127.0.0.1:{port}: 1 machine")), "{human}");
    let log = std::fs::read_to_string(m.env.home().join("sessions/team6/dev.log")).unwrap();
    assert!(log.contains("joined the team workspace"), "{log}");
    assert!(!log.contains("hunter2") && !human.contains("hunter2"), "the password shows: {log}");
    assert_eq!(link.interrupt(), 0);

    // A wrong password is refused at once, said as such.
    let wrong = Machine::on(&format!("nats://team:nope@127.0.0.1:{port}"), "team6");
    let o = wrong.run(&["link", bystander(&wrong).to_str().unwrap(), "--no-watch", "--no-sample-sender"]);
    let err = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("the NATS server nats://team@127.0.0.1:{port} refused this machine")), "{err}");
    assert!(!err.contains("nope"), "{err}");

    // A server that wants a token: --cluster-token lets the machine in.
    let server = ioctl::session::cluster::server::own_with(&["--auth", "s3cr3t-token"]).unwrap();
    let m = Machine::on(&server.url(), "team6");
    let app = bystander(&m);
    let mut c = m.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    c.args(["--cluster-token", "s3cr3t-token"]);
    let mut link = Running::from_command(c);
    link.wait_json("ready", |v| v["type"] == "ready");
    let human = stdout(&m.run(&["status"]));
    assert!(human.contains("1 machine") && !human.contains("s3cr3t"), "{human}");
    assert_eq!(link.interrupt(), 0);
    let o = m.run(&["link", app.to_str().unwrap(), "--no-watch", "--no-sample-sender"]);
    assert!(stderr(&o).contains("refused this machine"), "without the token: {}", stderr(&o));
}

#[test]
fn an_unreachable_server_is_said_plainly_without_its_password() {
    let m = Machine::new("team3");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://team:hunter2@127.0.0.1:{port}");
    let mut c = m.env.command(&["link", bystander(&m).to_str().unwrap(), "--no-watch", "--no-sample-sender"]);
    c.env("IOCTL_CLUSTER", &url);
    let o = c.output().unwrap();
    let err = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot reach the NATS server nats://team@127.0.0.1:{port}")), "{err}");
    assert!(err.contains("nats-server -js"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let o = m.env.run(&["--cluster", "http://team:hunter2@h:1", "status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("expected nats://") && !stderr(&o).contains("hunter2"), "{}", stderr(&o));
}
