//! `ioctl events send | failed | replay`: publish a manual event into a session, list its
//! dead letters, and deliver them again.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::bus::Scope;
use crate::diagnostic::Diagnostic;
use crate::{client, record};

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
        Data::File(p) => match std::fs::read_to_string(p) {
            Ok(t) => (p.clone(), t),
            Err(e) => {
                return Err(Diagnostic::at_line_col(p, None, 1, 1, format!("cannot read: {e}")));
            }
        },
    };
    serde_json::from_str(&text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rfind(" at line ").map_or(msg.clone(), |i| msg[..i].to_string());
        Diagnostic::at_line_col(&label, Some(&text), e.line(), e.column(), format!("invalid JSON: {msg}"))
            .with_help("the event body must be JSON, e.g. --data '{\"orderId\": \"123\"}'")
    })
}

pub fn valid_sender(s: &str) -> bool {
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    s.split_once('.').is_some_and(|(v, n)| word(v) && word(n))
}

pub async fn send(scope: &Scope, args: &Send, color: crate::terminal::ColorChoice) -> anyhow::Result<ExitCode> {
    let sender = args.sender.clone().unwrap_or_else(|| MANUAL_SENDER.to_string());
    if !valid_sender(&sender) {
        bail!("invalid --sender `{sender}`: an app id is `vendor.name`, e.g. vtex.events-example");
    }
    let body = match body(&args.data) {
        Ok(b) => b,
        Err(d) => {
            eprintln!("error: {}", d.render_full(color.enabled(console::Term::stderr().is_term())));
            eprintln!("nothing was published");
            return Ok(ExitCode::from(1));
        }
    };
    let record = record::require(&record::home()?, scope)?;
    let request = json!({ "key": args.key, "sender": sender, "subject": args.subject, "body": body, "repeat": args.repeat, "rate": args.rate });
    let resp = client::post(&record.url, "/_ioctl/events", Some(&record.token), request.to_string()).await?;
    let status = resp.status();
    let text = client::text(resp).await?;
    if !status.is_success() {
        bail!("the link session refused the event ({status}): {}", text.trim());
    }
    let answer: Value = serde_json::from_str(&text).context("unreadable answer from the link session")?;
    if args.json {
        println!(
            "{}",
            json!({"type": "published", "id": answer["id"], "published": answer["published"], "deliveries": answer["deliveries"]})
        );
    } else {
        let n = answer["deliveries"].as_u64().unwrap_or(0);
        let to = if n == 0 { " (no handler subscribes to it)".to_string() } else { format!(" to {n} handler(s)") };
        let id = answer["id"].as_str().unwrap_or("?");
        if args.repeat > 1 {
            println!("published {} events {} from {sender} (first {id}){to}", args.repeat, args.key);
        } else {
            println!("published {id} {} from {sender}{to}", args.key);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn failed(scope: &Scope, json_out: bool) -> anyhow::Result<ExitCode> {
    let record = record::require(&record::home()?, scope)?;
    let resp = client::get(&record.url, "/_ioctl/events/failed", Some(&record.token)).await?;
    let text = client::text(resp).await?;
    let letters: Vec<Value> = serde_json::from_str(&text).context("unreadable answer from the link session")?;
    if json_out {
        for l in &letters {
            println!(
                "{}",
                json!({"type": "failed", "event": l["event"], "app": l["app"], "handler": l["handler"], "attempts": l["attempts"], "failed_at": l["failed_at"]})
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if letters.is_empty() {
        println!("no failed events in {scope}");
        return Ok(ExitCode::SUCCESS);
    }
    for l in &letters {
        let e = &l["event"];
        println!(
            "{} {} from {} → {} {} failed at {}  body {}",
            e["id"].as_str().unwrap_or("?"),
            e["key"].as_str().unwrap_or("?"),
            e["sender"].as_str().unwrap_or("?"),
            l["app"].as_str().unwrap_or("?"),
            l["handler"].as_str().unwrap_or("?"),
            l["failed_at"].as_str().unwrap_or("?"),
            e["body"]
        );
        for a in l["attempts"].as_array().into_iter().flatten() {
            println!("  attempt {} ({} ms): {}", a["attempt"], a["elapsed_ms"], a["error"].as_str().unwrap_or(""));
            if let Some(stack) = a["stack"].as_str().and_then(|s| s.split_once('\n')).map(|(_, f)| f) {
                for line in stack.lines() {
                    println!("    {}", line.trim());
                }
            }
        }
    }
    println!("{} failed event(s); `ioctl events replay EVENT_ID` or `--all-failed` delivers them again", letters.len());
    Ok(ExitCode::SUCCESS)
}

pub async fn replay(scope: &Scope, event_id: Option<&str>, all: bool) -> anyhow::Result<ExitCode> {
    let record = record::require(&record::home()?, scope)?;
    let request = json!({ "event_id": event_id, "all": all });
    let resp = client::post(&record.url, "/_ioctl/events/replay", Some(&record.token), request.to_string()).await?;
    let status = resp.status();
    let text = client::text(resp).await?;
    let answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "error": text.trim() }));
    if !status.is_success() {
        bail!("{}", answer["error"].as_str().unwrap_or("the link session refused the replay"));
    }
    for r in answer["replayed"].as_array().into_iter().flatten() {
        println!(
            "replaying {} to {} {}",
            r["event_id"].as_str().unwrap_or("?"),
            r["app"].as_str().unwrap_or("?"),
            r["handler"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `ioctl status`: the session of a scope, its apps and its counts.
pub async fn status(scope: &Scope, json_out: bool) -> anyhow::Result<ExitCode> {
    let record = record::require(&record::home()?, scope)?;
    let resp = client::get(&record.url, "/_ioctl/session", Some(&record.token)).await?;
    let info: Value =
        serde_json::from_str(&client::text(resp).await?).context("unreadable answer from the link session")?;
    let c = &info["counts"];
    if json_out {
        println!(
            "{}",
            json!({"type": "status", "url": record.url, "pid": record.pid, "apps": record.apps, "account": scope.account, "workspace": scope.workspace, "counts": c})
        );
    } else {
        println!("link session for {scope}: {} (pid {})", record.url, record.pid);
        println!("apps: {}", record.apps.join(", "));
        println!(
            "events: {} published, {} unmatched; deliveries: {} ok, {} failed, {} in flight",
            c["published"], c["unmatched"], c["delivered"], c["failed"], c["in_flight"]
        );
    }
    Ok(ExitCode::SUCCESS)
}
