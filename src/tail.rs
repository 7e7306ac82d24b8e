//! `ioctl events tail`: streams a session's events and deliveries, for people or as JSON.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use console::Style;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::bus::Scope;
use crate::terminal::Format;
use crate::{client, session};

#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub sender: Option<String>,
    pub key: Option<String>,
}

pub async fn run(scope: &Scope, filters: &Filters, format: Format) -> anyhow::Result<ExitCode> {
    let home = session::home()?;
    let record = session::require(&home, scope)?;
    let resp = client::get(&record.url, "/_ioctl/events/tail", Some(&record.token)).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!(
            "the link session refused the tail ({status}): {}",
            client::text(resp).await?.trim()
        );
    }
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut view = View {
        filters: filters.clone(),
        format,
        shown: Shown::default(),
    };
    let mut out = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else { continue };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(msg) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if let Some(text) = view.render(&msg) {
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            if msg["type"] == "session_end" {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    bail!("lost the connection to the link session for {scope} (it stopped without saying goodbye)")
}

/// Event ids that passed the filters, so their deliveries show too (bounded memory).
#[derive(Default)]
struct Shown {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Shown {
    const MAX: usize = 10_000;
    fn insert(&mut self, id: &str) {
        if self.set.insert(id.to_string()) {
            self.order.push_back(id.to_string());
            if self.order.len() > Self::MAX {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
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
    fn render(&mut self, msg: &Value) -> Option<String> {
        let s = |k: &str| msg[k].as_str().unwrap_or("").to_string();
        match msg["type"].as_str()? {
            "event" => {
                if self.filters.sender.as_deref().is_some_and(|f| f != s("sender"))
                    || self.filters.key.as_deref().is_some_and(|f| f != s("key"))
                {
                    return None;
                }
                self.shown.insert(&s("id"));
            }
            "delivery" if !self.shown.set.contains(&s("event_id")) => return None,
            _ => {}
        }
        if self.format.json {
            return Some(msg.to_string());
        }
        let dim = Style::new().dim().force_styling(self.format.color);
        let time = dim.apply_to(chrono::Local::now().format("%H:%M:%S%.3f").to_string());
        let c = |st: Style| st.force_styling(self.format.color);
        Some(match msg["type"].as_str()? {
            "hello" => format!(
                "tailing events of account {}, workspace {} (Ctrl-C to stop)",
                s("account"),
                s("workspace")
            ),
            "event" => {
                let subject = if s("subject").is_empty() {
                    String::new()
                } else {
                    format!(" subject={}", s("subject"))
                };
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
            "lagged" => format!(
                "{time} warn: this tail fell behind and missed {} records",
                msg["skipped"]
            ),
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
