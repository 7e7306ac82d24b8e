//! `ioctl events send | failed | replay`: publish a manual event into a session, list its
//! dead letters, and deliver them again.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use super::{Connection, Lines};
use crate::diagnostic::Diagnostic;
use crate::protocol::endpoint::{GetSession, StopPublish};
use crate::protocol::stream::CommandRecord;
use crate::protocol::{
    path, DeadLetter, FailedHeader, FailedPage, PublishLine, PublishRequest, PublishResponse, ReplayRequest, Scope,
    MAX_BODY, PUBLISH_SILENCE,
};

/// The sender of events published with `ioctl events send` unless `--sender` says otherwise.
pub const MANUAL_SENDER: &str = "ioctl.manual";

/// Where a manual event's body comes from.
pub enum Data {
    None,
    Inline(String),
    File(std::path::PathBuf),
}

pub struct Send {
    pub key: String,
    pub sender: Option<String>,
    pub subject: String,
    pub data: Data,
    pub repeat: u64,
    pub rate: Option<f64>,
    pub json: bool,
}

/// Parses the event body; bad JSON is a positioned error and nothing is published.
fn body(data: &Data) -> Result<Value, Diagnostic> {
    let (label, text) = match data {
        Data::None => return Ok(json!({})),
        Data::Inline(s) => (Path::new("--data").to_path_buf(), s.clone()),
        // A FIFO or a device is refused, and no more than an event may hold is read.
        Data::File(p) => match crate::files::read_to_string(p, MAX_BODY as u64) {
            Ok(t) => (p.clone(), t),
            Err(e) => return Err(Diagnostic::at_line_col(p, None, 1, 1, e.reason())),
        },
    };
    serde_json::from_str(&text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rfind(" at line ").map_or(msg.clone(), |i| msg[..i].to_string());
        Diagnostic::at_line_col(&label, Some(&text), e.line(), e.column(), format!("invalid JSON: {msg}"))
            .with_help("the event body must be JSON, e.g. --data '{\"orderId\": \"123\"}'")
    })
}

pub async fn send(
    scope: &Scope,
    args: &Send,
    color: crate::terminal::ColorChoice,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let sender = args.sender.clone().unwrap_or_else(|| MANUAL_SENDER.to_string());
    if !crate::app::id::is_sender(&sender) {
        bail!("invalid --sender `{sender}`: an app id is `vendor.name`, e.g. vtex.events-example, or a VTEX system sender (apps)");
    }
    let body = match body(&args.data) {
        Ok(b) => b,
        Err(d) => {
            eprintln!("error: {}", d.render_full(color.enabled(console::Term::stderr().is_term())));
            eprintln!("nothing was published");
            return Ok(ExitCode::from(1));
        }
    };
    let session = Connection::find(scope, timeout)?;
    let request = PublishRequest {
        key: args.key.clone(),
        sender: sender.clone(),
        subject: args.subject.clone(),
        body,
        repeat: Some(args.repeat),
        rate: args.rate,
    };
    let request = serde_json::to_string(&request)?;
    if request.len() > MAX_BODY {
        bail!(
            "the event is {:.1} MiB; the link session takes at most {} MiB per event (VTEX's limit is far lower: keep events small)",
            request.len() as f64 / (1 << 20) as f64,
            MAX_BODY >> 20
        );
    }
    let answer = match publish(&session, request).await? {
        Ok(answer) => answer,
        Err(cut) => {
            if args.json {
                let (n, d) = (cut.published, cut.deliveries);
                println!("{}", CommandRecord::CutOff { published: n, deliveries: d, repeat: args.repeat }.line());
            }
            let (n, of) = (cut.published, args.repeat);
            bail!("{:#}; {n} of {of} event(s) were published (the session's last report)", cut.error);
        }
    };
    if args.json {
        let record = CommandRecord::Published {
            id: answer.id.as_deref(),
            published: Some(answer.published),
            deliveries: answer.deliveries,
            stopped: Some(answer.stopped),
            sender: None,
            key: None,
            body: None,
        };
        println!("{}", record.line());
    } else {
        let n = answer.deliveries;
        let to = match (answer.team, n) {
            (true, _) => " to the team workspace".to_string(),
            (false, 0) => " (no handler subscribes to it)".to_string(),
            (false, n) => format!(" to {n} handler(s)"),
        };
        let id = answer.id.as_deref().unwrap_or("?");
        if answer.stopped {
            let p = answer.published;
            println!("stopped: published {p} of {} events {} from {sender} (first {id}){to}", args.repeat, args.key);
        } else if args.repeat > 1 {
            println!("published {} events {} from {sender} (first {id}){to}", args.repeat, args.key);
        } else {
            println!("published {id} {} from {sender}{to}", args.key);
        }
    }
    Ok(if answer.stopped { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// A publish that ended without the session's answer: how far it had got, and why.
pub struct CutOff {
    pub published: u64,
    pub deliveries: u64,
    pub error: anyhow::Error,
}

/// Publishes `request` (a [`PublishRequest`] as JSON) through the session and follows its
/// progress. A session that says nothing for `--timeout` has stopped answering (a busy one
/// still reports its progress); Ctrl-C asks it to stop between two events, and its answer
/// then says how many were published. A refusal is the error; a cut-off says how far it got.
pub async fn publish(session: &Connection, request: String) -> anyhow::Result<Result<PublishResponse, CutOff>> {
    let resp = session.request("POST", path::EVENTS, Some(request)).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("{}", super::refusal(status, &super::text(resp).await?).error);
    }
    let mut lines = Lines::new(resp);
    let (mut job, mut published, mut deliveries) = (None, 0, 0);
    let cut = |published, deliveries, error| Ok(Err(CutOff { published, deliveries, error }));
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut interrupted = false;
    let silence = session.timeout().max(PUBLISH_SILENCE);
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(silence, lines.next()) => next,
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                let Some(job) = job else {
                    return cut(published, deliveries, anyhow!("interrupted before the session started publishing"));
                };
                match session.call(&StopPublish { job }).await {
                    // Refused: the job has just ended; its stream's last line comes anyway.
                    Ok(_) | Err(super::Refusal::Refused(_)) => {}
                    Err(super::Refusal::Failed(e)) => {
                        return cut(published, deliveries, e.context("interrupted, and the session did not take the stop"));
                    }
                }
                continue;
            }
        };
        let line = match next {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => return cut(published, deliveries, anyhow!("the link session ended the answer early")),
            Ok(Err(e)) => return cut(published, deliveries, e.context("lost the connection to the link session")),
            Err(_) => {
                let error = anyhow!(
                    "the link session at {} said nothing for {:.1} s (is it stopped or overloaded?); `--timeout SECONDS` waits longer",
                    session.url(),
                    silence.as_secs_f64()
                );
                return cut(published, deliveries, error);
            }
        };
        match serde_json::from_slice::<PublishLine>(&line).context("unreadable answer from the link session")? {
            PublishLine::Started { job: j } => job = Some(j),
            PublishLine::Progress { published: p, deliveries: d } => (published, deliveries) = (p, d),
            PublishLine::Done(answer) => return Ok(Ok(answer)),
        }
    }
}

/// How many failed events `ioctl events failed` shows unless told otherwise.
pub const FAILED_PAGE: usize = 100;

/// `ioctl events failed`: a page of the dead letters (the newest first), streamed from the
/// session one at a time.
pub async fn failed(scope: &Scope, json_out: bool, page: FailedPage, timeout: Duration) -> anyhow::Result<ExitCode> {
    let session = Connection::find(scope, timeout)?;
    let limit = page.limit.map(|l| format!("limit={l}&")).unwrap_or_default();
    let path = format!("{}?{limit}skip={}", path::FAILED, page.skip);
    let resp = session.request("GET", &path, None).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("{}", super::refusal(status, &super::text(resp).await?).error);
    }
    let mut lines = Lines::new(resp);
    let first = lines.next().await?.context("the link session sent no dead letters header")?;
    let header: FailedHeader = serde_json::from_slice(&first).context("unreadable dead letters header")?;
    let mut count = 0;
    while let Some(line) = lines.next().await? {
        let letter: DeadLetter = serde_json::from_slice(&line).context("unreadable dead letter")?;
        count += 1;
        if json_out {
            let l = &letter;
            let record = CommandRecord::Failed {
                event: &l.event,
                app: &l.app,
                handler: &l.handler,
                attempts: &l.attempts,
                failed_at: &l.failed_at,
            };
            println!("{}", record.line());
        } else {
            print_letter(&letter);
        }
    }
    let dropped: u64 = header.dropped.values().sum();
    let older = header.total.saturating_sub(header.skipped + count);
    if json_out {
        if older > 0 || header.skipped > 0 {
            let (total, skipped) = (header.total, header.skipped);
            println!("{}", CommandRecord::Page { shown: count, skipped, older, total }.line());
        }
        if dropped > 0 {
            let (dropped, bound, bytes_bound) = (&header.dropped, header.bound, header.bytes_bound);
            println!("{}", CommandRecord::Dropped { dropped, bound, bytes_bound }.line());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if header.total == 0 && dropped == 0 {
        println!("no failed events in {scope}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{count} failed event(s); `ioctl events replay EVENT_ID` or `--all-failed` delivers them again");
    if older > 0 {
        let next = header.skipped + count;
        println!(
            "{older} older failed event(s) not shown: `ioctl events failed --skip {next}` for the next page, or --all"
        );
    }
    for (app, n) in &header.dropped {
        println!(
            "{app}: {n} older failed event(s) dropped (each app keeps its newest {}, at most {} MiB of them)",
            header.bound,
            header.bytes_bound >> 20
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_letter(l: &DeadLetter) {
    let e = &l.event;
    println!(
        "{} {} from {} → {} {} failed at {}  body {}",
        e.id, e.key, e.sender, l.app, l.handler, l.failed_at, e.body
    );
    for a in &l.attempts {
        println!("  attempt {} ({} ms): {}", a.attempt, a.elapsed_ms, a.error);
        if let Some(stack) = a.stack.as_deref().and_then(|s| s.split_once('\n')).map(|(_, f)| f) {
            for line in stack.lines() {
                println!("    {}", line.trim());
            }
        }
    }
}

pub async fn replay(scope: &Scope, event_id: Option<&str>, all: bool, timeout: Duration) -> anyhow::Result<ExitCode> {
    let session = Connection::find(scope, timeout)?;
    let request = ReplayRequest { event_id: event_id.map(str::to_string), all };
    let answer = session.call(&request).await.map_err(super::Refusal::into_error)?;
    for r in &answer.replayed {
        println!("replaying {} to {} {}", r.event_id, r.app, r.handler);
    }
    Ok(ExitCode::SUCCESS)
}

/// The team workspace's machines, what each links and its deliveries, and their sum.
fn print_team(team: &crate::protocol::cluster::Team) {
    let n = team.machines.len();
    println!("team workspace on {}: {n} machine{}", team.server, if n == 1 { "" } else { "s" });
    for m in &team.machines {
        let this = if m.machine == team.machine { " (this one)" } else { "" };
        let apps = if m.apps.is_empty() { "no app".to_string() } else { m.apps.join(", ") };
        let c = &m.counts;
        println!(
            "  {}{this}: {apps}; {} published; deliveries: {} ok, {} failed, {} in flight",
            m.machine, c.published, c.delivered, c.failed, c.in_flight
        );
    }
    let c = &team.counts;
    println!(
        "workspace: {} published; deliveries: {} ok, {} failed, {} in flight",
        c.published, c.delivered, c.failed, c.in_flight
    );
}

/// `ioctl status`: the session of a scope, its apps and its counts.
pub async fn status(scope: &Scope, json_out: bool, timeout: Duration) -> anyhow::Result<ExitCode> {
    let session = Connection::find(scope, timeout)?;
    let info = session.call(&GetSession).await.map_err(super::Refusal::into_error)?;
    let (c, record) = (info.counts, &session.record);
    if json_out {
        let status = CommandRecord::Status {
            url: &record.url,
            pid: record.pid,
            apps: &record.apps,
            account: &scope.account,
            workspace: &scope.workspace,
            counts: &c,
            team: info.team.as_ref(),
        };
        println!("{}", status.line());
    } else {
        println!("link session for {scope}: {} (pid {})", record.url, record.pid);
        println!("apps: {}", record.apps.join(", "));
        println!(
            "events: {} published, {} unmatched; deliveries: {} ok, {} failed, {} in flight",
            c.published, c.unmatched, c.delivered, c.failed, c.in_flight
        );
        if let Some(team) = &info.team {
            print_team(team);
        }
    }
    Ok(ExitCode::SUCCESS)
}
