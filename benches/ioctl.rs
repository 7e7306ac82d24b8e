//! ioctl's benchmark suite (issue 6): `cargo bench --bench ioctl`, a little over a minute on
//! a 2-core machine once built (the first run also installs tsx with npm). It prints a table
//! and writes it, with the machine and the method, to BENCHMARKS.md; it exits 1 if a figure
//! could not be measured. `cargo bench --bench ioctl -- NAME...` runs only the named figures
//! (link, relink, bus, e2e, cluster, retry, latency, memory, graphql, platform, store) and leaves
//! BENCHMARKS.md alone. The store figure starts its own PostgreSQL (Debian's `postgresql`), the
//! cluster figure its own `nats-server -js` (skipped, saying so, without one).
//!
//! The CLI figures run the real release binary as a process, with its own IOCTL_HOME, on
//! apps copied from templates/service-course; the bus figure calls the library in-process.
//! Each comparison is measured in the same run, interleaved where that is possible. Every
//! figure is a median with min–max over repeated runs.
//!
//! Clocks: a duration inside one process uses `Instant`. Publish → handler start and file
//! write → new code running cross from Rust to Node, so they compare wall clocks: Rust's
//! `SystemTime` (and the µs event time ioctl stamps with it) against Node's
//! `performance.timeOrigin + performance.now()`. The latency figure measures how well the
//! two agree and reports it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use harness::children;
use serde_json::{json, Value};

/// The end-to-end tests' harness: the same temp dirs, app copies and `ioctl` command lines.
#[path = "../tests/e2e/harness.rs"]
mod harness;
mod npm;
mod real_app;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Kept between runs (under target/): the npm packages of the comparisons.
const PEERS: &str = env!("CARGO_TARGET_TMPDIR");
/// Upper bound for anything the suite waits for (not a performance limit).
const WAIT: Duration = Duration::from_secs(60);
const COMMAND: &str = "cargo bench --bench ioctl";

/// Measures one figure of the table.
type Figure = fn() -> Result<Section>;

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let figures: [(&str, Figure); 13] = [
        ("link", link_ready),
        ("relink", relink),
        ("real", real_sized),
        ("bus", bus_alone),
        ("e2e", end_to_end),
        ("cluster", cluster),
        ("retry", retry_throughput),
        ("latency", latency),
        ("memory", memory),
        ("graphql", graphql),
        ("platform", platform),
        ("store", store),
        ("dashboard", dashboard),
    ];
    let started = Instant::now();
    let mut sections = Vec::new();
    for (name, run) in figures {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        eprintln!("bench: {name} ...");
        let t = Instant::now();
        let section = run().unwrap_or_else(|e| Section::failed(name, &e));
        eprintln!("bench: {name} done in {:.1} s", t.elapsed().as_secs_f64());
        sections.push(section);
    }
    let took = started.elapsed();
    let machine = Machine::probe();
    println!("\n{}", table(&sections));
    for s in &sections {
        for n in &s.notes {
            println!("- {n}");
        }
    }
    println!("\n{}; took {:.0} s", machine.line(), took.as_secs_f64());
    if only.is_empty() {
        let path = Path::new(ROOT).join("BENCHMARKS.md");
        std::fs::write(&path, report(&sections, &machine, took)).expect("cannot write BENCHMARKS.md");
        println!("wrote {}", path.display());
    }
    if sections.iter().any(|s| s.failed) {
        std::process::exit(1);
    }
}

// --- stats -------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Summary {
    median: f64,
    min: f64,
    max: f64,
}

fn summary(xs: &[f64]) -> Summary {
    assert!(!xs.is_empty(), "no samples");
    let v = sorted(xs);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Summary { median, min: v[0], max: v[n - 1] }
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

fn ms_summary(s: Summary) -> String {
    format!("{} ms ({}–{})", ms(s.median), ms(s.min), ms(s.max))
}

/// 1234567.8 → "1,234,568".
fn count(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate_summary(s: Summary) -> String {
    format!("{}/s ({}–{})", count(s.median), count(s.min), count(s.max))
}

/// kB (as /proc reports them, KiB) → MB (10^6 bytes).
fn mb(kb: f64) -> f64 {
    kb * 1024.0 / 1e6
}

fn mb_summary(s: Summary) -> String {
    format!("{:.1} MB ({:.1}–{:.1})", s.median, s.min, s.max)
}

fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

// --- the report ----------------------------------------------------------------------------------

/// One line of the table.
struct Row {
    figure: String,
    ioctl: String,
    beside: String,
    goal: String,
    /// `None` where there is no goal.
    met: Option<bool>,
}

impl Row {
    fn new(figure: &str, ioctl: String, beside: String, goal: &str, met: Option<bool>) -> Row {
        Row { figure: figure.into(), ioctl, beside, goal: goal.into(), met }
    }
}

/// What one figure function measured: its rows and what it learnt about where time goes.
struct Section {
    rows: Vec<Row>,
    notes: Vec<String>,
    /// Not measured (the rows say why).
    failed: bool,
}

impl Section {
    fn failed(name: &str, e: &anyhow::Error) -> Section {
        eprintln!("bench: {name} failed: {e:#}");
        Section {
            rows: vec![Row::new(name, "not measured".into(), String::new(), "", None)],
            notes: vec![format!("{name}: not measured: {e:#}")],
            failed: true,
        }
    }
}

fn table(sections: &[Section]) -> String {
    let mut t = String::from(
        "| figure | ioctl: median (min–max) | beside it, same run | goal (2 cores) | |\n|---|---|---|---|---|\n",
    );
    for r in sections.iter().flat_map(|s| &s.rows) {
        let met = match r.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        };
        t.push_str(&format!("| {} | {} | {} | {} | {met} |\n", r.figure, r.ioctl, r.beside, r.goal));
    }
    t
}

struct Machine {
    date: String,
    cores: usize,
    cpu: String,
    memory: String,
    kernel: String,
    node: String,
    rustc: String,
    commit: String,
}

impl Machine {
    fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
            .unwrap_or_else(|| "unknown CPU".into());
        let mem_kb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m.lines().find_map(|l| l.strip_prefix("MemTotal:").map(|r| r.trim().to_string())))
            .and_then(|r| r.trim_end_matches(" kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let output = |cmd: &str, args: &[&str]| -> String {
            Command::new(cmd)
                .args(args)
                .current_dir(ROOT)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        Machine {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu,
            memory: format!("{:.0} GiB RAM", mem_kb / 1024.0 / 1024.0),
            kernel: output("uname", &["-r"]),
            node: output(&node(), &["--version"]),
            rustc: output("rustc", &["--version"]),
            commit: format!(
                "{}{}",
                output("git", &["rev-parse", "--short", "HEAD"]),
                if dirty { " with local changes" } else { "" }
            ),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {} cores ({}), {}, Linux {}; Node.js {}; {}; ioctl {} at {}",
            self.date,
            self.cores,
            self.cpu,
            self.memory,
            self.kernel,
            self.node,
            self.rustc,
            env!("CARGO_PKG_VERSION"),
            self.commit
        )
    }
}

fn report(sections: &[Section], m: &Machine, took: Duration) -> String {
    let mut notes = String::new();
    for n in sections.iter().flat_map(|s| &s.notes) {
        notes.push_str(&format!("- {n}\n"));
    }
    format!(
        "# Benchmarks

Command (from the repo root; it builds the release binary first):

    {COMMAND}

Written by that command (benches/ioctl.rs) on {date}, in {took:.0} s.
Machine: {cores} cores ({cpu}), {memory}, Linux {kernel}; Node.js {node}; {rustc};
ioctl {version} at {commit}.

{table}
Medians with min–max over the repeated runs; the comparisons were measured in the same run.
Goals are those of issue 6 for a 2-core machine; a missed goal is reported as measured.

## Measured in this run

{notes}
## Method

- **link → ready**: `ioctl link APP --json --no-watch --no-sample-sender` on a fresh copy of
  templates/service-course (so swc transpiles every file) with a fresh `IOCTL_HOME` (so the
  session process and the Node host start too), from spawning the command to reading its
  `ready` line; then Ctrl-C, and the next link waits until the session has ended. Beside
  it, interleaved run by run: spawning `node -e ''` until it exits. One unrecorded warm-up of
  each first. With `IOCTL_BENCH_BASELINE=PATH` (another build of ioctl, e.g. of an earlier
  commit), that build's link → ready too, run by run, each round the other build first.
- **relink**: a linked app whose handler logs, on the first event each loaded version
  handles, its version and the time it started (`performance.timeOrigin +
  performance.now()`). Events stream in at 1,000/s (`ioctl events send --repeat --rate
  1000`). Relink = that time for the new version − the wall time just before the bench
  rewrote the handler file: file write → new code handles the next event (at most 1 ms of
  it is waiting for the next event). Beside it, the same handler file and the same 1 ms
  event loop as a plain Node program under `tsx watch` (installed with npm under
  target/tmp/bench-peers on first use; skipped, saying so, if npm cannot install it) and
  under `node --watch`. 400 ms of quiet before each write; one unrecorded warm-up relink.
  The link type-checks after each relink, as users' links do (the checker is off the relink's
  path); beside it, in the same run, the same relinks with `--no-typecheck`.
- **bus alone**: in-process, `Bus::publish` of 1,000,000 events with one matching
  subscriber, whose bounded queue (1,024, as in `ioctl link`) another task drains, on a
  2-worker tokio runtime: publish → match → enqueue. Beside it: the same deliveries sent
  straight into the same channel (the floor the bus builds on).
- **end to end**: one link session, one Node process, a handler that does nothing
  (`async function noop(_ctx) {{}}`, delivery concurrency 100, ioctl's default). A burst of
  100,000 events from `ioctl events send noop --repeat 100000`, timed from starting that
  command until the session's counts (the control API `ioctl status` reads) show them all
  delivered. An unrecorded 10,000-event warm-up burst first. Beside it, the ceiling: a
  plain Node loop that `await`s the same built handler module 1,000,000 times in-process;
  with `IOCTL_BENCH_BASELINE`, that build's link of the same app, burst for burst.
- **dashboard**: the end-to-end burst of 100,000 events, nine times each, in rounds of three:
  without a page; with a page's live stream (`/_ioctl/api/live`) read by a plain reader (the
  session's own cost of a page); and with the dashboard's Events page open in chromium
  (`tests/browser/dashboard_open.js`: chromium starts once; a fresh page each burst, opened
  and settled — its first fetches and draws done — before the burst, closed after it), whose
  JS heap (after a garbage collection), DOM nodes and drawn event rows are read after each
  burst. The order within a round rotates round by round, so that a warm-up or drift within
  a round falls on each of the three alike. On 2 cores chromium's own work (taking in up to
  200 live records a second, redrawing the list at most once a second while records are
  being skipped) shares the cores the session and Node use.
- **latency**: in one session, `ioctl events send lat --repeat 3000 --rate 1000`; the
  handler records each event's id and its own start time in memory (logging each would
  load the path it measures) and logs them all afterwards. The publish time of each event
  is the µs `time` ioctl stamps when `publish` starts, read from `ioctl events tail
  --json`. Latency = handler start − publish time, per event; p50/p99 per run of 3,000,
  after an unrecorded 500-event warm-up; with `IOCTL_BENCH_BASELINE`, the same in a link by
  that build, both links up, their runs alternating (each round the other first). The Rust/Node clock agreement is measured by
  ping-pong with a Node process (offset of the round trip with the smallest RTT).
- **memory**: VmRSS from /proc/PID/status, 1 s after `ready` (idle) and 1 s after a
  100,000-event burst has been delivered, in a watching session (as people run it). ioctl's
  figure is the sum over its processes (`ioctl link` and the session process it starts);
  the Node figure is the host serving the app. Beside it, a bare idle `node` started at the
  same time, and with `IOCTL_BENCH_BASELINE` that build's idle RSS, linked the same way
  beside it. A fresh session per run.
- **retries**: one `--no-watch` link of an app whose handler does 2 ms of asynchronous work
  (concurrency 10, 2 retries, backoff 100 ms ×2 with ioctl's jitter); bursts of 30,000
  events from `ioctl events send KEY --repeat 30000`, timed until every event is delivered
  or failed and none is in flight. `ok` events never fail; `flaky` ones fail 30 % of their
  attempts (`Math.random()`), so an event takes 1.39 attempts on average and the ideal ratio
  is 1 / 1.39 = 0.72. Five interleaved pairs after a warm-up burst.
- **real-sized app**: generated by benches/real_app.rs (not a copy of anyone's app): 56
  TypeScript files (clients, middlewares, handlers, resolvers, utils, typings; ~6,300
  lines), a Service with 16 routes, 10 event handlers and a GraphQL schema, and axios,
  co-body, date-fns, lodash, ramda and uuid installed with npm (pinned versions) under
  target/tmp/bench-real-app. Cold link → ready: `ioctl link --no-watch`, a fresh
  `IOCTL_HOME` each run (10 runs after a warm-up), the cache folder the user's own (so the
  code caches of the app's dependencies, ~/.cache/ioctl/code-cache, are those the warm-up
  wrote: a new session of an app linked before). Relink: as the template's relink, editing
  node/handlers/probe.ts (which imports two of the app's utils), saves 1 s apart. With
  `IOCTL_BENCH_BASELINE`, that build's cold links alternate with this one's, and its
  relinks of the same edit (its own link, before this build's) stand beside. Beside it, the same app's
  code as a plain Node program (its Service built on ioctl's `@vtex/api` stand-in, the probe
  handler called every 1 ms) under `tsx watch` and, transpiled file by file, `node --watch`,
  with the same edit. The watching link type-checks after each relink (as users' links do);
  type check: after the relinks, single saves of node/handlers/probe.ts 300 ms after the
  previous check answered (10 after a warm-up), from the write to the link's `typecheck`
  record of that save, and the checker's own time (the record's `elapsed_ms`): an
  incremental check of what the save affected.
- **GraphQL**: the tests' graphql-books app; `{{ whoami }}` over one keep-alive HTTP/1.1
  connection to the session, paced at 1,000/s (3,000 queries after 2,000 of warm-up), and
  4 connections back to back for the rate; beside it graphql-js `execute` of the same
  document on the same schema in a plain Node process. GraphQL relink: in a watching link,
  graphql/schema.graphql gains a field `addedN: String`; from the write, a query for that
  field is posted back to back until the new schema answers it without errors.
- **platform**: a linked app's route handlers time (performance.now) VBase `saveJSON` +
  `getJSON` and Master Data `searchDocuments` with an equality `where` over 100,000
  documents (imported first with `ioctl masterdata import`, which is timed too).
- **store**: the same import, VBase and search timings on each storage backend in one run:
  the SQLite files (the default), then a PostgreSQL server the bench starts (Debian's
  `postgresql`: `initdb` into a temp folder, `pg_ctl` on a free loopback port, fsync on) with
  the session on `--store`; the PostgreSQL figure is the ioctl column, SQLite beside it.
",
        date = m.date,
        cores = m.cores,
        cpu = m.cpu,
        memory = m.memory,
        kernel = m.kernel,
        node = m.node,
        rustc = m.rustc,
        version = env!("CARGO_PKG_VERSION"),
        commit = m.commit,
        table = table(sections),
        took = took.as_secs_f64(),
    )
}

// --- processes and sessions ------------------------------------------------------------------------

/// Node.js as ioctl finds it.
fn node() -> String {
    std::env::var("IOCTL_NODE").unwrap_or_else(|_| "node".into())
}

/// `IOCTL_BENCH_BASELINE`: another build of ioctl (say, of an earlier commit) whose link →
/// ready and idle RSS are measured beside this one's, interleaved in the same run.
fn baseline() -> Option<PathBuf> {
    let bin = PathBuf::from(std::env::var_os("IOCTL_BENCH_BASELINE")?);
    assert!(bin.is_file(), "IOCTL_BENCH_BASELINE={}: no such file", bin.display());
    Some(bin)
}

/// How the baseline is named in the table: `baseline (PATH)`.
fn baseline_name(bin: &Path) -> String {
    format!("baseline (`{}`)", bin.strip_prefix(ROOT).unwrap_or(bin).display())
}

/// A temp dir with its own IOCTL_HOME, for one link session: the end-to-end tests' harness
/// (its app copies and its `ioctl` command line), plus what the figures need on top.
struct Env {
    inner: harness::Env,
    /// The session's url and token, once read from its record.
    session: std::cell::OnceCell<(String, String)>,
    /// The NATS server its link joins (`IOCTL_CLUSTER`), as one machine of a team workspace.
    cluster: Option<String>,
}

impl Env {
    fn new() -> Result<Env> {
        Ok(Env { inner: harness::Env::new(), session: Default::default(), cluster: None })
    }

    /// A machine of the team workspace on the NATS server `url`.
    fn in_cluster(url: String) -> Result<Env> {
        Ok(Env { cluster: Some(url), ..Env::new()? })
    }

    /// templates/service-course copied to `<tmp>/app`, with `files` written over it.
    fn app(&self, files: &[(&str, String)]) -> Result<PathBuf> {
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        Ok(self.inner.app("app", &files))
    }

    fn ioctl(&self, args: &[&str]) -> Command {
        self.inner.command(args)
    }

    /// An `ioctl` command line run by another build (`bin`).
    fn ioctl_of(&self, bin: &Path, args: &[&str]) -> Command {
        let mut c = self.inner.command_of(bin, args);
        if let Some(url) = &self.cluster {
            c.env("IOCTL_CLUSTER", url);
        }
        c
    }

    /// Runs an `ioctl` command to completion; fails unless it exits 0.
    fn run(&self, args: &[&str]) -> Result<()> {
        self.run_of(Path::new(harness::BIN), args)
    }

    /// `run`, by the build `bin`.
    fn run_of(&self, bin: &Path, args: &[&str]) -> Result<()> {
        let out = self.ioctl_of(bin, args).output()?;
        if !out.status.success() {
            bail!("ioctl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// The session's counts, from the control API `ioctl status` reads (a poll costs no
    /// process start, which would compete for the two cores).
    fn counts(&self) -> Result<Value> {
        if self.session.get().is_none() {
            let record = find_record(&self.inner.home())?;
            let _ = self.session.set(record);
        }
        let (url, token) = self.session.get().unwrap();
        let addr = url.strip_prefix("http://").context("session url")?;
        let mut s = TcpStream::connect(addr)?;
        write!(
            s,
            "GET /_ioctl/session HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).context("malformed HTTP answer")?;
        let v: Value = serde_json::from_str(body.trim())?;
        Ok(v["counts"].clone())
    }
}

/// The url and token of the one session record under an IOCTL_HOME.
fn find_record(dir: &Path) -> Result<(String, String)> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        let found = if path.is_dir() {
            find_record(&path).ok()
        } else {
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| Some((v["url"].as_str()?.to_string(), v["token"].as_str()?.to_string())))
        };
        if found.is_some() {
            return found.context("unreachable");
        }
    }
    bail!("no session record under {}", dir.display())
}

/// A child process whose output lines are collected with the instant each arrived.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
    /// Started as the leader of its own process group (signals go to the group).
    group: bool,
}

impl Proc {
    fn spawn(cmd: Command) -> Result<Proc> {
        Proc::start(cmd, false)
    }

    /// For programs that start children of their own (watchers): signals reach them all.
    fn spawn_group(cmd: Command) -> Result<Proc> {
        Proc::start(cmd, true)
    }

    fn start(mut cmd: Command, group: bool) -> Result<Proc> {
        use std::os::unix::process::CommandExt;
        if group {
            cmd.process_group(0);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send((Instant::now(), line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send((Instant::now(), format!("stderr: {line}")));
            }
        });
        Ok(Proc { child, lines, group })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line matching `pred`, skipping others.
    fn line(&mut self, what: &str, mut pred: impl FnMut(&str) -> bool) -> Result<(Instant, String)> {
        let deadline = Instant::now() + WAIT;
        let mut last = Vec::new();
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((at, line)) => {
                    if pred(&line) {
                        return Ok((at, line));
                    }
                    last.push(line);
                    if last.len() > 20 {
                        last.remove(0);
                    }
                }
                Err(_) => bail!("no {what} within {} s; last output:\n{}", WAIT.as_secs(), last.join("\n")),
            }
        }
    }

    /// The next JSON line matching `pred`.
    fn json(&mut self, what: &str, mut pred: impl FnMut(&Value) -> bool) -> Result<(Instant, Value)> {
        let (at, line) = self.line(what, |l| serde_json::from_str::<Value>(l).is_ok_and(|v| pred(&v)))?;
        Ok((at, serde_json::from_str(&line)?))
    }

    fn signal(&self, sig: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: kill only sends a signal, to our own child (or the group it leads).
        unsafe {
            libc::kill(if self.group { -pid } else { pid }, sig);
        }
    }

    /// Ctrl-C, then waits for the exit (killing it if it does not come).
    fn stop(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        self.signal(libc::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.signal(libc::SIGKILL);
        self.child.wait()?;
        bail!("process {} did not stop on Ctrl-C", self.pid())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A running `ioctl link` session of the bench app.
struct Link {
    proc: Proc,
    app: PathBuf,
    /// The build that runs it (this one, or the baseline), and its name as /proc/PID/comm
    /// shows it.
    bin: PathBuf,
    comm: String,
    // Last: dropped after the process has stopped.
    env: Env,
}

impl Link {
    /// Links the bench app (with `probe` at version 0) and waits for `ready`.
    fn start(extra: &[&str]) -> Result<Link> {
        Link::start_app(&bench_app(), extra)
    }

    /// Links the template with `files` written over it, and waits for `ready`.
    fn start_app(files: &[(&str, String)], extra: &[&str]) -> Result<Link> {
        Link::start_with(Path::new(harness::BIN), files, extra)
    }

    /// `start_app`, run by the build `bin` (the type check off, as the harness has it).
    fn start_with(bin: &Path, files: &[(&str, String)], extra: &[&str]) -> Result<Link> {
        Link::start_in(Env::new()?, bin, files, extra, false)
    }

    /// `start_with`, with the type check after each good build on (as users have it) or off.
    fn start_checked(bin: &Path, files: &[(&str, String)], extra: &[&str], typecheck: bool) -> Result<Link> {
        Link::start_in(Env::new()?, bin, files, extra, typecheck)
    }

    /// `start_checked`, in `env` (a PostgreSQL store's, say).
    fn start_in(env: Env, bin: &Path, files: &[(&str, String)], extra: &[&str], typecheck: bool) -> Result<Link> {
        let app = env.app(files)?;
        let mut args = vec!["link", app.to_str().unwrap(), "--json", "--no-sample-sender"];
        // `{app}` in an argument is the app's folder (made here).
        let extra: Vec<String> = extra.iter().map(|a| a.replace("{app}", app.to_str().unwrap())).collect();
        args.extend(extra.iter().map(String::as_str));
        let mut command = env.ioctl_of(bin, &args);
        if typecheck {
            command.env_remove("IOCTL_TYPECHECK");
        }
        let mut proc = Proc::spawn(command)?;
        let (_, ready) = proc.json("ready", |v| v["type"] == "ready" || v["type"] == "error")?;
        if ready["type"] != "ready" || ready["linked"] != true {
            bail!("link failed: {ready}");
        }
        // The kernel keeps the first 15 bytes of the name.
        let comm = bin.file_name().map_or("ioctl".into(), |n| n.to_string_lossy().chars().take(15).collect());
        Ok(Link { proc, app, bin: bin.to_path_buf(), comm, env })
    }

    fn delivered(&self) -> Result<u64> {
        Ok(self.env.counts()?["delivered"].as_u64().unwrap_or(0))
    }

    /// Waits until `target` deliveries have succeeded; fails on any failed delivery.
    fn wait_delivered(&self, target: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let c = self.env.counts()?;
            if c["failed"].as_u64() != Some(0) {
                bail!("deliveries failed: {c}");
            }
            if c["delivered"].as_u64().unwrap_or(0) >= target {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("deliveries did not finish: {c}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Publishes `n` `key` events with `ioctl events send` and waits until all are handled.
    fn burst(&self, key: &str, n: u64, rate: Option<u32>) -> Result<()> {
        let before = self.delivered()?;
        let n_text = n.to_string();
        let mut args = vec!["events", "send", key, "--repeat", &n_text];
        let rate_text = rate.map(|r| r.to_string());
        if let Some(r) = &rate_text {
            args.extend(["--rate", r.as_str()]);
        }
        self.env.run_of(&self.bin, &args)?;
        self.wait_delivered(before + n)
    }

    /// The processes of the session: ioctl's own (this `ioctl link` and the session process
    /// it may have started) and the Node hosts under them.
    fn processes(&self) -> Result<Processes> {
        let has = |p: u32, file: &str, what: &[u8]| {
            std::fs::read(format!("/proc/{p}/{file}")).is_ok_and(|c| c.windows(what.len()).any(|w| w == what))
        };
        let all = descendants(self.proc.pid());
        let comm = |p: u32| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        // With no relink yet, the host serving is the oldest; the spare started after it.
        let started = |p: u32| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Field 22 (starttime), counted after the `(comm)` field, which may hold spaces.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(19).and_then(|t| t.parse::<u64>().ok()).unwrap_or(u64::MAX)
        };
        // bundle.js: the host's entry since the runtime moved into the cache; host.js before.
        let is_host = |p: u32| has(p, "cmdline", b"/bundle.js") || has(p, "cmdline", b"/host.js");
        let mut hosts: Vec<u32> = all.iter().copied().filter(|p| is_host(*p)).collect();
        hosts.sort_by_key(|p| (started(*p), *p));
        let hosts: Vec<(u32, bool)> = hosts.iter().enumerate().map(|(i, p)| (*p, i > 0)).collect();
        Ok(Processes {
            ioctl: all.iter().copied().filter(|p| comm(*p).trim() == self.comm).collect(),
            node: hosts.iter().find(|h| !h.1).context("no Node process serving the app under ioctl")?.0,
            standby: hosts.iter().find(|h| h.1).map(|h| h.0),
        })
    }
}

/// Pids of a link session's processes.
struct Processes {
    /// `ioctl link` first, then the session process it started, if any.
    ioctl: Vec<u32>,
    /// The Node host serving the app.
    node: u32,
    /// A warm standby Node host, kept for the next relink.
    standby: Option<u32>,
}

/// A field of /proc/PID/status in kB (VmRSS, VmHWM).
fn status_kb(pid: u32, field: &str) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} for pid {pid}"))
}

/// A /proc/PID/status field summed over processes, in MB.
fn sum_mb(pids: &[u32], field: &str) -> Result<f64> {
    pids.iter().map(|p| status_kb(*p, field)).sum::<Result<f64>>().map(mb)
}

/// Proportional set size summed over processes (shared pages counted once), in MB.
fn pss_mb(pids: &[u32]) -> Result<f64> {
    let mut kb = 0.0;
    for p in pids {
        let rollup = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup"))?;
        kb += rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .context("no Pss in smaps_rollup")?;
    }
    Ok(mb(kb))
}

// --- the bench app ---------------------------------------------------------------------------------

const BENCH_SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 10,
  "events": {
    "noop": { "sender": "ioctl.manual", "keys": ["noop"] },
    "probe": { "sender": "ioctl.manual", "keys": ["probe"] },
    "lat": { "sender": "ioctl.manual", "keys": ["lat"] },
    "dump": { "sender": "ioctl.manual", "keys": ["dump"] }
  }
}
"#;

const BENCH_INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'
import { noop } from './event/noop'
import { probe } from './event/probe'
import { dump, lat } from './event/latency'

export default new Service({
  clients: { implementation: IOClients, options: { events: { concurrency: 100 } } },
  events: { noop, probe, lat, dump },
})
"#;

const NOOP: &str = "export async function noop(_ctx: any) {}\n";

const LATENCY: &str = r#"const starts: string[] = []

export async function lat(ctx: any) {
  starts.push(`${ctx.vtex.eventInfo.id} ${(performance.timeOrigin + performance.now()).toFixed(3)}`)
}

export async function dump(_ctx: any) {
  console.log(`latency-probe ${starts.join(',')}`)
  starts.length = 0
}
"#;

/// The relink probe: on the first event it handles, each loaded version says which it is
/// and when that event started (ms since the epoch, µs precision).
fn probe_source(version: usize, signature: &str) -> String {
    format!(
        "const VERSION = 'v{version}'\nlet first = true\n\nexport {signature} {{\n  if (first) {{\n    first = false\n    \
         console.log(`relink-probe ${{VERSION}} ${{(performance.timeOrigin + performance.now()).toFixed(3)}}`)\n  }}\n}}\n"
    )
}

fn bench_app() -> Vec<(&'static str, String)> {
    vec![
        ("node/service.json", BENCH_SERVICE.into()),
        ("node/index.ts", BENCH_INDEX.into()),
        ("node/event/noop.ts", NOOP.into()),
        ("node/event/latency.ts", LATENCY.into()),
        ("node/event/probe.ts", probe_source(0, "async function probe(_ctx: any)")),
    ]
}

/// `relink-probe vN T` anywhere in `text` → (N, T).
fn parse_probe(text: &str) -> Option<(usize, f64)> {
    let rest = &text[text.find("relink-probe v")? + "relink-probe v".len()..];
    let mut parts = rest.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

// --- link → ready ------------------------------------------------------------------------------------

/// Spawning `ioctl link` (the build `bin`) on a fresh template copy with a fresh IOCTL_HOME
/// until its `ready` line: (ms, the ready record).
fn link_once(bin: &Path) -> Result<(f64, Value)> {
    let env = Env::new()?;
    let app = env.app(&[])?;
    let t = Instant::now();
    let mut link =
        Proc::spawn(env.ioctl_of(bin, &["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]))?;
    let (at, ready) = link.json("ready", |v| v["type"] == "ready")?;
    link.stop()?;
    // The session outlives its client by its own shutdown: let it end (its record goes with
    // it) before the next link starts, so one build's teardown never lands on the other's start.
    let deadline = Instant::now() + Duration::from_secs(5);
    while find_record(&env.inner.home()).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(((at - t).as_secs_f64() * 1000.0, ready))
}

fn link_ready() -> Result<Section> {
    const RUNS: usize = 20;
    let (mut wall, mut reported, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    let base = baseline();
    let mut base_wall = Vec::new();
    for run in 0..=RUNS {
        // With a baseline, each round the other build goes first.
        let base_first = base.is_some() && run % 2 == 1;
        let mut base_once = || -> Result<()> {
            if let Some(bin) = &base {
                let (ms, _) = link_once(bin)?;
                if run > 0 {
                    base_wall.push(ms);
                }
            }
            Ok(())
        };
        if base_first {
            base_once()?;
        }
        let (link_ms, ready) = link_once(Path::new(harness::BIN))?;
        if !base_first {
            base_once()?;
        }

        let t = Instant::now();
        let status = Command::new(node()).args(["-e", ""]).status()?;
        let node_ms = t.elapsed().as_secs_f64() * 1000.0;
        if !status.success() {
            bail!("node -e '' failed");
        }
        if run > 0 {
            wall.push(link_ms);
            reported.push(ready["elapsed_ms"].as_f64().unwrap_or(f64::NAN));
            bare.push(node_ms);
        }
    }
    let s = summary(&wall);
    let (b, r) = (summary(&bare), summary(&reported));
    let mut beside = format!("`node -e ''`: {}", ms_summary(b));
    if let Some(bin) = &base {
        beside += &format!("; {}: {}", baseline_name(bin), ms_summary(summary(&base_wall)));
    }
    Ok(Section {
        rows: vec![Row::new(
            "link → ready",
            ms_summary(s),
            beside,
            "median ≤ 150 ms",
            Some(s.median <= 150.0),
        )],
        notes: vec![format!(
            "link → ready: ioctl's own `ready in N ms` (from its main to ready) {}; a bare Node start is {:.0}% of the whole",
            ms_summary(r),
            b.median / s.median * 100.0
        )],
        failed: false,
    })
}

// --- relink ----------------------------------------------------------------------------------------

fn relink() -> Result<Section> {
    const RUNS: usize = 15;
    // As users link: the type check runs after each relink (off the relink's path).
    let (ioctl, mut notes) = relink_ioctl(Path::new(harness::BIN), RUNS, true)?;
    let s = summary(&ioctl);
    let mut beside = Vec::new();
    match relink_ioctl(Path::new(harness::BIN), RUNS, false) {
        Ok((t, _)) => beside.push(format!("this build with `--no-typecheck`: {}", ms_summary(summary(&t)))),
        Err(e) => notes.push(format!("relink: --no-typecheck not measured: {e:#}")),
    }
    if let Some(bin) = baseline() {
        match relink_ioctl(&bin, RUNS, false) {
            Ok((t, _)) => beside.push(format!("{}: {}", baseline_name(&bin), ms_summary(summary(&t)))),
            Err(e) => notes.push(format!("relink: {} not measured: {e:#}", baseline_name(&bin))),
        }
    }
    match install_tsx() {
        Ok((tsx, version)) => {
            let mut cmd = Command::new(tsx);
            cmd.args(["watch", "--clear-screen=false", "main.ts"]);
            match watcher_relink(cmd, "ts", RUNS) {
                Ok(t) => beside.push(format!("`tsx watch` (tsx {version}): {}", ms_summary(summary(&t)))),
                Err(e) => notes.push(format!("relink: `tsx watch` not measured: {e:#}")),
            }
        }
        Err(e) => notes.push(format!("relink: `tsx watch` skipped: {e:#}")),
    }
    let mut cmd = Command::new(node());
    cmd.args(["--watch", "main.js"]);
    match watcher_relink(cmd, "js", RUNS) {
        Ok(t) => beside.push(format!("`node --watch`: {}", ms_summary(summary(&t)))),
        Err(e) => notes.push(format!("relink: `node --watch` not measured: {e:#}")),
    }
    Ok(Section {
        rows: vec![Row::new(
            "relink (file write → new code handles the next event)",
            ms_summary(s),
            beside.join("; "),
            "median ≤ 50 ms",
            Some(s.median <= 50.0),
        )],
        notes,
        failed: false,
    })
}

/// Relinks of a running `ioctl link` of the build `bin` (watching) while events stream in at
/// 1,000/s.
fn relink_ioctl(bin: &Path, runs: usize, typecheck: bool) -> Result<(Vec<f64>, Vec<String>)> {
    let mut link = Link::start_checked(bin, &bench_app(), &[], typecheck)?;
    let file = link.app.join("node/event/probe.ts");
    let source = |v| probe_source(v, "async function probe(_ctx: any)");
    let r = relink_runs(&mut link, &file, (1, runs), Duration::from_millis(400), source)?;
    let (t, d, own) = (summary(&r.total), summary(&r.detect), summary(&r.reported));
    let rest = t.median - d.median - own.median;
    let notes = vec![format!(
        "relink: of the median {}, the change is printed {} after the write (the watcher's quiet window \
         is part of that), ioctl's own `relinked in` (its relink step, from the batch of changes to the switch) \
         is {}, and the remaining ~{} ms is the wait for the first event the new version handles",
        ms_summary(t),
        ms_summary(d),
        ms_summary(own),
        ms(rest)
    )];
    Ok((r.total, notes))
}

/// What each relink of [`relink_runs`] took, in ms.
struct Relinks {
    /// File write → the new version handles its first event.
    total: Vec<f64>,
    /// File write → ioctl prints the change.
    detect: Vec<f64>,
    /// ioctl's own `relinked in`.
    reported: Vec<f64>,
    /// The `phases` of each `relinked` record (ms by phase).
    phases: Vec<Value>,
}

/// `runs` relinks (after one unrecorded warm-up) of a watching link whose `probe` events
/// stream in at 1,000/s: each writes `source(version)` to `file`, `quiet` after the last
/// relink, and waits for that version. Versions start at `from` (1 on a fresh link, whose
/// version 0 is first waited for; else one past the last version written).
fn relink_runs(
    link: &mut Link,
    file: &Path,
    (from, runs): (usize, usize),
    quiet: Duration,
    source: impl Fn(usize) -> String,
) -> Result<Relinks> {
    let send = ["events", "send", "probe", "--repeat", "10000000", "--rate", "1000"];
    let _stream = Proc::spawn(link.env.ioctl_of(&link.bin, &send))?;
    if from == 1 {
        link.proc.json("the first probe", |v| v["message"].as_str().and_then(parse_probe).is_some_and(|p| p.0 == 0))?;
    }
    let mut r = Relinks { total: Vec::new(), detect: Vec::new(), reported: Vec::new(), phases: Vec::new() };
    for version in from..=from + runs {
        std::thread::sleep(quiet);
        let (t0, i0) = (epoch_ms(SystemTime::now()), Instant::now());
        std::fs::write(file, source(version))?;
        let (mut handled, mut changed, mut relinked) = (None, None, None);
        let mut phases = Value::Null;
        while handled.is_none() || relinked.is_none() {
            let (at, v) = link.proc.json("the relink", |_| true)?;
            match v["type"].as_str() {
                Some("change") => changed = changed.or(Some((at - i0).as_secs_f64() * 1000.0)),
                Some("relinked") => {
                    relinked = v["elapsed_ms"].as_f64();
                    phases = v["phases"].clone();
                }
                Some("error") => bail!("relink failed: {v}"),
                _ => {}
            }
            if let Some((n, t)) = v["message"].as_str().and_then(parse_probe) {
                if n == version {
                    handled = Some(t - t0);
                }
            }
        }
        if version > from {
            r.total.push(handled.unwrap());
            r.detect.push(changed.unwrap_or(f64::NAN));
            r.reported.push(relinked.unwrap());
            r.phases.push(phases);
        }
    }
    Ok(r)
}

/// The same probe as a plain Node program (an event every 1 ms) under a restarting watcher.
fn watcher_relink(cmd: Command, ext: &str, runs: usize) -> Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let handler = dir.path().join(format!("handler.{ext}"));
    let (main, signature) = if ext == "ts" {
        ("import { handle } from './handler'\nsetInterval(handle, 1)\n", "function handle()")
    } else {
        ("const { handle } = require('./handler.js')\nsetInterval(handle, 1)\n", "function handle()")
    };
    let source = |v: usize| {
        let s = probe_source(v, signature);
        if ext == "ts" {
            s
        } else {
            format!("{}\nmodule.exports = {{ handle }}\n", s.replace("export function", "function"))
        }
    };
    std::fs::write(dir.path().join(format!("main.{ext}")), main)?;
    std::fs::write(&handler, source(0))?;
    watched_relinks(cmd, dir.path(), &handler, source, runs)
}

/// Runs `cmd` (a restarting watcher) in `dir` and times `runs` edits of `file` (after one
/// unrecorded warm-up): file write → the restarted program's first probe of that version.
fn watched_relinks(
    mut cmd: Command,
    dir: &Path,
    file: &Path,
    source: impl Fn(usize) -> String,
    runs: usize,
) -> Result<Vec<f64>> {
    cmd.current_dir(dir);
    let mut proc = Proc::spawn_group(cmd)?;
    proc.line("the first probe", |l| parse_probe(l).is_some_and(|p| p.0 == 0))?;
    let mut total = Vec::new();
    for version in 1..=runs + 1 {
        std::thread::sleep(Duration::from_millis(400));
        let t0 = epoch_ms(SystemTime::now());
        std::fs::write(file, source(version))?;
        let (_, line) = proc.line("the restarted program", |l| parse_probe(l).is_some_and(|p| p.0 == version))?;
        if version > 1 {
            total.push(parse_probe(&line).unwrap().1 - t0);
        }
    }
    let _ = proc.stop();
    Ok(total)
}

/// tsx under target/tmp/bench-peers, installed with npm on first use.
fn install_tsx() -> Result<(PathBuf, String)> {
    let dir = Path::new(PEERS).join("bench-peers");
    let bin = dir.join("node_modules/.bin/tsx");
    if !bin.exists() {
        eprintln!("bench: installing tsx with npm into {}", dir.display());
        npm::install(&dir, &["tsx@4"], "tsx")?;
        if !bin.exists() {
            bail!("npm installed tsx without {}", bin.display());
        }
    }
    let package: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("node_modules/tsx/package.json"))?)?;
    Ok((bin, package["version"].as_str().unwrap_or("?").to_string()))
}

// --- a real-sized app ---------------------------------------------------------------------------

/// The probe handler of the real-sized app, at `version`: it uses the app's utils too.
fn real_probe(version: usize) -> String {
    let body = probe_source(version, "async function probe(_ctx: any)");
    format!("import {{ newId }} from '../utils/ids'\nimport {{ dates0 }} from '../utils/dates'\n\nexport const probeIds = () => dates0([newId()])\n\n{body}")
}

/// "name m ms, ..." : the median of each phase of the `relinked` records.
fn phase_medians(phases: &[Value]) -> String {
    let names = ["read_ms", "build_ms", "load_ms", "app_modules_ms", "graphql_ms", "switch_ms"];
    names
        .iter()
        .filter_map(|n| {
            let xs: Vec<f64> = phases.iter().filter_map(|p| p[*n].as_f64()).collect();
            (!xs.is_empty()).then(|| format!("{} {} ms", n.trim_end_matches("_ms"), ms(summary(&xs).median)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A plain `node` process requiring the packages the real-sized app imports (what any first
/// load of the app pays), in ms from spawn to exit.
fn plain_dependency_load(app: &Path) -> Result<f64> {
    let script = "for (const p of ['co-body', 'date-fns', 'lodash', 'ramda', 'uuid']) require(p)";
    let t = Instant::now();
    let status = Command::new(node()).args(["-e", script]).current_dir(app.join("node")).status()?;
    if !status.success() {
        bail!("node could not require the real-sized app's dependencies");
    }
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

/// Links the generated real-sized app with the build `bin` in a fresh IOCTL_HOME and waits
/// for `ready`.
fn link_real(bin: &Path, modules: &Path, extra: &[&str], typecheck: bool) -> Result<(Link, f64)> {
    let env = Env::new()?;
    let app = env.inner.dir.path().join("store-app");
    real_app::write(&app, &real_probe(0), modules)?;
    let mut args = vec!["link", app.to_str().unwrap(), "--json", "--no-sample-sender"];
    args.extend_from_slice(extra);
    let mut command = env.ioctl_of(bin, &args);
    if typecheck {
        command.env_remove("IOCTL_TYPECHECK");
    }
    let t = Instant::now();
    let mut proc = Proc::spawn(command)?;
    let (at, ready) = proc.json("ready", |v| v["type"] == "ready" || v["type"] == "error")?;
    if ready["type"] != "ready" || ready["linked"] != true {
        bail!("the real-sized app did not link: {ready}");
    }
    Ok((Link { proc, app, bin: bin.into(), comm: "ioctl".into(), env }, (at - t).as_secs_f64() * 1000.0))
}

/// The real-sized app's node/ code as a plain Node program that loads the whole app (its
/// Service built on ioctl's `@vtex/api` stand-in, from `runtime`) and calls the probe handler
/// every 1 ms: TypeScript as written for `tsx watch` (`ts`), or each file transpiled for `node
/// --watch` (`js`). Its node_modules holds the app's dependencies and the stand-in.
fn real_peer(ext: &str, modules: &Path, runtime: &Path) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    for (rel, text) in real_app::files(&real_probe(0)) {
        let Some(rel) = rel.strip_prefix("node/").filter(|r| r.ends_with(".ts") && !r.ends_with(".d.ts")) else {
            continue;
        };
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(p.with_extension(ext), peer_source(ext, &p, &text)?)?;
    }
    let nm = dir.path().join("node_modules");
    std::fs::create_dir_all(nm.join("@vtex"))?;
    for entry in std::fs::read_dir(modules)? {
        let entry = entry?;
        std::os::unix::fs::symlink(entry.path(), nm.join(entry.file_name()))?;
    }
    std::os::unix::fs::symlink(runtime.join("vtex-api"), nm.join("@vtex/api"))?;
    // `metrics` is a global on VTEX; set it before the app's modules run.
    let setup =
        "import { MetricsAccumulator } from '@vtex/api'\n;(globalThis as any).metrics = new MetricsAccumulator()\n";
    let main = "import './setup'\nimport './index'\nimport { probe } from './handlers/probe'\nsetInterval(() => probe({}), 1)\n";
    for (name, text) in [("setup", setup), ("main", main)] {
        let p = dir.path().join(format!("{name}.{ext}"));
        std::fs::write(&p, peer_source(ext, &p, text)?)?;
    }
    Ok(dir)
}

/// `text` as the peer runs it: TypeScript for tsx, JavaScript (ioctl's own transpiler) for node.
fn peer_source(ext: &str, path: &Path, text: &str) -> Result<String> {
    if ext == "ts" {
        return Ok(text.to_string());
    }
    let ts = path.with_extension("ts");
    ioctl::build::transpile(&ts, &ts, text)
        .map(|t| t.code)
        .map_err(|d| anyhow!("cannot transpile {}: {d:?}", ts.display()))
}

/// `tsx watch` and `node --watch` relinking the real-sized app's code: one row's comparison.
fn real_peers(modules: &Path, runtime: &Path, runs: usize, notes: &mut Vec<String>) -> String {
    let mut beside = Vec::new();
    let mut skipped = None;
    let env_runtime = runtime_modules().ok();
    let mut run = |label: &str, mut cmd: Command, ext: &str| {
        if let Some(m) = &env_runtime {
            cmd.env("IOCTL_RUNTIME_MODULES", m);
        }
        let measured = real_peer(ext, modules, runtime).and_then(|dir| {
            let file = dir.path().join("handlers").join(format!("probe.{ext}"));
            let probe = |v: usize| peer_source(ext, &file, &real_probe(v)).unwrap_or_default();
            watched_relinks(cmd, dir.path(), &file, probe, runs)
        });
        match measured {
            Ok(t) => beside.push(format!("{label}: {}", ms_summary(summary(&t)))),
            Err(e) => notes.push(format!("real-sized app: {label} not measured: {e:#}")),
        }
    };
    match install_tsx() {
        Ok((tsx, version)) => {
            let mut cmd = Command::new(tsx);
            cmd.args(["watch", "--clear-screen=false", "main.ts"]);
            run(&format!("`tsx watch` (tsx {version})"), cmd, "ts");
        }
        Err(e) => skipped = Some(format!("real-sized app: `tsx watch` skipped: {e:#}")),
    }
    let mut cmd = Command::new(node());
    cmd.args(["--watch", "main.js"]);
    run("`node --watch`", cmd, "js");
    notes.extend(skipped);
    beside.join("; ")
}

/// The real-sized app (~60 files, real npm dependencies): cold link → ready, and relink of
/// one file while events stream in.
fn real_sized() -> Result<Section> {
    const LINKS: usize = 10;
    const RUNS: usize = 15;
    let modules = real_app::install(Path::new(PEERS))?;
    // To look at (or link by hand) the app this figure runs on.
    if let Some(dir) = std::env::var_os("IOCTL_BENCH_WRITE_APP") {
        real_app::write(Path::new(&dir), &real_probe(0), &modules)?;
        bail!("wrote the real-sized app to {} (IOCTL_BENCH_WRITE_APP), measured nothing", Path::new(&dir).display());
    }
    let this = Path::new(harness::BIN);
    let base = baseline();
    let (mut cold, mut plain, mut base_cold) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..=LINKS {
        // With a baseline, each round the other build goes first.
        let base_first = base.is_some() && run % 2 == 1;
        let mut base_once = || -> Result<()> {
            if let Some(bin) = &base {
                let (mut link, ms) = link_real(bin, &modules, &["--no-watch"], false)?;
                link.proc.stop()?;
                if run > 0 {
                    base_cold.push(ms);
                }
            }
            Ok(())
        };
        if base_first {
            base_once()?;
        }
        let (mut link, ms) = link_real(this, &modules, &["--no-watch"], false)?;
        let deps = plain_dependency_load(&link.app)?;
        link.proc.stop()?;
        if !base_first {
            base_once()?;
        }
        if run > 0 {
            cold.push(ms);
            plain.push(deps);
        }
    }
    // The baseline's relinks of the same edit, before this build's (same spacing).
    let base_relinks = match &base {
        Some(bin) => {
            let (mut link, _) = link_real(bin, &modules, &[], true)?;
            let file = link.app.join(real_app::PROBE_FILE);
            Some(relink_runs(&mut link, &file, (1, RUNS), Duration::from_secs(1), real_probe)?)
        }
        None => None,
    };
    // As users link: the type check runs after each relink (off the relink's path).
    let (mut link, _) = link_real(this, &modules, &[], true)?;
    let file = link.app.join(real_app::PROBE_FILE);
    // Saves a second apart, as a developer's are: the standby has loaded the dependencies.
    let r = relink_runs(&mut link, &file, (1, RUNS), Duration::from_secs(1), real_probe)?;
    // Saves 400 ms apart (as the template's figure): sooner than a standby loads them.
    let rapid = relink_runs(&mut link, &file, (RUNS + 2, RUNS), Duration::from_millis(400), real_probe)?;
    let checks = type_checks(&mut link, &file, 2 * RUNS + 3, RUNS)?;
    let mut notes = Vec::new();
    let beside = real_peers(&modules, &host_runtime_dir(link.proc.pid())?, RUNS, &mut notes);
    let (c, t, d, own) = (summary(&cold), summary(&r.total), summary(&r.detect), summary(&r.reported));
    let name = format!("{}-file app", real_app::ts_files());
    notes.insert(
        0,
        format!(
            "real-sized app: {} TypeScript files, {} lines, dependencies {} (npm, under target/tmp/bench-real-app)",
            real_app::ts_files(),
            real_app::lines(),
            "axios, co-body, date-fns, lodash, ramda, uuid"
        ),
    );
    notes.insert(1, format!("real-sized app: ioctl's relink step by phase (medians): {}", phase_medians(&r.phases)));
    let (mut beside_total, mut beside_own, mut beside_cold) = (beside, String::new(), String::new());
    if let (Some(bin), Some(b)) = (&base, &base_relinks) {
        let name = baseline_name(bin);
        beside_total += &format!("; {name}: {}", ms_summary(summary(&b.total)));
        beside_own = format!("; {name}: {}", ms_summary(summary(&b.reported)));
        beside_cold = format!("; {name}: {}", ms_summary(summary(&base_cold)));
        notes.insert(
            2,
            format!("real-sized app: {name}'s relink step by phase (medians): {}", phase_medians(&b.phases)),
        );
    }
    notes.insert(
        2,
        format!(
            "real-sized app: saves 400 ms apart (sooner than a new standby has loaded the dependencies, so a relink waits for it): save → new code {}, ioctl's relink step {} (phases: {})",
            ms_summary(summary(&rapid.total)),
            ms_summary(summary(&rapid.reported)),
            phase_medians(&rapid.phases)
        ),
    );
    Ok(Section {
        rows: vec![
            Row::new(
                &format!("{name}: save of one file → new code handles the next event"),
                ms_summary(t),
                beside_total,
                "median ≤ 50 ms",
                Some(t.median <= 50.0),
            ),
            Row::new(
                &format!("{name}: ioctl's own relink step (`relinked in`)"),
                ms_summary(own),
                format!("the change printed after the write: {}{beside_own}", ms_summary(d)),
                "median ≤ 15 ms",
                Some(own.median <= 15.0),
            ),
            Row::new(
                &format!("{name}: save of one file → its type check reported (off the relink's path)"),
                ms_summary(summary(&checks.reported)),
                format!("the checker's own time: {} ({})", ms_summary(summary(&checks.own)), checks.seen),
                "median ≤ 1,000 ms",
                Some(summary(&checks.reported).median <= 1000.0),
            ),
            Row::new(
                &format!("{name}: link → ready (cold, fresh IOCTL_HOME)"),
                ms_summary(c),
                format!(
                    "a plain `node` requiring the packages the app imports: {}{beside_cold}",
                    ms_summary(summary(&plain))
                ),
                "median ≤ 250 ms",
                Some(c.median <= 250.0),
            ),
        ],
        notes,
        failed: false,
    })
}

/// What the type checks after single saves took, in ms.
struct TypeChecks {
    /// File write → the `typecheck` record of that save.
    reported: Vec<f64>,
    /// The checker's own time for it (the record's `elapsed_ms`).
    own: Vec<f64>,
    /// What the last check saw: the app's files in the program, its type errors, the TypeScript.
    seen: String,
}

/// `runs` single saves (after one unrecorded warm-up) of `file` in a watching link with the
/// type check on, each once the previous check has answered: write → its `typecheck` record.
fn type_checks(link: &mut Link, file: &Path, from: usize, runs: usize) -> Result<TypeChecks> {
    let (mut reported, mut own, mut seen) = (Vec::new(), Vec::new(), String::new());
    // The last relink's check (a check of the newest build comes after each relink).
    link.proc.json("the relinks' last type check", |v| v["type"] == "typecheck")?;
    for version in from..=from + runs {
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        std::fs::write(file, real_probe(version))?;
        link.proc.json("the relink", |v| v["type"] == "relinked")?;
        let (at, v) = link.proc.json("its type check", |v| v["type"] == "typecheck")?;
        if version > from {
            reported.push((at - t).as_secs_f64() * 1000.0);
            own.push(v["elapsed_ms"].as_f64().unwrap_or(f64::NAN));
        }
        seen = format!(
            "{} files of the app, {} type errors, TypeScript {}",
            v["files"],
            v["errors"].as_array().map_or(0, Vec::len),
            v["typescript"].as_str().unwrap_or("?")
        );
    }
    Ok(TypeChecks { reported, own, seen })
}

// --- bus alone -----------------------------------------------------------------------------------------

fn bus_alone() -> Result<Section> {
    use ioctl::protocol::{Event, Scope};
    use ioctl::session::bus::{Bus, Delivery};
    use std::sync::Arc;
    use tokio::sync::mpsc as chan;
    const RUNS: usize = 5;
    const N: usize = 1_000_000;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let scope = Scope { account: "local".into(), workspace: "dev".into() };
    fn drain<T: Send + 'static>(mut rx: chan::Receiver<T>) -> tokio::task::JoinHandle<usize> {
        tokio::spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        })
    }
    let (mut bus_rates, mut chan_rates) = (Vec::new(), Vec::new());
    for run in 0..=RUNS {
        // Publisher and drain are both tasks on the runtime, as in `ioctl link`.
        let scope = scope.clone();
        let bus_rate = rt.block_on(rt.spawn(async move {
            let bus = Bus::new();
            let (tx, rx) = chan::channel::<Delivery>(1024);
            let sub: ioctl::app::EventSubscription =
                serde_json::from_value(json!({"sender": "ioctl.manual", "keys": ["bench"]}))?;
            let (id, _) = bus.subscribe(scope.clone(), "bench.app@1.0.0", vec![("h".into(), sub)], tx);
            let drained = drain(rx);
            let t = Instant::now();
            for _ in 0..N {
                bus.publish(&scope, "ioctl.manual", "bench", "", json!({})).await;
            }
            bus.unsubscribe(id);
            let n = drained.await?;
            let rate = N as f64 / t.elapsed().as_secs_f64();
            anyhow::ensure!(n == N, "drained {n} of {N}");
            Ok::<f64, anyhow::Error>(rate)
        }))??;
        let chan_rate = rt.block_on(rt.spawn(async move {
            let (tx, rx) = chan::channel::<(Arc<Event>, Arc<str>)>(1024);
            let drained = drain(rx);
            let event = Arc::new(Event {
                id: "x-1".into(),
                sender: "ioctl.manual".into(),
                key: "bench".into(),
                subject: String::new(),
                body: json!({}),
                time: 0,
            });
            let t = Instant::now();
            for _ in 0..N {
                tx.send((event.clone(), "h".into())).await?;
            }
            drop(tx);
            drained.await?;
            Ok::<f64, anyhow::Error>(N as f64 / t.elapsed().as_secs_f64())
        }))??;
        if run > 0 {
            bus_rates.push(bus_rate);
            chan_rates.push(chan_rate);
        }
    }
    let s = summary(&bus_rates);
    Ok(Section {
        rows: vec![Row::new(
            "bus alone (publish → match → enqueue, in-process)",
            rate_summary(s),
            format!("the queue alone (tokio mpsc, same deliveries): {}", rate_summary(summary(&chan_rates))),
            "≥ 2,000,000/s",
            Some(s.median >= 2_000_000.0),
        )],
        notes: vec![format!(
            "bus alone: {:.0} ns per publish at the median, {:.0} ns of it the queue",
            1e9 / s.median,
            1e9 / summary(&chan_rates).median
        )],
        failed: false,
    })
}

// --- end to end --------------------------------------------------------------------------------------

fn end_to_end() -> Result<Section> {
    const RUNS: usize = 7;
    const N: u64 = 100_000;
    let mut link = Link::start(&["--no-watch"])?;
    link.burst("noop", 10_000, None)?;
    // The baseline's link, burst for burst with this one's.
    let base = baseline();
    let mut other = match &base {
        Some(bin) => Some(Link::start_with(bin, &bench_app(), &["--no-watch"])?),
        None => None,
    };
    if let Some(o) = &other {
        o.burst("noop", 10_000, None)?;
    }
    let (mut rates, mut base_rates) = (Vec::new(), Vec::new());
    let timed = |link: &Link| -> Result<f64> {
        let t = Instant::now();
        link.burst("noop", N, None)?;
        Ok(N as f64 / t.elapsed().as_secs_f64())
    };
    for _ in 0..RUNS {
        rates.push(timed(&link)?);
        if let Some(o) = &other {
            base_rates.push(timed(o)?);
        }
    }
    link.proc.stop()?;
    if let Some(o) = &mut other {
        o.proc.stop()?;
    }
    // The session's build of the app (under IOCTL_HOME/build/ACCOUNT/WORKSPACE/APP-KEY/).
    let builds = link.env.inner.home().join("build/local/dev");
    let app_build = std::fs::read_dir(&builds)?.flatten().next().context("no build of the bench app")?.path();
    let built = app_build.join("node/event/noop.js");
    let mut ceiling = Vec::new();
    for _ in 0..RUNS {
        ceiling.push(node_ceiling(&built)?);
    }
    let s = summary(&rates);
    let c = summary(&ceiling);
    Ok(Section {
        rows: vec![Row::new(
            "end to end (bus → one Node handler doing nothing)",
            rate_summary(s),
            format!(
                "ceiling, a plain Node loop calling the same handler: {}{}",
                rate_summary(c),
                base.as_ref().map_or(String::new(), |bin| format!(
                    "; {}: {}",
                    baseline_name(bin),
                    rate_summary(summary(&base_rates))
                ))
            ),
            "≥ 50,000/s",
            Some(s.median >= 50_000.0),
        )],
        notes: vec![format!(
            "end to end: {:.1} µs per event through ioctl against {:.2} µs for the call itself",
            1e6 / s.median,
            1e6 / c.median
        )],
        failed: false,
    })
}

// --- a team workspace: sent on one machine, handled on another -----------------------------------

/// Events per second of a 100,000-event burst sent on machine 1 of a team workspace (its own
/// `nats-server -js` on loopback) and handled by the app linked on machine 2 (a handler doing
/// nothing), burst for burst with the same burst through one machine's session.
fn cluster() -> Result<Section> {
    const RUNS: usize = 3;
    const N: u64 = 100_000;
    let server = match ioctl::session::cluster::server::shared() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("bench: cluster skipped: {why}");
            return Ok(Section {
                rows: vec![Row::new(
                    "team workspace (sent on machine 1, handled on machine 2)",
                    "skipped".into(),
                    format!("no nats-server: {why} (apt-get install nats-server)"),
                    "",
                    None,
                )],
                notes: Vec::new(),
                failed: false,
            });
        }
    };
    let bin = Path::new(harness::BIN);
    // Machine 1 links the template under another name: it handles none of the bench's events.
    let manifest = std::fs::read_to_string(Path::new(ROOT).join("templates/service-course/manifest.json"))?
        .replace("\"service-course\"", "\"bench-sender\"");
    let m1 =
        Link::start_in(Env::in_cluster(server.url())?, bin, &[("manifest.json", manifest)], &["--no-watch"], false)?;
    let m2 = Link::start_in(Env::in_cluster(server.url())?, bin, &bench_app(), &["--no-watch"], false)?;
    let one = Link::start(&["--no-watch"])?;
    // Sent on machine 1, timed until machine 2 has handled them all.
    let across = |n: u64| -> Result<f64> {
        let before = m2.delivered()?;
        let t = Instant::now();
        m1.env.run_of(bin, &["events", "send", "noop", "--repeat", &n.to_string()])?;
        m2.wait_delivered(before + n)?;
        Ok(n as f64 / t.elapsed().as_secs_f64())
    };
    let alone = |n: u64| -> Result<f64> {
        let t = Instant::now();
        one.burst("noop", n, None)?;
        Ok(n as f64 / t.elapsed().as_secs_f64())
    };
    across(10_000)?;
    alone(10_000)?;
    let (mut rates, mut single) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        rates.push(across(N)?);
        single.push(alone(N)?);
    }
    let (s, o) = (summary(&rates), summary(&single));
    Ok(Section {
        rows: vec![Row::new(
            "team workspace (sent on machine 1, handled on machine 2, loopback NATS)",
            rate_summary(s),
            format!("one machine, the same burst: {}", rate_summary(o)),
            "",
            None,
        )],
        notes: vec![format!(
            "cluster: {RUNS} bursts of {N} events sent with `ioctl events send --repeat` on one link session and \
             handled by a handler doing nothing on another, both joined to a local `nats-server -js` (JetStream \
             file storage), alternating with the same burst through one session; {:.1} µs per event across \
             against {:.1} µs on one machine",
            1e6 / s.median,
            1e6 / o.median
        )],
        failed: false,
    })
}

// --- the dashboard open during a burst -------------------------------------------------------------

/// Session throughput (100,000 events through a handler doing nothing) with the dashboard's
/// Events page open in chromium, against the same session without it (before and after the
/// page); the page's JS heap, DOM and drawn rows after each burst, and the session's RSS.
fn dashboard() -> Result<Section> {
    const RUNS: usize = 9;
    const N: u64 = 100_000;
    let script = Path::new(ROOT).join("tests/browser/dashboard_open.js");
    if !Path::new("/usr/bin/chromium").exists() || !Path::new(ROOT).join("node_modules/playwright-core").exists() {
        bail!("the dashboard figure needs /usr/bin/chromium and playwright-core (npm ci)");
    }
    let link = Link::start(&["--no-watch"])?;
    link.burst("noop", 10_000, None)?;
    let timed = |link: &Link| -> Result<f64> {
        let t = Instant::now();
        link.burst("noop", N, None)?;
        Ok(N as f64 / t.elapsed().as_secs_f64())
    };
    // CPU seconds per burst: the session (ioctl's processes and the Node host under them),
    // and the browser (the page driver and the chromium it runs).
    let session_cpu = |link: &Link| cpu_seconds(link.proc.pid());
    // Burst for burst, without the page, with only its live stream read (the session's own
    // cost of a page), and with the page in chromium (a fresh page each time, as a developer
    // opens one), so that the machine's drift falls on all alike.
    let (url, token) = find_record(&link.env.inner.home())?;
    // The browser starts once (its own start-up is not a page's cost); each burst gets a fresh
    // page, opened and settled before the burst, as a developer's page is when one comes.
    let mut driver = Command::new(node())
        .arg(&script)
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let driver_pid = driver.id();
    let mut said = BufReader::new(driver.stdout.take().context("page driver stdout")?).lines();
    let mut input = driver.stdin.take().context("page driver stdin")?;
    let mut next = || -> Result<String> { said.next().context("the page driver ended")?.map_err(Into::into) };
    let (mut without, mut streamed, mut with, mut pages) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_without, mut cpu_with) = (Vec::new(), Vec::new());
    let (mut cpu_browser, mut main_thread): (Vec<std::collections::BTreeMap<String, f64>>, Vec<Vec<f64>>) =
        (Vec::new(), Vec::new());
    // Each round runs the three in a rotated order (without, stream, page; then stream, page,
    // without; ...), so that neither a warm-up nor a drift within a round favours one of them;
    // the page is closed after its burst, so that the bursts without a page have none open.
    for round in 0..RUNS {
        for slot in 0..3 {
            match (round + slot) % 3 {
                0 => {
                    let cpu = session_cpu(&link);
                    without.push(timed(&link)?);
                    cpu_without.push(session_cpu(&link) - cpu);
                }
                1 => {
                    let reader = LiveReader::open(&url, &token)?;
                    streamed.push(timed(&link)?);
                    if reader.close() == 0 {
                        bail!("the live stream sent nothing during a burst");
                    }
                }
                _ => {
                    let out = link.env.ioctl_of(&link.bin, &["dashboard", "--no-open"]).output()?;
                    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
                    let login = printed
                        .split_whitespace()
                        .find(|w| w.starts_with("http://"))
                        .context("no dashboard link")?
                        .to_string();
                    writeln!(input, "open {login}")?;
                    if next()? != "open" {
                        bail!("the dashboard page did not open");
                    }
                    writeln!(input, "measure")?;
                    let before: Value = serde_json::from_str(&next()?)?;
                    let (cpu, browser) = (session_cpu(&link), browser_cpu(driver_pid));
                    let trace = round == 4 && std::env::var_os("IOCTL_BENCH_TRACE").is_some();
                    if trace {
                        writeln!(input, "trace-start")?;
                        next()?;
                    }
                    with.push(timed(&link)?);
                    if trace {
                        writeln!(input, "trace-stop")?;
                        next()?;
                    }
                    cpu_with.push(session_cpu(&link) - cpu);
                    let after = browser_cpu(driver_pid);
                    cpu_browser
                        .push(after.iter().map(|(k, v)| (k.clone(), v - browser.get(k).unwrap_or(&0.0))).collect());
                    writeln!(input, "measure")?;
                    let page: Value = serde_json::from_str(&next()?)?;
                    let main: Vec<f64> = ["task_s", "script_s", "style_s", "layout_s"]
                        .iter()
                        .map(|k| page[k].as_f64().unwrap_or(0.0) - before[k].as_f64().unwrap_or(0.0))
                        .collect();
                    main_thread.push(main);
                    pages.push(page);
                    writeln!(input, "close")?;
                    if next()? != "closed" {
                        bail!("the dashboard page did not close");
                    }
                }
            }
        }
    }
    drop(input);
    let _ = driver.wait();
    let session_rss = link.processes()?.ioctl.iter().map(|p| status_kb(*p, "VmRSS")).sum::<Result<f64>>().map(mb)?;
    let (w, o, st) = (summary(&with), summary(&without), summary(&streamed));
    let ratio = w.median / o.median;
    let stream_ratio = st.median / o.median;
    let heaps: Vec<f64> = pages.iter().filter_map(|p| p["heap_mb"].as_f64()).collect();
    let rows: Vec<u64> = pages.iter().filter_map(|p| p["rows"].as_u64()).collect();
    let nodes: Vec<u64> = pages.iter().filter_map(|p| p["dom_nodes"].as_u64()).collect();
    let errors: u64 = pages.iter().filter_map(|p| p["errors"].as_u64()).sum();
    let h = summary(&heaps);
    Ok(Section {
        rows: vec![
            Row::new(
                "end to end with a page's live stream read (the session's side of a page)",
                rate_summary(st),
                format!("the same session without it: {}; ratio {stream_ratio:.2}", rate_summary(o)),
                "ratio ≥ 0.95",
                Some(stream_ratio >= 0.95),
            ),
            Row::new(
                "end to end with the dashboard's Events page open in chromium",
                rate_summary(w),
                format!("the same session without it: {}; ratio {ratio:.2}", rate_summary(o)),
                "ratio ≥ 0.95 (chromium shares the 2 cores)",
                Some(ratio >= 0.95),
            ),
            Row::new(
                "the page's JS heap after each 100,000 events",
                format!("{:.1} MB (min {:.1}, max {:.1})", h.median, h.min, h.max),
                format!("DOM nodes {nodes:?}, event rows drawn {rows:?}, page errors {errors}"),
                "bounded: no growth run to run",
                Some(h.max <= h.min * 1.5 + 5.0 && errors == 0),
            ),
        ],
        notes: vec![format!(
            "dashboard: {RUNS} rounds of three bursts of {N} events (without a page, with its live stream read, with the page open in chromium; the order rotated round by round, the page closed after its burst); the session's RSS after all {} events: {session_rss:.1} MB (its journal keeps the newest 10,000); the page is sent at most 200 live records a second and told how many it skipped",
            3 * RUNS as u64 * N + 10_000
        ), {
            let (cw, co) = (summary(&cpu_with), summary(&cpu_without));
            let kinds: std::collections::BTreeSet<&String> = cpu_browser.iter().flat_map(|m| m.keys()).collect();
            let browser = kinds
                .iter()
                .map(|k| {
                    let v: Vec<f64> = cpu_browser.iter().map(|m| *m.get(*k).unwrap_or(&0.0)).collect();
                    format!("{k} {:.2}", summary(&v).median)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let main = |i: usize| summary(&main_thread.iter().map(|m| m[i]).collect::<Vec<_>>()).median;
            format!(
                "dashboard: CPU per burst of {N} (medians): the session (ioctl and its Node host) {:.2} s with the page open, {:.2} s without it; the browser's processes during the burst (s): {browser}; the page's main thread {:.3} s (script {:.3}, style {:.3}, layout {:.3})",
                cw.median, co.median, main(0), main(1), main(2), main(3)
            )
        }],
        failed: false,
    })
}

/// Reads `GET /_ioctl/api/live` (as a page's EventSource does) on a thread, counting bytes,
/// until closed.
struct LiveReader {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl LiveReader {
    fn open(url: &str, token: &str) -> Result<LiveReader> {
        let addr = url.strip_prefix("http://").context("session url")?.to_string();
        let mut s = TcpStream::connect(&addr)?;
        write!(s, "GET /_ioctl/api/live HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n")?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut read, mut buf) = (0u64, [0u8; 65536]);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => read += n as u64,
                    Err(_) => continue,
                }
            }
            read
        });
        Ok(LiveReader { stop, thread })
    }

    /// Stops reading; the bytes read.
    fn close(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

// --- retries: throughput with failures -----------------------------------------------------------

const RETRY_SERVICE: &str = r#"{
  "timeout": 10,
  "events": { "work": { "sender": "ioctl.manual", "keys": ["ok", "flaky"] } }
}
"#;

const RETRY_INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'

// 2 ms of (asynchronous) work per attempt; `flaky` events fail 30 % of their attempts.
async function work(ctx: any) {
  await new Promise((resolve) => setTimeout(resolve, 2))
  if (ctx.key === 'flaky' && Math.random() < 0.3) throw new Error('flaky')
}

export default new Service({
  clients: {
    implementation: IOClients,
    options: { events: { concurrency: 10, retries: 2, initialBackoffDelay: 100, exponentialBackoffCoefficient: 2 } },
  },
  events: { work },
})
"#;

/// Events per second through one handler (2 ms of work, concurrency 10) failure-free, and
/// with 30 % of attempts failing and 2 retries waiting out their backoff (100 ms, ×2).
fn retry_throughput() -> Result<Section> {
    const RUNS: usize = 5;
    // Long enough that the last events' retries (≤ 360 ms of backoff, jitter included) are a
    // small part of the run: the figure is a throughput, not the latency of the last retry.
    const N: u64 = 30_000;
    let files = [("node/service.json", RETRY_SERVICE.to_string()), ("node/index.ts", RETRY_INDEX.to_string())];
    let link = Link::start_app(&files, &["--no-watch"])?;
    let settle = |key: &str| -> Result<f64> {
        let before = link.env.counts()?;
        let done = |c: &Value| c["delivered"].as_u64().unwrap_or(0) + c["failed"].as_u64().unwrap_or(0);
        let target = done(&before) + N;
        let t = Instant::now();
        link.env.run(&["events", "send", key, "--repeat", &N.to_string()])?;
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let c = link.env.counts()?;
            if done(&c) >= target && c["in_flight"] == 0 {
                return Ok(N as f64 / t.elapsed().as_secs_f64());
            }
            if Instant::now() > deadline {
                bail!("retry deliveries did not finish: {c}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    settle("ok")?;
    let (mut clean, mut flaky) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        clean.push(settle("ok")?);
        flaky.push(settle("flaky")?);
    }
    let (c, f) = (summary(&clean), summary(&flaky));
    let ratio = f.median / c.median;
    Ok(Section {
        rows: vec![Row::new(
            "retries: 30 % failing attempts, 2 retries (backoff 100 ms ×2), concurrency 10",
            rate_summary(f),
            format!("same handler failure-free: {}", rate_summary(c)),
            "≥ 0.6 × failure-free",
            Some(ratio >= 0.6),
        )],
        notes: vec![format!(
            "retries: with failures the median is {ratio:.2} of the failure-free one; a retry waiting out its backoff holds no concurrency slot"
        )],
        failed: false,
    })
}

/// Events per second of a Node loop awaiting the built handler in-process.
fn node_ceiling(built: &Path) -> Result<f64> {
    const SCRIPT: &str = r#"
const { noop } = require(process.argv[1])
const ctx = { body: {}, key: 'noop', sender: 'ioctl.manual', subject: '', state: {}, vtex: {} }
;(async () => {
  for (let i = 0; i < 100000; i++) await noop(ctx)
  const n = 1000000
  const t = performance.now()
  for (let i = 0; i < n; i++) await noop(ctx)
  console.log(n / ((performance.now() - t) / 1000))
})()
"#;
    let out = Command::new(node()).arg("-e").arg(SCRIPT).arg(built).output()?;
    if !out.status.success() {
        bail!("ceiling loop failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

// --- latency -------------------------------------------------------------------------------------------

/// Publish → handler start at 1,000 events/s, run after run, in one link by the build `bin`.
struct LatencySeries {
    p50: Vec<f64>,
    p99: Vec<f64>,
    worst: Vec<f64>,
    best: f64,
}

/// Runs of 3,000 events (after 500 to warm up); with a baseline, its runs alternate with this
/// build's (each round the other goes first), so a slow spell of the machine hits both.
const LATENCY_RUNS: usize = 7;

/// One link (and its tail) measuring latency run after run.
struct LatencyRig {
    link: Link,
    tail: Proc,
    series: LatencySeries,
}

impl LatencyRig {
    fn start(bin: &Path) -> Result<LatencyRig> {
        let link = Link::start_with(bin, &bench_app(), &["--no-watch"])?;
        let mut tail = Proc::spawn(link.env.ioctl_of(bin, &["events", "tail", "--json", "--key", "lat"]))?;
        if bin == Path::new(harness::BIN) {
            tail.json("tail's hello", |v| v["type"] == "hello")?;
        } else {
            // A build from before the versioned protocol says no hello: give it time to subscribe.
            std::thread::sleep(Duration::from_secs(1));
        }
        let series = LatencySeries { p50: Vec::new(), p99: Vec::new(), worst: Vec::new(), best: f64::INFINITY };
        let mut rig = LatencyRig { link, tail, series };
        latency_run(&mut rig.link, &mut rig.tail, 500)?;
        Ok(rig)
    }

    fn measure(&mut self) -> Result<()> {
        let samples = sorted(&latency_run(&mut self.link, &mut self.tail, 3000)?);
        self.series.p50.push(percentile(&samples, 50.0));
        self.series.p99.push(percentile(&samples, 99.0));
        self.series.worst.push(*samples.last().unwrap());
        self.series.best = self.series.best.min(samples[0]);
        Ok(())
    }

    fn stop(mut self) -> Result<LatencySeries> {
        // SIGTERM: a tail started from a non-interactive shell's background job ignores Ctrl-C.
        self.tail.signal(libc::SIGTERM);
        drop(self.tail);
        self.link.proc.stop()?;
        Ok(self.series)
    }
}

fn latency() -> Result<Section> {
    let (offset, within) = clock_offset()?;
    let mut mine = LatencyRig::start(Path::new(harness::BIN))?;
    let mut base = baseline().map(|bin| (baseline_name(&bin), LatencyRig::start(&bin)));
    for round in 0..LATENCY_RUNS {
        let other = match &mut base {
            Some((_, Ok(rig))) => Some(rig),
            _ => None,
        };
        match other {
            Some(other) if round % 2 == 1 => {
                other.measure()?;
                mine.measure()?;
            }
            Some(other) => {
                mine.measure()?;
                other.measure()?;
            }
            None => mine.measure()?,
        }
    }
    let mine = mine.stop()?;
    let base = base.map(|(name, rig)| (name, rig.and_then(LatencyRig::stop)));
    let (a, b) = (summary(&mine.p50), summary(&mine.p99));
    let mut beside = (String::new(), format!("max per run: {}", ms_summary(summary(&mine.worst))));
    let mut notes = vec![format!(
        "latency: Node's wall clock (`performance.timeOrigin + performance.now()`) read {:+.3} ms against \
         Rust's `SystemTime` (±{:.3} ms, half the best ping-pong round trip); latencies are not corrected for it. \
         {LATENCY_RUNS} runs of 3,000 events, smallest latency seen {} ms",
        offset,
        within,
        ms(mine.best)
    )];
    match base {
        Some((name, Ok(other))) => {
            notes[0].push_str(&format!("; the {name}'s runs alternate with these"));
            beside.0 = format!("{name}: {}", ms_summary(summary(&other.p50)));
            beside.1 += &format!("; {name}: {}", ms_summary(summary(&other.p99)));
        }
        Some((name, Err(e))) => notes.push(format!("latency: the {name} could not be measured: {e:#}")),
        None => {}
    }
    Ok(Section {
        rows: vec![
            Row::new("latency at 1,000 events/s, p50 (publish → handler start)", ms_summary(a), beside.0, "", None),
            Row::new("latency at 1,000 events/s, p99", ms_summary(b), beside.1, "p99 ≤ 2 ms", Some(b.median <= 2.0)),
        ],
        notes,
        failed: false,
    })
}

fn latency_run(link: &mut Link, tail: &mut Proc, n: u64) -> Result<Vec<f64>> {
    link.burst("lat", n, Some(1000))?;
    link.env.run_of(&link.bin, &["events", "send", "dump"])?;
    let (_, dump) = link
        .proc
        .json("the latency dump", |v| v["message"].as_str().is_some_and(|m| m.starts_with("latency-probe")))?;
    let message = dump["message"].as_str().unwrap().trim_start_matches("latency-probe").trim();
    let started: HashMap<&str, f64> = message
        .split(',')
        .filter_map(|pair| {
            let (id, t) = pair.split_once(' ')?;
            Some((id, t.parse().ok()?))
        })
        .collect();
    let mut published: HashMap<String, f64> = HashMap::new();
    while published.len() < started.len() {
        let (_, v) = tail.json("the events in tail", |v| v["type"] == "event")?;
        let time = chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap_or(""))?;
        published.insert(v["id"].as_str().unwrap_or("").to_string(), time.timestamp_micros() as f64 / 1000.0);
    }
    let samples: Vec<f64> = started.iter().filter_map(|(id, t)| published.get(*id).map(|p| t - p)).collect();
    if samples.len() as u64 != n {
        bail!("matched {} of {n} events between the handler and tail", samples.len());
    }
    Ok(samples)
}

/// Node's wall clock minus Rust's, from the ping-pong with the smallest round trip.
fn clock_offset() -> Result<(f64, f64)> {
    const ECHO: &str = "process.stdin.setEncoding('utf8');\
        process.stdin.on('data', () => process.stdout.write(`${performance.timeOrigin + performance.now()}\\n`))";
    let mut child = Command::new(node()).args(["-e", ECHO]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut best = (f64::INFINITY, 0.0);
    for _ in 0..200 {
        let t1 = epoch_ms(SystemTime::now());
        stdin.write_all(b"x\n")?;
        stdin.flush()?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let t2 = epoch_ms(SystemTime::now());
        let theirs: f64 = line.trim().parse().map_err(|e| anyhow!("clock echo: {e}: {line:?}"))?;
        if t2 - t1 < best.0 {
            best = (t2 - t1, theirs - (t1 + t2) / 2.0);
        }
    }
    drop(stdin);
    let _ = child.wait();
    Ok((best.1, best.0 / 2.0))
}

// --- memory ----------------------------------------------------------------------------------------------

fn memory() -> Result<Section> {
    const RUNS: usize = 3;
    const N: u64 = 100_000;
    let (mut idle, mut growth, mut peak, mut pss, mut anon) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut each: Vec<Vec<f64>> = Vec::new();
    let (mut node_idle, mut node_after, mut standby, mut bare) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let base = baseline();
    let mut base_idle = Vec::new();
    for _ in 0..RUNS {
        let mut bare_node = Proc::spawn({
            let mut c = Command::new(node());
            c.args(["-e", "setInterval(() => {}, 1000)"]);
            c
        })?;
        // As people run it: watching, so with the warm standby for the next relink.
        let mut link = Link::start(&[])?;
        std::thread::sleep(Duration::from_secs(1));
        let p = link.processes()?;
        let before = sum_mb(&p.ioctl, "VmRSS")?;
        idle.push(before);
        pss.push(pss_mb(&p.ioctl)?);
        anon.push(sum_mb(&p.ioctl, "RssAnon")?);
        for (i, pid) in p.ioctl.iter().enumerate() {
            if each.len() <= i {
                each.push(Vec::new());
            }
            each[i].push(mb(status_kb(*pid, "VmRSS")?));
        }
        node_idle.push(mb(status_kb(p.node, "VmRSS")?));
        if let Some(s) = p.standby {
            standby.push(mb(status_kb(s, "VmRSS")?));
        }
        bare.push(mb(status_kb(bare_node.pid(), "VmRSS")?));
        bare_node.stop()?;
        if let Some(bin) = &base {
            // The baseline idles beside this one's link, watching as well.
            let mut other = Link::start_with(bin, &bench_app(), &[])?;
            std::thread::sleep(Duration::from_secs(1));
            base_idle.push(sum_mb(&other.processes()?.ioctl, "VmRSS")?);
            other.proc.stop()?;
        }
        link.burst("noop", N, None)?;
        std::thread::sleep(Duration::from_secs(1));
        growth.push(sum_mb(&p.ioctl, "VmRSS")? - before);
        peak.push(sum_mb(&p.ioctl, "VmHWM")?);
        node_after.push(mb(status_kb(p.node, "VmRSS")?));
        link.proc.stop()?;
    }
    let (i, g) = (summary(&idle), summary(&growth));
    let processes = match each.len() {
        1 => "one ioctl process".to_string(),
        n => format!("{n} ioctl processes (`ioctl link` and the session process it starts)"),
    };
    let mut notes = vec![format!(
        "memory: ioctl's idle RSS is the sum over {processes}: {}; counting their shared pages once (PSS) \
         it is {}; of the RSS, {} is anonymous memory (heap, stacks) and the rest file-backed pages (mostly the \
         binary's code)",
        each.iter().map(|e| mb_summary(summary(e))).collect::<Vec<_>>().join(" + "),
        mb_summary(summary(&pss)),
        mb_summary(summary(&anon))
    )];
    notes.push(if standby.is_empty() {
        "memory: no warm standby Node process was running".to_string()
    } else {
        format!(
            "memory: a watching session also keeps a warm standby Node process for the next relink: {}",
            mb_summary(summary(&standby))
        )
    });
    Ok(Section {
        rows: vec![
            Row::new(
                "ioctl RSS, idle",
                mb_summary(i),
                base.as_ref().map_or(String::new(), |bin| {
                    format!("{}: {}", baseline_name(bin), mb_summary(summary(&base_idle)))
                }),
                "≤ 15 MB",
                Some(i.median <= 15.0),
            ),
            Row::new(
                "ioctl RSS growth after 100,000 events",
                mb_summary(g),
                format!("ioctl's peak RSS (VmHWM): {}", mb_summary(summary(&peak))),
                "≤ 5 MB",
                Some(g.median <= 5.0),
            ),
            Row::new(
                "Node process RSS, idle / after 100,000 events",
                format!("{} / {}", mb_summary(summary(&node_idle)), mb_summary(summary(&node_after))),
                format!("a bare idle `node`: {}", mb_summary(summary(&bare))),
                "",
                None,
            ),
        ],
        notes,
        failed: false,
    })
}

// --- GraphQL: a trivial query through ioctl vs graphql-js execute in plain Node -----------------

/// The trivial query both sides run (one resolver, reading ctx.vtex).
const GRAPHQL_QUERY: &str = "{ whoami }";

/// The plain-Node side: the same schema (ioctl's build of tests/fixtures/graphql-books, with the
/// app's built resolvers and directive), `execute` on a parsed document: per-call p50 at
/// 1,000 calls/s and the most calls per second, as one JSON line.
const GRAPHQL_PLAIN: &str = r#"
const [runtime, build, appRoot, query] = process.argv.slice(1)
require(runtime + '/host/modules').install()
const { buildSchema } = require(runtime + '/host/graphql/schema')
const { readField } = require(runtime + '/host/graphql/directives')
const graphql = require('graphql')
const { resolvers } = require(build + '/resolvers.js')
const { Upper } = require(build + '/directives.js')
const schema = buildSchema(appRoot, { resolvers, schemaDirectives: { upper: Upper } }, () => {})
const document = graphql.parse(query)
const run = () => graphql.execute({ schema, document, rootValue: null, contextValue: { vtex: { account: 'local', workspace: 'dev' }, graphql: { cacheHints: [] } }, fieldResolver: readField })
async function main() {
  for (let i = 0; i < 5000; i++) await run()
  const samples = []
  const t0 = performance.now()
  for (let i = 0; i < 3000; i++) {
    const due = t0 + i
    while (performance.now() < due) await new Promise((r) => setImmediate(r))
    const t = performance.now()
    const r = await run()
    samples.push(performance.now() - t)
    if (r.errors) throw new Error(JSON.stringify(r.errors))
  }
  samples.sort((a, b) => a - b)
  const n = 50000
  const t = performance.now()
  for (let i = 0; i < n; i++) await run()
  console.log(JSON.stringify({ p50: samples[samples.length >> 1], rate: n / ((performance.now() - t) / 1000) }))
}
main()
"#;

/// A keep-alive HTTP/1.1 connection posting GraphQL queries to the session.
struct GraphqlConn {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl GraphqlConn {
    fn open(url: &str, token: &str, path: &str, query: &str) -> Result<GraphqlConn> {
        let addr = url.strip_prefix("http://").context("session url")?;
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let body = json!({ "query": query }).to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Ok(GraphqlConn { stream: BufReader::new(stream), request: request.into_bytes() })
    }

    /// One query and its whole answer (Content-Length or chunked); fails unless 200 without errors.
    fn query(&mut self) -> Result<()> {
        self.stream.get_mut().write_all(&self.request)?;
        let mut line = String::new();
        let (mut length, mut chunked, mut status) = (None, false, String::new());
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                bail!("the session closed the connection");
            }
            let l = line.trim_end();
            if status.is_empty() {
                status = l.to_string();
            } else if l.is_empty() {
                break;
            } else if let Some((k, v)) = l.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.contains("chunked"),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        if let Some(n) = length {
            body.resize(n, 0);
            self.stream.read_exact(&mut body)?;
        } else if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16)?;
                let mut chunk = vec![0; n + 2];
                self.stream.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        if !status.contains(" 200 ") || body.windows(9).any(|w| w == b"\"errors\":") {
            bail!("{status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }
}

/// `root` and every process under it, parents before their children.
/// CPU seconds (user + system) a process and its descendants have used so far (the ones still
/// running: a process that ended is not counted).
fn cpu_seconds(root: u32) -> f64 {
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    descendants(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|stat| {
            // utime and stime: fields 14 and 15, counted after the `(comm)` field.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let mut f = after.split_whitespace().skip(11);
            let user = f.next().and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0);
            let system = f.next().and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0);
            (user + system) / tick
        })
        .sum()
}

/// CPU seconds of the processes under `root` by kind: chromium's `--type=` (renderer, gpu,
/// utility...), `browser` for its main process, `driver` for the rest (the page driver's node).
fn browser_cpu(root: u32) -> std::collections::BTreeMap<String, f64> {
    let mut by_kind = std::collections::BTreeMap::new();
    for p in descendants(root) {
        let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        // Chromium's children rewrite their command line as one string, the arguments spaced.
        let args: Vec<String> =
            cmdline.split(|b| *b == 0 || *b == b' ').map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let kind = match args.iter().find_map(|a| a.strip_prefix("--type=")) {
            Some(t) => t.to_string(),
            None if args.first().is_some_and(|a| a.contains("chrom")) => "browser".to_string(),
            None => "driver".to_string(),
        };
        // Only this process, not its children (they are counted under their own kind).
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let mut f = after.split_whitespace().skip(11);
        let ticks: f64 = f.next().and_then(|t| t.parse().ok()).unwrap_or(0.0)
            + f.next().and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0);
        *by_kind.entry(kind).or_insert(0.0) += ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    }
    by_kind
}

fn descendants(root: u32) -> Vec<u32> {
    let mut all = vec![root];
    let mut i = 0;
    while i < all.len() {
        all.extend(children(all[i]));
        i += 1;
    }
    all
}

/// The runtime folder (its JavaScript, in ioctl's cache) of the Node host under the process
/// `root`: the folder of the bundle.js it runs.
fn host_runtime_dir(root: u32) -> Result<PathBuf> {
    descendants(root)
        .iter()
        .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
        .flat_map(|cmdline| {
            cmdline
                .split(|b| *b == 0)
                .map(|a| PathBuf::from(String::from_utf8_lossy(a).into_owned()))
                .collect::<Vec<_>>()
        })
        .find(|arg| arg.file_name().is_some_and(|n| n == "bundle.js"))
        .and_then(|bundle| bundle.parent().map(Path::to_path_buf))
        .with_context(|| format!("no Node host (bundle.js) under process {root}"))
}

/// The newest runtime package set in ioctl's cache (the link just installed or reused it).
fn runtime_modules() -> Result<PathBuf> {
    let cache = std::env::var_os("IOCTL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ioctl")))
        .context("no HOME")?;
    let mut found: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(&cache)?
        .flatten()
        .map(|e| e.path().join("node_modules"))
        .filter(|p| {
            p.join("graphql-tools").is_dir() && p.parent().is_some_and(|d| d.to_string_lossy().contains("runtime-"))
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .with_context(|| format!("no runtime package set with graphql-tools in {}", cache.display()))
}

fn graphql() -> Result<Section> {
    const RUNS: usize = 3;
    let env = Env::new()?;
    let app = env.inner.dir.path().join("books");
    harness::copy_dir(&Path::new(ROOT).join("tests/fixtures/graphql-books"), &app);
    let mut proc =
        Proc::spawn(env.ioctl(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]))?;
    let (_, ready) = proc.json("ready", |v| v["type"] == "ready" || v["type"] == "error")?;
    if ready["linked"] != true {
        bail!("link failed: {ready}");
    }
    let (url, token) = find_record(&env.inner.home())?;
    let path = "/ioctl.books/v1/local/dev/_v/graphql";
    let mut p50s = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let mut conn = GraphqlConn::open(&url, &token, path, GRAPHQL_QUERY)?;
        for _ in 0..2000 {
            conn.query()?;
        }
        // 3,000 queries paced at 1,000/s on one connection.
        let mut samples = Vec::new();
        let t0 = Instant::now();
        for i in 0..3000u64 {
            let due = t0 + Duration::from_millis(i);
            while Instant::now() < due {
                std::hint::spin_loop();
            }
            let t = Instant::now();
            conn.query()?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        p50s.push(percentile(&sorted(&samples), 50.0));
        // The most queries per second: 4 connections back to back.
        const PER: usize = 5000;
        let t = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (url, token) = (url.clone(), token.clone());
                std::thread::spawn(move || -> Result<()> {
                    let mut c = GraphqlConn::open(&url, &token, path, GRAPHQL_QUERY)?;
                    for _ in 0..PER {
                        c.query()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for th in threads {
            th.join().map_err(|_| anyhow!("a client thread panicked"))??;
        }
        rates.push((4 * PER) as f64 / t.elapsed().as_secs_f64());
    }
    let runtime = host_runtime_dir(proc.pid())?;
    // The session's build of the app mirrors it: node/ holds the built resolvers.
    let builds = env.inner.home().join("build/local/dev");
    let app_build = std::fs::read_dir(&builds)?.flatten().next().context("no build of the GraphQL app")?.path();
    let build = app_build.join("node");
    let modules = runtime_modules()?;
    proc.stop()?;
    let mut plain_p50 = Vec::new();
    let mut plain_rate = Vec::new();
    for _ in 0..RUNS {
        let out = Command::new(node())
            .args(["-e", GRAPHQL_PLAIN, "--"])
            .args([&runtime, &build, &app])
            .arg(GRAPHQL_QUERY)
            .env("IOCTL_RUNTIME_MODULES", &modules)
            .current_dir(app.join("node"))
            .output()?;
        if !out.status.success() {
            bail!("plain graphql-js run failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let v: Value = serde_json::from_slice(&out.stdout)?;
        plain_p50.push(v["p50"].as_f64().context("p50")?);
        plain_rate.push(v["rate"].as_f64().context("rate")?);
    }
    let (p, pp, r, pr) = (summary(&p50s), summary(&plain_p50), summary(&rates), summary(&plain_rate));
    let overhead = p.median - pp.median;
    let relinks = summary(&graphql_relink(15)?);
    Ok(Section {
        rows: vec![
            Row::new(
                "GraphQL `{ whoami }` p50 at 1,000 queries/s (one keep-alive connection)",
                ms_summary(p),
                format!("graphql-js execute in plain Node on the same schema: {}; overhead {}", ms_summary(pp), ms(overhead)),
                "overhead ≤ 0.5 ms",
                Some(overhead <= 0.5),
            ),
            Row::new(
                "GraphQL `{ whoami }` queries/s on one app (4 connections)",
                rate_summary(r),
                format!("graphql-js execute in plain Node: {}", rate_summary(pr)),
                "≥ 5,000/s",
                Some(r.median >= 5000.0),
            ),
            Row::new(
                "GraphQL relink (save of schema.graphql → the new field answers)",
                ms_summary(relinks),
                String::new(),
                "median ≤ 50 ms",
                Some(relinks.median <= 50.0),
            ),
        ],
        notes: vec![format!(
            "graphql: a query through ioctl (HTTP to the session, a pooled keep-alive unix-socket connection to the Node host, Koa, graphql-js) takes {} at p50 against {:.1} µs for graphql-js's execute alone",
            ms(p.median),
            pp.median * 1000.0
        )],
        failed: false,
    })
}

/// Saves of graphql/schema.graphql in a watching link of the books app: file write → the
/// first query for the newly added field that the new schema answers (polled back to back).
fn graphql_relink(runs: usize) -> Result<Vec<f64>> {
    let env = Env::new()?;
    let app = env.inner.dir.path().join("books");
    harness::copy_dir(&Path::new(ROOT).join("tests/fixtures/graphql-books"), &app);
    let mut proc = Proc::spawn(env.ioctl(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]))?;
    let (_, ready) = proc.json("ready", |v| v["type"] == "ready" || v["type"] == "error")?;
    if ready["linked"] != true {
        bail!("link failed: {ready}");
    }
    let (url, token) = find_record(&env.inner.home())?;
    let path = "/ioctl.books/v1/local/dev/_v/graphql";
    let file = app.join("graphql/schema.graphql");
    let original = std::fs::read_to_string(&file)?;
    let mut total = Vec::new();
    for version in 1..=runs + 1 {
        std::thread::sleep(Duration::from_millis(400));
        let field = format!("added{version}");
        let mut conn = GraphqlConn::open(&url, &token, path, &format!("{{ {field} }}"))?;
        let t = Instant::now();
        std::fs::write(&file, original.replace("type Query {", &format!("type Query {{\n  {field}: String")))?;
        let deadline = t + WAIT;
        while conn.query().is_err() {
            if Instant::now() > deadline {
                bail!("the schema with `{field}` was never served");
            }
        }
        if version > 1 {
            total.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    proc.stop()?;
    Ok(total)
}

// --- local platform services: VBase and Master Data through a handler --------------------------

const PLATFORM_SERVICE: &str = r#"{
  "memory": 256, "timeout": 30,
  "routes": {
    "vbase": { "path": "/_v/bench/vbase", "public": true },
    "search": { "path": "/_v/bench/search", "public": true },
    "axios": { "path": "/_v/bench/axios", "public": true },
    "janus": { "path": "/_v/bench/janus", "public": true }
  }
}"#;

/// The fixture that answers the outbound calls of the `axios` and `janus` routes.
const PLATFORM_FIXTURE: &str = r#"{"request": {"url": "https://{account}.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/*"},
 "response": {"body": {"Id": 1, "NameComplete": "Bench SKU"}}}"#;

/// Each route times its platform calls inside the handler and answers the milliseconds.
const PLATFORM_INDEX: &str = r#"import axios from 'axios'
import { ExternalClient, IOContext, InstanceOptions, Service } from '@vtex/api'
import { performance } from 'perf_hooks'

class Catalog extends ExternalClient {
  constructor(ctx: IOContext, options?: InstanceOptions) {
    super(`http://${ctx.account}.vtexcommercestable.com.br`, ctx, options)
  }
  sku(id: number) {
    return this.http.get(`/api/catalog_system/pvt/sku/stockkeepingunitbyid/${id}`)
  }
}

// One outbound call each, answered by a fixture: the app's own axios (intercepted), and a
// client of the stand-in (its HttpClient on axios).
async function ownAxios(ctx: any) {
  const t = performance.now()
  const { data } = await axios.get(`https://${ctx.vtex.account}.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/1`)
  ctx.body = { ms: performance.now() - t, ok: data.Id === 1 }
}

async function janus(ctx: any) {
  const catalog = new Catalog(ctx.vtex)
  const t = performance.now()
  const data = await catalog.sku(1)
  ctx.body = { ms: performance.now() - t, ok: data.Id === 1 }
}

async function vbase(ctx: any) {
  const t = performance.now()
  await ctx.clients.vbase.saveJSON('bench', 'key', { at: t })
  const got = await ctx.clients.vbase.getJSON('bench', 'key')
  ctx.body = { ms: performance.now() - t, ok: got.at === t }
}

async function search(ctx: any) {
  const t = performance.now()
  const docs = await ctx.clients.masterdata.searchDocuments({
    dataEntity: 'bench', fields: ['id', 'email'], where: ctx.query.where, pagination: { page: 1, pageSize: 10 },
  })
  ctx.body = { ms: performance.now() - t, n: docs.length }
}

export default new Service({ routes: { vbase, search, axios: ownAxios, janus } })
"#;

/// GET `path` on the session; the JSON answer.
fn get_json(url: &str, path: &str) -> Result<Value> {
    let addr = url.strip_prefix("http://").context("session url")?;
    let mut s = TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").context("malformed HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {head}\n{body}");
    }
    Ok(serde_json::from_str(body.trim())?)
}

/// What the store figure measures on one backend: the import's seconds, then VBase
/// save+get and equality-search handler timings (ms).
struct StoreRun {
    import_s: f64,
    vbase: Vec<f64>,
    search: Vec<f64>,
}

/// The platform figure's import, VBase and search measurements on the SQLite files (`None`) or
/// the PostgreSQL database `store`.
fn store_run(store: Option<String>) -> Result<StoreRun> {
    const DOCS: usize = 100_000;
    const SAMPLES: usize = 300;
    let files = vec![
        ("node/service.json", PLATFORM_SERVICE.to_string()),
        ("node/index.ts", PLATFORM_INDEX.to_string()),
        ("fixtures/sku.json", PLATFORM_FIXTURE.to_string()),
    ];
    let mut env = Env::new()?;
    env.inner.store = store;
    let mut link = Link::start_in(env, Path::new(harness::BIN), &files, &["--no-watch"], false)?;
    let (url, _) = find_record(&link.env.inner.home())?;
    let file = link.env.inner.dir.path().join("docs.ndjson");
    let mut text = String::with_capacity(DOCS * 80);
    for i in 0..DOCS {
        text.push_str(&format!(
            "{{\"id\":\"d{i}\",\"email\":\"user{i}@example.com\",\"group\":{},\"name\":\"User {i}\"}}\n",
            i % 100
        ));
    }
    std::fs::write(&file, text)?;
    let t = Instant::now();
    link.env.run(&["masterdata", "import", "bench", file.to_str().unwrap()])?;
    let import_s = t.elapsed().as_secs_f64();
    let mut vbase = Vec::new();
    for i in 0..SAMPLES + 50 {
        let v = get_json(&url, "/_v/bench/vbase")?;
        if v["ok"] != true {
            bail!("saveJSON + getJSON did not read back what it saved: {v}");
        }
        if i >= 50 {
            vbase.push(v["ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    let mut search = Vec::new();
    for i in 0..SAMPLES + 20 {
        let k = (i * 7919) % DOCS;
        let v = get_json(&url, &format!("/_v/bench/search?where=email%3Duser{k}%40example.com"))?;
        if v["n"] != 1 {
            bail!("the search for user{k} found {}", v["n"]);
        }
        if i >= 20 {
            search.push(v["ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    link.proc.stop()?;
    Ok(StoreRun { import_s, vbase, search })
}

/// The same platform operations on both backends in one run: SQLite (the default) beside a
/// PostgreSQL server started for the run on loopback (`--store`).
fn store() -> Result<Section> {
    let server = ioctl::store::pg::server::shared().map_err(|e| anyhow!("no PostgreSQL: {e}"))?;
    let database = server.create_database("bench_store")?;
    let sqlite = store_run(None)?;
    let postgres = store_run(Some(database))?;
    let row = |what: &str, pg: &[f64], lite: &[f64], goal: &str, limit: f64| {
        let (p, l) = (summary(pg), summary(lite));
        Row::new(
            what,
            format!("PostgreSQL {}", ms_summary(p)),
            format!(
                "SQLite {} (p90 {} vs {} ms)",
                ms_summary(l),
                ms(percentile(&sorted(pg), 90.0)),
                ms(percentile(&sorted(lite), 90.0))
            ),
            goal,
            Some(p.median <= limit),
        )
    };
    Ok(Section {
        rows: vec![
            row("store: VBase saveJSON + getJSON in a route handler (p50)", &postgres.vbase, &sqlite.vbase, "≤ 5 ms", 5.0),
            row(
                "store: Master Data equality search over 100,000 documents (p50)",
                &postgres.search,
                &sqlite.search,
                "≤ 10 ms",
                10.0,
            ),
            Row::new(
                "store: ioctl masterdata import of 100,000 documents",
                format!("PostgreSQL {:.2} s", postgres.import_s),
                format!("SQLite {:.2} s", sqlite.import_s),
                "≤ 20 s",
                Some(postgres.import_s <= 20.0),
            ),
        ],
        notes: vec![
            "store: the platform figure's import, VBase and search timings, run once on SQLite files and once on a PostgreSQL 15 server on loopback (initdb into a temp folder, fsync on, the session's one connection per database), in the same run; handler-side timings, 300 samples each after a warm-up".into(),
        ],
        failed: false,
    })
}

fn platform() -> Result<Section> {
    const DOCS: usize = 100_000;
    const SAMPLES: usize = 500;
    let files = vec![
        ("node/service.json", PLATFORM_SERVICE.to_string()),
        ("node/index.ts", PLATFORM_INDEX.to_string()),
        ("fixtures/sku.json", PLATFORM_FIXTURE.to_string()),
    ];
    let mut link = Link::start_app(&files, &["--no-watch", "--fixtures", "{app}/fixtures"])?;
    let (url, _) = find_record(&link.env.inner.home())?;

    // Import: the CLI process, start to end.
    let file = link.env.inner.dir.path().join("docs.ndjson");
    let mut text = String::with_capacity(DOCS * 80);
    for i in 0..DOCS {
        text.push_str(&format!(
            "{{\"id\":\"d{i}\",\"email\":\"user{i}@example.com\",\"group\":{},\"name\":\"User {i}\"}}\n",
            i % 100
        ));
    }
    std::fs::write(&file, text)?;
    let t = Instant::now();
    link.env.run(&["masterdata", "import", "bench", file.to_str().unwrap()])?;
    let import_s = t.elapsed().as_secs_f64();

    let mut vbase = Vec::new();
    for i in 0..SAMPLES + 50 {
        let v = get_json(&url, "/_v/bench/vbase")?;
        if v["ok"] != true {
            bail!("saveJSON + getJSON did not read back what it saved: {v}");
        }
        if i >= 50 {
            vbase.push(v["ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    let mut search = Vec::new();
    for i in 0..SAMPLES + 20 {
        let k = (i * 7919) % DOCS;
        let v = get_json(&url, &format!("/_v/bench/search?where=email%3Duser{k}%40example.com"))?;
        if v["n"] != 1 {
            bail!("the search for user{k} found {}", v["n"]);
        }
        if i >= 20 {
            search.push(v["ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    let outbound = |route: &str| -> Result<Vec<f64>> {
        let mut ms = Vec::new();
        for i in 0..SAMPLES + 50 {
            let v = get_json(&url, &format!("/_v/bench/{route}"))?;
            if v["ok"] != true {
                bail!("the {route} route's call was not answered by its fixture: {v}");
            }
            if i >= 50 {
                ms.push(v["ms"].as_f64().unwrap_or(f64::NAN));
            }
        }
        Ok(ms)
    };
    let (own, client) = (outbound("axios")?, outbound("janus")?);
    link.proc.stop()?;
    let (v, q) = (summary(&vbase), summary(&search));
    let (o, c) = (summary(&own), summary(&client));
    Ok(Section {
        rows: vec![
            Row::new(
                "VBase saveJSON + getJSON, inside a route handler (p50)",
                ms_summary(v),
                format!("p90 {} ms", ms(percentile(&sorted(&vbase), 90.0))),
                "≤ 1 ms",
                Some(v.median <= 1.0),
            ),
            Row::new(
                "Master Data searchDocuments, equality where over 100,000 documents (p50)",
                ms_summary(q),
                format!("p90 {} ms", ms(percentile(&sorted(&search), 90.0))),
                "≤ 10 ms",
                Some(q.median <= 10.0),
            ),
            Row::new(
                "an outbound call answered by a fixture: the app's own axios GET, inside a route handler (p50)",
                ms_summary(o),
                format!(
                    "p90 {} ms; through an ExternalClient (the stand-in's HttpClient): p50 {} ms, p90 {} ms",
                    ms(percentile(&sorted(&own), 90.0)),
                    ms(c.median),
                    ms(percentile(&sorted(&client), 90.0))
                ),
                "≤ 1 ms",
                Some(o.median <= 1.0 && c.median <= 1.0),
            ),
            Row::new(
                "ioctl masterdata import of 100,000 documents (NDJSON)",
                format!("{import_s:.2} s"),
                String::new(),
                "≤ 10 s",
                Some(import_s <= 10.0),
            ),
        ],
        notes: vec![format!(
            "platform: handler-side timings (performance.now around the client calls), {SAMPLES} samples each after a warm-up; the first equality search on a field builds its index; an outbound call crosses the host's socket to the session, which matches it against the link's fixtures (--fixtures) and answers"
        )],
        failed: false,
    })
}
