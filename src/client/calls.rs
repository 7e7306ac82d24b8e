//! `ioctl calls tail`: streams the linked apps' outbound calls as they cross the boundary —
//! who made each (client method or library), who answered it (linked, local, fixture, cloud,
//! missing), the status and time, and the request and response (bodies capped at 64 KiB,
//! credentials redacted by the session) — for people or as JSON.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use console::Style;

use super::{Connection, Lines, Next};
use crate::protocol::stream::{Answered, CallsRecord, Exchange};
use crate::protocol::{path, Scope};
use crate::terminal::Format;

pub async fn tail(scope: &Scope, format: Format, timeout: std::time::Duration) -> anyhow::Result<ExitCode> {
    let session = Connection::find(scope, timeout)?;
    let resp = session.request("GET", path::CALLS_TAIL, None).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("the link session refused the calls tail: {}", super::refusal(status, &super::text(resp).await?).error);
    }
    let mut lines = Lines::new(resp);
    let hello = lines.hello(session.timeout()).await?;
    let mut out = std::io::stdout();
    let mut next = Some(CallsRecord::Hello(hello));
    loop {
        let record = match next.take() {
            Some(r) => r,
            None => match super::next_record::<CallsRecord>(&mut lines).await {
                Next::Record(r) => r,
                Next::ReaderGone => return Ok(ExitCode::SUCCESS),
                Next::Ended => break,
            },
        };
        if writeln!(out, "{}", render(&record, format)).and_then(|_| out.flush()).is_err() {
            // The reader went away (`| head`): end quietly.
            return Ok(ExitCode::SUCCESS);
        }
        if let CallsRecord::SessionEnd { .. } = record {
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("lost the connection to the link session for {scope} (it stopped without saying goodbye)")
}

/// One record as a line (or, for a call, a line and its request and response).
fn render(record: &CallsRecord, format: Format) -> String {
    if format.json {
        return serde_json::to_string(record).unwrap_or_default();
    }
    let dim = Style::new().dim().force_styling(format.color);
    let time = dim.apply_to(chrono::Local::now().format("%H:%M:%S%.3f").to_string());
    match record {
        CallsRecord::Hello(h) => {
            format!("tailing outbound calls of account {}, workspace {} (Ctrl-C to stop)", h.account, h.workspace)
        }
        CallsRecord::Call(c) => {
            let line = &c.line;
            let style = match line.answered {
                Answered::Missing => Style::new().red(),
                _ if line.status >= 400 => Style::new().yellow(),
                _ => Style::new().green(),
            }
            .force_styling(format.color);
            let elapsed = serde_json::to_string(&line.elapsed_ms).unwrap_or_default();
            let mut text = format!(
                "{time} {} {} {} → {} {} in {elapsed} ms  {}",
                line.via,
                line.method,
                line.url,
                style.apply_to(line.answered.as_str()),
                line.status,
                dim.apply_to(&line.app)
            );
            text.push_str(&side("→", &c.request));
            match &c.message {
                // A missing call's body is its message: shown once, as text.
                Some(m) => text.push_str(&format!("\n  {}", m.replace('\n', "\n  "))),
                None => text.push_str(&side("←", &c.response)),
            }
            text
        }
        CallsRecord::Lagged { skipped } => format!("{time} warn: this tail fell behind and missed {skipped} calls"),
        CallsRecord::SessionEnd { calls } => format!("the link session ended ({calls} outbound calls in all)"),
    }
}

/// A request's or an answer's body, on a line of its own, saying when it is cut or binary.
fn side(arrow: &str, e: &Exchange) -> String {
    let Some(body) = &e.body else { return String::new() };
    let mut notes = Vec::new();
    if e.base64 {
        notes.push("base64".to_string());
    }
    if e.truncated {
        notes.push(format!("first 64 KiB of {} bytes", e.size));
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
    format!("\n  {arrow} {body}{notes}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::stream::{CallLine, CallRecord};
    use std::sync::Arc;

    fn record(answered: Answered, status: u16) -> CallsRecord {
        CallsRecord::Call(Arc::new(CallRecord {
            time: "2026-01-02T08:30:04.187123Z".into(),
            line: CallLine {
                app: "acme.app@1.0.0".into(),
                via: "axios".into(),
                method: "POST".into(),
                url: "http://vtexid.vtex.com.br/api/vtexid/credential/validate".into(),
                answered,
                status,
                elapsed_ms: 0.5,
            },
            request: Exchange { body: Some("{\"token\":\"t\"}".into()), size: 13, ..Default::default() },
            response: Exchange {
                body: Some("AAE=".into()),
                base64: true,
                size: 70000,
                truncated: true,
                ..Default::default()
            },
            message: (answered == Answered::Missing).then(|| "goes to VTEX's cloud\nadd a fixture".into()),
        }))
    }

    fn untimed(text: String) -> Vec<String> {
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        if let Some(first) = lines.first_mut() {
            *first = first.split_once(' ').map_or(first.clone(), |(_, rest)| rest.to_string());
        }
        lines
    }

    #[test]
    fn a_call_shows_who_answered_and_its_bodies() {
        let human = Format { json: false, color: false };
        assert_eq!(
            untimed(render(&record(Answered::Local, 200), human)),
            [
                "axios POST http://vtexid.vtex.com.br/api/vtexid/credential/validate → local 200 in 0.5 ms  acme.app@1.0.0",
                "  → {\"token\":\"t\"}",
                "  ← AAE= (base64, first 64 KiB of 70000 bytes)",
            ]
        );
        let missing = untimed(render(&record(Answered::Missing, 501), human));
        assert_eq!(&missing[2..], ["  goes to VTEX's cloud", "  add a fixture"], "the message, not its body again");
        let json = render(&record(Answered::Local, 200), Format { json: true, color: false });
        assert!(
            json.starts_with(r#"{"type":"call","time":"2026-01-02T08:30:04.187123Z","app":"acme.app@1.0.0""#),
            "{json}"
        );
    }
}
