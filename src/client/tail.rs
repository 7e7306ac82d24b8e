//! `ioctl events tail`: streams a session's events and deliveries, for people or as JSON.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use console::Style;

use super::{Connection, Lines, Next};
use crate::protocol::stream::{Outcome, TailRecord};
use crate::protocol::{path, Event, Scope};
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

pub async fn run(
    scope: &Scope,
    filters: &Filters,
    format: Format,
    timeout: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let session = Connection::find(scope, timeout)?;
    let resp = session.request("GET", path::TAIL, None).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("the link session refused the tail: {}", super::refusal(status, &super::text(resp).await?).error);
    }
    let mut lines = Lines::new(resp);
    let hello = lines.hello(session.timeout()).await?;
    let mut view = View { filters: filters.clone(), format, shown: Shown::default() };
    let mut out = std::io::stdout();
    let mut hello = Some(TailRecord::Hello(hello));
    loop {
        let record = match hello.take() {
            Some(h) => h,
            None => match super::next_record::<TailRecord>(&mut lines).await {
                Next::Record(r) => r,
                Next::ReaderGone => return Ok(ExitCode::SUCCESS),
                Next::Ended => break,
            },
        };
        if let Some(text) = view.render(&record) {
            if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                // The reader went away (`| head`): end quietly.
                return Ok(ExitCode::SUCCESS);
            }
        }
        if let TailRecord::SessionEnd { .. } = record {
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
    events: HashMap<String, Option<Arc<Event>>>,
    order: VecDeque<String>,
}

impl Shown {
    const MAX: usize = 10_000;
    fn insert(&mut self, id: &str, held: Option<Arc<Event>>) {
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
    fn render(&mut self, record: &TailRecord) -> Option<String> {
        let holds = self.filters.handler.is_some() || self.filters.failed;
        match record {
            TailRecord::Event(event) => {
                if self.filters.sender.as_deref().is_some_and(|f| f != event.sender)
                    || self.filters.key.as_deref().is_some_and(|f| f != event.key)
                {
                    return None;
                }
                self.shown.insert(&event.id, holds.then(|| event.clone()));
                if holds {
                    return None;
                }
                self.line(record)
            }
            TailRecord::Delivery(d) => {
                if self.filters.handler.as_deref().is_some_and(|h| h != d.handler)
                    || (self.filters.failed && d.outcome != Outcome::Failed)
                {
                    return None;
                }
                let held = match self.shown.events.get_mut(&d.event_id) {
                    Some(held) => held.take(),
                    // An event published before this tail started (a replay of it, a retry):
                    // its delivery shows, unless a sender or key filter needs the event to tell.
                    None if self.filters.sender.is_none() && self.filters.key.is_none() => None,
                    None => return None,
                };
                let event = held.and_then(|e| self.line(&TailRecord::Event(e)));
                let delivery = self.line(record)?;
                Some(match event {
                    Some(e) => format!("{e}\n{delivery}"),
                    None => delivery,
                })
            }
            _ => self.line(record),
        }
    }

    fn line(&self, record: &TailRecord) -> Option<String> {
        if self.format.json {
            return serde_json::to_string(record).ok();
        }
        let dim = Style::new().dim().force_styling(self.format.color);
        let time = dim.apply_to(chrono::Local::now().format("%H:%M:%S%.3f").to_string());
        let c = |st: Style| st.force_styling(self.format.color);
        Some(match record {
            TailRecord::Hello(h) => {
                format!("tailing events of account {}, workspace {} (Ctrl-C to stop)", h.account, h.workspace)
            }
            TailRecord::Event(e) => {
                let subject = if e.subject.is_empty() { String::new() } else { format!(" subject={}", e.subject) };
                format!(
                    "{time} {} {} {} {}{subject} {}",
                    c(Style::new().cyan()).apply_to("event"),
                    dim.apply_to(&e.id),
                    e.sender,
                    c(Style::new().bold()).apply_to(&e.key),
                    e.body
                )
            }
            TailRecord::Delivery(d) => {
                let style = match d.outcome {
                    Outcome::Ok => Style::new().green(),
                    Outcome::Retry => Style::new().yellow(),
                    Outcome::Failed => Style::new().red(),
                };
                // As JSON writes it (`1.0`, `0.98`), the same in both forms.
                let elapsed = serde_json::to_string(&d.elapsed_ms).unwrap_or_default();
                let mut line = format!(
                    "{time}   ↳ {} {} {} → {} attempt {} in {elapsed} ms",
                    c(style).apply_to(d.outcome.as_str()),
                    dim.apply_to(&d.event_id),
                    d.app,
                    d.handler,
                    d.attempt,
                );
                if let Some(e) = &d.error {
                    line.push_str(&format!(": {e}"));
                }
                if let Some(ms) = d.retry_in_ms {
                    line.push_str(&format!(" (retry in {ms} ms)"));
                }
                if let Some(m) = &d.machine {
                    line.push_str(&format!(" [on {m}]"));
                }
                line
            }
            TailRecord::Lagged { skipped } => {
                format!("{time} warn: this tail fell behind and missed {skipped} records")
            }
            TailRecord::SessionEnd { counts: n } => format!(
                "the link session ended: {} events published, {} deliveries ok, {} failed, {} in flight",
                n.published, n.delivered, n.failed, n.in_flight
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::stream::DeliveryAttempt;

    fn event(id: &str, key: &str) -> TailRecord {
        TailRecord::Event(Arc::new(Event {
            id: id.into(),
            sender: "vtex.events-example".into(),
            key: key.into(),
            subject: "".into(),
            body: serde_json::json!({"random": "85"}),
            time: 0,
        }))
    }

    fn delivery(id: &str, handler: &str, outcome: Outcome, elapsed_ms: f64) -> TailRecord {
        TailRecord::Delivery(DeliveryAttempt {
            event_id: id.into(),
            app: "vtex.service-course@0.0.1".into(),
            handler: handler.into(),
            outcome,
            attempt: 1,
            elapsed_ms,
            error: (outcome != Outcome::Ok).then(|| "boom".into()),
            retry_in_ms: (outcome == Outcome::Retry).then_some(50),
            machine: None,
        })
    }

    fn view(filters: Filters, json: bool) -> View {
        View { filters, format: Format { json, color: false }, shown: Shown::default() }
    }

    /// Each printed line without its `HH:MM:SS.mmm ` time.
    fn untimed(text: Option<String>) -> Vec<String> {
        let text = text.unwrap_or_default();
        text.lines().map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string()).collect()
    }

    #[test]
    fn events_and_deliveries_read_as_vtex_developers_expect() {
        let mut v = view(Filters::default(), false);
        assert_eq!(
            untimed(v.render(&event("e-1", "send-event"))),
            [r#"event e-1 vtex.events-example send-event {"random":"85"}"#]
        );
        // The elapsed time as JSON writes it, whole numbers included.
        let ok = v.render(&delivery("e-1", "liveUsersUpdate", Outcome::Ok, 1.0));
        assert_eq!(untimed(ok), ["  ↳ ok e-1 vtex.service-course@0.0.1 → liveUsersUpdate attempt 1 in 1.0 ms"]);
        let retry = v.render(&delivery("e-1", "liveUsersUpdate", Outcome::Retry, 0.98));
        let expected =
            "  ↳ retry e-1 vtex.service-course@0.0.1 → liveUsersUpdate attempt 1 in 0.98 ms: boom (retry in 50 ms)";
        assert_eq!(untimed(retry), [expected]);
        assert_eq!(
            untimed(v.render(&TailRecord::Lagged { skipped: 3 })),
            ["warn: this tail fell behind and missed 3 records"]
        );
        let end = v.render(&TailRecord::SessionEnd { counts: Default::default() });
        let expected = "the link session ended: 0 events published, 0 deliveries ok, 0 failed, 0 in flight";
        assert_eq!(end.as_deref(), Some(expected));
    }

    #[test]
    fn a_handler_filter_holds_the_event_until_its_first_matching_delivery() {
        let mut v = view(Filters { handler: Some("mine".into()), ..Filters::default() }, false);
        assert_eq!(v.render(&event("e-1", "k")), None, "held");
        assert_eq!(v.render(&delivery("e-1", "other", Outcome::Ok, 1.0)), None);
        let both = untimed(v.render(&delivery("e-1", "mine", Outcome::Ok, 1.0)));
        assert_eq!(both.len(), 2, "{both:?}");
        assert!(both[0].starts_with("event e-1 ") && both[1].contains("→ mine"), "{both:?}");
        let again = untimed(v.render(&delivery("e-1", "mine", Outcome::Ok, 2.0)));
        assert_eq!(again.len(), 1, "the event is shown once: {again:?}");
        let replayed = untimed(v.render(&delivery("e-before", "mine", Outcome::Ok, 1.0)));
        assert_eq!(replayed.len(), 1, "a delivery of an event published before the tail (a replay): {replayed:?}");
    }

    #[test]
    fn filters_on_sender_key_and_failures_leave_out_the_rest() {
        let mut v = view(Filters { key: Some("k".into()), failed: true, ..Filters::default() }, false);
        assert_eq!(v.render(&event("e-other", "other")), None);
        assert_eq!(v.render(&delivery("e-other", "h", Outcome::Failed, 1.0)), None, "its event was filtered out");
        assert_eq!(v.render(&event("e-1", "k")), None, "held until a failure");
        assert_eq!(v.render(&delivery("e-1", "h", Outcome::Retry, 1.0)), None);
        assert_eq!(untimed(v.render(&delivery("e-1", "h", Outcome::Failed, 1.0))).len(), 2);
        let mut v = view(Filters { sender: Some("vtex.other".into()), ..Filters::default() }, false);
        assert_eq!(v.render(&event("e-1", "k")), None);
        let unseen = v.render(&delivery("e-before", "h", Outcome::Ok, 1.0));
        assert_eq!(unseen, None, "a sender filter cannot tell an unseen event's delivery");
    }

    #[test]
    fn json_prints_each_record_as_the_session_sent_it() {
        let mut v = view(Filters::default(), true);
        assert!(v.render(&event("e-1", "k")).unwrap().starts_with(r#"{"type":"event","id":"e-1","#));
        let line = v.render(&delivery("e-1", "h", Outcome::Ok, 1.0)).unwrap();
        let expected = r#"{"type":"delivery","event_id":"e-1","app":"vtex.service-course@0.0.1","handler":"h","outcome":"ok","attempt":1,"elapsed_ms":1.0}"#;
        assert_eq!(line, expected);
    }
}
