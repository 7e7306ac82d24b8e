//! `ioctl graphql QUERY`: runs a query against a linked app's GraphQL through the session, as
//! the developer (the session token), sent as the local admin, shopper or nobody (`--as`: the
//! app gets that user's `VtexIdclientAutCookie` and session, as on VTEX), prints the result,
//! and exits 1 when it has errors, each positioned in the query with a code frame.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use super::Connection;
use crate::diagnostic::Diagnostic;
use crate::protocol::endpoint::ListGraphqlApps;
use crate::protocol::{GraphqlApp, Scope};
use crate::terminal::ColorChoice;

pub struct Query {
    pub query: String,
    pub variables: Option<String>,
    pub operation: Option<String>,
    /// `vendor.name` or `vendor.name@version`; needed when several GraphQL apps are linked.
    pub app: Option<String>,
    /// `admin`, `shopper` or `anonymous`.
    pub as_user: &'static str,
    pub json: bool,
}

pub async fn run(
    scope: &Scope,
    q: &Query,
    color: ColorChoice,
    timeout: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let variables = match &q.variables {
        None => Value::Null,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) if v.is_object() || v.is_null() => v,
            Ok(_) => bail!("--variables must be a JSON object, e.g. --variables '{{\"id\": \"1\"}}'"),
            Err(e) => {
                let d = Diagnostic::at_line_col(
                    Path::new("--variables"),
                    Some(text),
                    e.line(),
                    e.column(),
                    format!("invalid JSON: {e}"),
                );
                eprintln!("error: {}", d.render_full(color.enabled(console::Term::stderr().is_term())));
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let session = Connection::find(scope, timeout)?;
    let apps = session.call(&ListGraphqlApps).await.map_err(|r| r.into_error())?;
    let endpoint = pick(&apps, q.app.as_deref(), scope)?;
    let body = json!({"query": q.query, "variables": variables, "operationName": q.operation}).to_string();
    let resp = session
        .request_as_developer("POST", &endpoint.path, body, q.as_user)
        .await
        .with_context(|| format!("GraphQL of {}", endpoint.app))?;
    let status = resp.status();
    let text = super::text(resp).await?;
    let result: Value =
        serde_json::from_str(&text).map_err(|_| anyhow!("{} answered {status}: {}", endpoint.app, text.trim()))?;
    let errors = result["errors"].as_array().cloned().unwrap_or_default();
    if q.json {
        println!("{result}");
    } else {
        if !result["data"].is_null() || errors.is_empty() {
            println!("{}", serde_json::to_string_pretty(&result["data"]).unwrap_or_default());
        }
        let color = color.enabled(console::Term::stderr().is_term());
        for e in &errors {
            eprintln!("error: {}", describe(e, &q.query, color));
        }
    }
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The app `--app` names (by id, with or without @version), else the only one linked.
fn pick<'a>(apps: &'a [GraphqlApp], wanted: Option<&str>, scope: &Scope) -> anyhow::Result<&'a GraphqlApp> {
    let names = || apps.iter().map(|a| a.app.as_str()).collect::<Vec<_>>().join(", ");
    match wanted {
        Some(w) => apps.iter().find(|a| a.app.as_str() == w || a.app.without_version() == w).ok_or_else(|| {
            if apps.is_empty() {
                anyhow!("{w} is not linked in {scope}: no linked app serves GraphQL")
            } else {
                anyhow!("{w} serves no GraphQL in {scope}; these do: {}", names())
            }
        }),
        None => match apps {
            [] => bail!(
                "no linked app serves GraphQL in {scope} (an app with a graphql/ folder, linked with `ioctl link`)"
            ),
            [one] => Ok(one),
            _ => bail!("several linked apps serve GraphQL in {scope} ({}): say which with --app", names()),
        },
    }
}

/// One error: its message and code, positioned in the query with a code frame when it has a location.
fn describe(error: &Value, query: &str, color: bool) -> String {
    let message = error["message"].as_str().unwrap_or("GraphQL error");
    let code = error["extensions"]["code"].as_str().map(|c| format!(" [{c}]")).unwrap_or_default();
    let at = error["path"].as_array().map(|p| {
        let p: Vec<String> = p.iter().map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string)).collect();
        format!(" (at {})", p.join("."))
    });
    let text = format!("{message}{code}{}", at.unwrap_or_default());
    let Some(loc) = error["locations"].as_array().and_then(|l| l.first()) else { return text };
    let line = loc["line"].as_u64().unwrap_or(1) as usize;
    let column = loc["column"].as_u64().unwrap_or(1) as usize;
    Diagnostic::at_line_col(Path::new("query"), Some(query), line, column, text).render_full(color)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_positioned_in_the_query() {
        let e = json!({"message": "bad input", "locations": [{"line": 2, "column": 3}], "path": ["fails"], "extensions": {"code": "USER_INPUT_ERROR"}});
        let text = describe(&e, "{\n  fails\n}", false);
        assert!(text.contains("query:2:3"), "{text}");
        assert!(text.contains("bad input [USER_INPUT_ERROR] (at fails)"), "{text}");
        assert!(text.contains("2 │   fails"), "{text}");
    }

    #[test]
    fn the_app_is_picked_by_id_or_alone() {
        let scope = Scope { account: "a".into(), workspace: "w".into() };
        let apps = vec![GraphqlApp { app: "v.one@1.0.0".parse().unwrap(), path: "/1".into() }];
        assert_eq!(pick(&apps, None, &scope).unwrap().path, "/1");
        assert_eq!(pick(&apps, Some("v.one"), &scope).unwrap().path, "/1");
        assert!(pick(&apps, Some("v.two"), &scope).unwrap_err().to_string().contains("these do: v.one@1.0.0"));
        assert!(pick(&[], None, &scope).is_err());
    }
}
