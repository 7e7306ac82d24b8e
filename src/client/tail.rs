//! `ioctl events tail`: streams a session's events and deliveries, for people or as JSON.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use console::Style;
use serde_json::Value;

use super::{Lines, Session};
use crate::protocol::{path, Scope};
use crate::terminal::Format;

#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub sender: Option<String>,
    pub key: Option<String>,
    /// Only deliveries to this handler (events are shown with their first such delivery).
    pub handler: Option<String>,
    /// Only final failures.
    pub failed: bool,
}

pub async fn run(scope: &Scope, filters: &Filters, format: Format) -> anyhow::Result<ExitCode> {
    let session = Session::find(scope)?;
    let resp = session.request("GET", path::TAIL, None, super::timeout()).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("the link session refused the tail: {}", super::refusal(status, &super::text(resp).await?).error);
    }
    let mut lines = Lines::new(resp);
    let hello = lines.hello(super::timeout()).await?;
    let mut view = View { filters: filters.clone(), format, shown: Shown::default() };
    let mut out = std::io::stdout();
    let mut hello = Some(serde_json::to_value(&hello)?);
    if let Some(h) = hello.as_mut() {
        h["type"] = "hello".into();
    }
    loop {
        let msg = match hello.take() {
            Some(h) => h,
            None => {
                let line = tokio::select! {
                    l = lines.next() => l,
                    // `| head -1` has ended: nothing will read what comes next.
                    _ = super::stdout_closed() => return Ok(ExitCode::SUCCESS),
                };
                let Ok(Some(line)) = line else { break };
                let Ok(msg) = serde_json::from_slice::<Value>(&line) else { continue };
                msg
            }
        };
        if let Some(text) = view.render(&msg) {
            if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                // The reader went away (`| head`): end quietly.
                return Ok(ExitCode::SUCCESS);
            }
        }
        if msg["type"] == "session_end" {
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("lost the connection to the link session for {scope} (it stopped without saying goodbye)")
}

/// Events that passed the sender/key filters, so their deliveries show too; with the
/// handler/failed filters an event is held until its first matching delivery (bounded memory).
#[derive(Default)]
struct Shown {
    /// id → the event while it is held back, `None` once printed.
    events: HashMap<String, Option<Value>>,
    order: VecDeque<String>,
}

impl Shown {
    const MAX: usize = 10_000;
    fn insert(&mut self, id: &str, held: Option<Value>) {
        if self.events.insert(id.to_string(), held).is_none() {
            self.order.push_back(id.to_string());
            if self.order.len() > Self::MAX {
                if let Some(old) = self.order.pop_front() {
                    self.events.remove(&old);
                }
            }
        }
    }
}

struct View {
    filters: Filters,
    format: Format,
    shown: Shown,
}

impl View {
    /// What to print for one record from the session (possibly a held event first).
    fn render(&mut self, msg: &Value) -> Option<String> {
        let s = |k: &str| msg[k].as_str().unwrap_or("").to_string();
        let holds = self.filters.handler.is_some() || self.filters.failed;
        match msg["type"].as_str()? {
            "event" => {
                if self.filters.sender.as_deref().is_some_and(|f| f != s("sender"))
                    || self.filters.key.as_deref().is_some_and(|f| f != s("key"))
                {
                    return None;
                }
                self.shown.insert(&s("id"), holds.then(|| msg.clone()));
                if holds {
                    return None;
                }
                self.line(msg)
            }
            "delivery" => {
                if self.filters.handler.as_deref().is_some_and(|h| h != s("handler"))
                    || (self.filters.failed && s("outcome") != "failed")
                {
                    return None;
                }
                let held = self.shown.events.get_mut(&s("event_id"))?.take();
                let event = held.and_then(|e| self.line(&e));
                let delivery = self.line(msg)?;
                Some(match event {
                    Some(e) => format!("{e}\n{delivery}"),
                    None => delivery,
                })
            }
            _ => self.line(msg),
        }
    }

    fn line(&self, msg: &Value) -> Option<String> {
        let s = |k: &str| msg[k].as_str().unwrap_or("").to_string();
        if self.format.json {
            return Some(msg.to_string());
        }
        let dim = Style::new().dim().force_styling(self.format.color);
        let time = dim.apply_to(chrono::Local::now().format("%H:%M:%S%.3f").to_string());
        let c = |st: Style| st.force_styling(self.format.color);
        Some(match msg["type"].as_str()? {
            "hello" => {
                format!("tailing events of account {}, workspace {} (Ctrl-C to stop)", s("account"), s("workspace"))
            }
            "event" => {
                let subject =
                    if s("subject").is_empty() { String::new() } else { format!(" subject={}", s("subject")) };
                format!(
                    "{time} {} {} {} {}{subject} {}",
                    c(Style::new().cyan()).apply_to("event"),
                    dim.apply_to(s("id")),
                    s("sender"),
                    c(Style::new().bold()).apply_to(s("key")),
                    msg["body"]
                )
            }
            "delivery" => {
                let outcome = s("outcome");
                let styled = match outcome.as_str() {
                    "ok" => c(Style::new().green()).apply_to(outcome.clone()),
                    "retry" => c(Style::new().yellow()).apply_to(outcome.clone()),
                    _ => c(Style::new().red()).apply_to(outcome.clone()),
                };
                let mut line = format!(
                    "{time}   ↳ {styled} {} {} → {} attempt {} in {} ms",
                    dim.apply_to(s("event_id")),
                    s("app"),
                    s("handler"),
                    msg["attempt"],
                    msg["elapsed_ms"]
                );
                if let Some(e) = msg["error"].as_str() {
                    line.push_str(&format!(": {e}"));
                }
                if let Some(d) = msg["retry_in_ms"].as_u64() {
                    line.push_str(&format!(" (retry in {d} ms)"));
                }
                line
            }
            "lagged" => format!("{time} warn: this tail fell behind and missed {} records", msg["skipped"]),
            "session_end" => {
                let n = &msg["counts"];
                format!(
                    "the link session ended: {} events published, {} deliveries ok, {} failed, {} in flight",
                    n["published"], n["delivered"], n["failed"], n["in_flight"]
                )
            }
            _ => return None,
        })
    }
}
