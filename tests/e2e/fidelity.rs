//! End to end: what published apps write that VTEX accepts links under ioctl too, without
//! warnings VTEX does not give — service.json's `"timeout": 5000` (capped at 60 s, one
//! warning) and the route and service fields apps use, a `__graphql` route that configures
//! GraphQL without shadowing it, `@cacheControl(maxAge: ZERO | Short)`, prom-client required
//! without declaring it, and `masterdata.getSchema` of a missing schema being falsy.

use serde_json::{json, Value};

use crate::harness::*;

/// The lines a link printed that warn: `warning` records, and `status`/`log` lines at `warn`.
fn warnings(seen: &[String]) -> Vec<Value> {
    seen.iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "warning" || v["level"] == "warn")
        .collect()
}

/// Links `app` (`--json --no-watch`, no sample sender) and waits for `ready`: its session URL.
fn link(env: &Env, app: &std::path::Path) -> (Running, String) {
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(ready["linked"], true, "{}", link.seen.join("\n"));
    let url = ready["url"].as_str().unwrap().to_string();
    (link, url)
}

fn token(env: &Env) -> String {
    let text = std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["token"].as_str().unwrap().to_string()
}

/// As vtex.return-app (timeout 5000) and apps with route policies, smartcache, access, cpu...
const PUBLISHED_SERVICE: &str = r#"{
  "memory": 512,
  "ttl": 60,
  "timeout": 5000,
  "minReplicas": 2,
  "maxReplicas": 4,
  "workers": 1,
  "cpu": { "type": "shared", "value": 20, "scalingPercentage": 95 },
  "settingsUiSchema": { "ui:order": ["token"] },
  "routes": {
    "status": {
      "path": "/_v/fidelity/status",
      "public": true,
      "smartcache": true,
      "extensions": {}
    },
    "orders": {
      "path": "/_v/fidelity/orders",
      "public": false,
      "access": "authorized",
      "policies": [
        { "effect": "allow", "actions": ["get"], "principals": ["vrn:apps:*:*:*:app/vtex.checkout@*"] }
      ]
    }
  },
  "events": {
    "ping": { "sender": "vtex.events-example", "keys": ["send-event"] }
  }
}
"#;

const PUBLISHED_INDEX: &str = "import { Service } from '@vtex/api'

export default new Service({
  routes: {
    status: async (ctx: any) => { ctx.body = 'ok' },
    orders: async (ctx: any) => { ctx.body = { orders: [] } },
  },
  events: { ping: async () => {} },
})
";

#[test]
fn a_published_service_json_links_with_only_the_timeout_cap_warning() {
    let env = Env::new();
    let app = env.app("app", &[("node/service.json", PUBLISHED_SERVICE), ("node/index.ts", PUBLISHED_INDEX)]);
    let (mut link, url) = link(&env, &app);
    let warned = warnings(&link.seen);
    assert_eq!(
        warned,
        [json!({
            "type": "warning",
            "message": "`timeout` is 5000 seconds, over the 60 VTEX documents, which it caps: using 60",
            "file": "node/service.json",
            "line": 4,
            "column": 3,
            "help": "VTEX documents timeout from 1 to 60 seconds (default 10; it bounds incoming requests)",
        })],
        "{}",
        link.seen.join("\n")
    );
    // The capped value is the one in force: the delivery timeout falls back to it.
    let policy = link.seen.iter().find(|l| l.contains("delivery policy for vtex.service-course:")).unwrap();
    assert!(policy.contains("no retries, timeout 60000 ms per attempt"), "{policy}");
    // The routes with policies, access, smartcache and extensions serve as any route.
    let (status, _, body) = http(&url, "GET", "/_v/fidelity/status", &[], "");
    assert_eq!((status, body.as_str()), (200, "ok"));
    let bearer = format!("Bearer {}", token(&env));
    let (status, _, body) =
        http(&url, "GET", "/vtex.service-course/v0/local/dev/_v/fidelity/orders", &[("authorization", &bearer)], "");
    assert_eq!((status, body.as_str()), (200, r#"{"orders":[]}"#));
    assert_eq!(link.interrupt(), 0);
}

/// A GraphQL app on the service-course template: `graphql/schema.graphql` and resolvers.
fn graphql_app(env: &Env, service: &str, schema: &str, resolvers: &str) -> std::path::PathBuf {
    let index = format!(
        "import {{ Service }} from '@vtex/api'\n\nexport default new Service({{\n  graphql: {{ resolvers: {{ Query: {resolvers} }} }},\n}})\n"
    );
    env.app("gql", &[("node/service.json", service), ("node/index.ts", &index), ("graphql/schema.graphql", schema)])
}

const GRAPHQL_PATH: &str = "/vtex.service-course/v0/local/dev/_v/graphql";

#[test]
fn a_graphql_route_in_service_json_configures_graphql_and_never_shadows_it() {
    let env = Env::new();
    let service = r#"{
  "routes": {
    "__graphql": {
      "path": "/_v/graphql",
      "public": false,
      "policies": [{ "effect": "allow", "actions": ["post", "get"], "principals": ["vrn:apps:*:*:*:app/vtex.store-graphql@*"] }]
    }
  }
}"#;
    let app = graphql_app(&env, service, "type Query { hello: String }", "{ hello: () => 'world' }");
    let (mut link, url) = link(&env, &app);
    let seen = link.seen.join("\n");
    assert!(warnings(&link.seen).is_empty(), "no warning (not even `has no handler`): {seen}");
    assert!(!seen.contains("route __graphql"), "the route table shows no __graphql route: {seen}");
    assert!(seen.contains(&format!("graphql: {url}{GRAPHQL_PATH} (private: needs the session token)")), "{seen}");

    let out = env.run(&["graphql", "{ hello }"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap(), json!({"hello": "world"}));
    // Where another app reaches it, and not on the store's domain (as before, for any app).
    let bearer = format!("Bearer {}", token(&env));
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    let (status, _, body) = http(&url, "POST", GRAPHQL_PATH, &headers, r#"{"query":"{ hello }"}"#);
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["data"].clone()),
        (200, json!({"hello": "world"}))
    );
    let (status, _, body) = http(&url, "POST", "/_v/graphql", &headers, r#"{"query":"{ hello }"}"#);
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("no route matches /_v/graphql"), "{body}");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn cache_control_by_name_links_and_answers_with_its_seconds() {
    let env = Env::new();
    let schema = "type Query {
  now: String @cacheControl(maxAge: ZERO)
  greeting: String @cacheControl(maxAge: Short, scope: PRIVATE)
  motto: String @cacheControl(maxAge: long)
}
";
    let resolvers = "{ now: () => 'now', greeting: () => 'hi', motto: () => 'carpe diem' }";
    let app = graphql_app(&env, "{}", schema, resolvers);
    let (mut link, _) = link(&env, &app);
    assert!(warnings(&link.seen).is_empty(), "{}", link.seen.join("\n"));
    let answer = |query: &str| {
        let out = env.run(&["graphql", query, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()
    };
    let v = answer("{ greeting motto }");
    assert_eq!(v["data"], json!({"greeting": "hi", "motto": "carpe diem"}));
    assert_eq!(v["extensions"]["cacheControl"], json!({"maxAge": 120, "scope": "PRIVATE"}));
    assert_eq!(answer("{ motto }")["extensions"]["cacheControl"], json!({"maxAge": 86400, "scope": "PUBLIC"}));
    assert_eq!(answer("{ now motto }")["extensions"]["cacheControl"], json!({"maxAge": 0, "scope": "PUBLIC"}));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn prom_client_is_provided_to_an_app_that_does_not_declare_it() {
    let env = Env::new();
    let index = "import { Service } from '@vtex/api'
import { Counter, register } from 'prom-client'

const hits = new Counter({ name: 'fidelity_hits_total', help: 'hits of the metrics route' })

export default new Service({
  routes: {
    metrics: async (ctx: any) => {
      hits.inc()
      ctx.set('content-type', register.contentType)
      ctx.body = await register.metrics()
    },
  },
})
";
    let service = r#"{"routes": {"metrics": {"path": "/_v/fidelity/metrics", "public": true}}}"#;
    let app = env.app("app", &[("node/index.ts", index), ("node/service.json", service)]);
    let (mut link, url) = link(&env, &app);
    let warned = warnings(&link.seen);
    assert_eq!(warned.len(), 1, "{}", link.seen.join("\n"));
    assert_eq!(
        warned[0]["message"],
        "node/index.ts imports prom-client, which node/package.json does not declare; it resolves on VTEX only through @vtex/api — add it to dependencies"
    );
    http(&url, "GET", "/_v/fidelity/metrics", &[], "");
    let (status, head, body) = http(&url, "GET", "/_v/fidelity/metrics", &[], "");
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("# HELP fidelity_hits_total hits of the metrics route"), "{body}");
    assert!(body.lines().any(|l| l == "fidelity_hits_total 2"), "{body}");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn get_schema_of_a_missing_schema_is_falsy_so_the_apps_branch_creates_it() {
    let env = Env::new();
    // As VTEX's training code (lesson 12) does: create the schema when getSchema finds none.
    let index = "import { Service } from '@vtex/api'

const SCHEMA = { properties: { email: { type: 'string' } }, 'v-indexed': ['email'] }

export default new Service({
  routes: {
    ensure: async (ctx: any) => {
      const { masterdata } = ctx.clients
      const schema = await masterdata.getSchema({ dataEntity: 'CL', schema: 'fidelity' })
      let created = false
      if (!schema) {
        await masterdata.createOrUpdateSchema({ dataEntity: 'CL', schemaName: 'fidelity', schemaBody: SCHEMA })
        created = true
      }
      ctx.body = { got: schema, created }
    },
  },
})
";
    let service = r#"{"routes": {"ensure": {"path": "/_v/fidelity/ensure", "public": true}}}"#;
    let app = env.app("app", &[("node/index.ts", index), ("node/service.json", service)]);
    let (mut link, url) = link(&env, &app);
    let call = || {
        let (status, _, body) = http(&url, "GET", "/_v/fidelity/ensure", &[], "");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    assert_eq!(call(), json!({"got": "", "created": true}), "an empty body, and the `if (!schema)` branch ran");
    let schema = json!({"properties": {"email": {"type": "string"}}, "v-indexed": ["email"]});
    assert_eq!(call(), json!({"got": schema, "created": false}), "the saved schema, the second time");
    assert_eq!(link.interrupt(), 0);
}
