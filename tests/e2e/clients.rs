//! End to end: an app importing `@vtex/clients` with no node_modules links (ioctl's stand-in
//! answers the import), its Catalog client constructs in IOClients, a call that needs VTEX's
//! cloud fails naming the class and method, and an error logged inside an object shows its
//! message, status and .ts stack instead of `{}`.

use std::io::{Read, Write};

use crate::harness::*;

const INDEX: &str = r#"import type { ServiceContext } from '@vtex/api'
import { IOClients, Service, method, parseAppId } from '@vtex/api'
import { Catalog, OMS, masterDataFor } from '@vtex/clients'

const Reviews = masterDataFor<{ stars: number }>('reviews')

class Clients extends IOClients {
  public get catalog() {
    return this.getOrSet('catalog', Catalog)
  }
  public get orders() {
    return this.getOrSet('orders', OMS)
  }
  public get reviews() {
    return this.getOrSet('reviews', Reviews)
  }
}

console.log('clients at startup:', typeof Catalog, parseAppId(process.env.VTEX_APP_ID!).name)

async function sku(ctx: ServiceContext<Clients>) {
  try {
    ctx.body = await ctx.clients.catalog.getSkuById(ctx.vtex.route.params.id as string)
  } catch (err) {
    const upstream = new Error('catalog unavailable') as Error & { response?: { status: number } }
    upstream.response = { status: 503 }
    ctx.vtex.logger.error({ content: upstream })
    throw err
  }
}

export default new Service<Clients, {}, {}>({
  clients: { implementation: Clients, options: {} },
  routes: { sku: method({ GET: [sku] }) },
})
"#;

const SERVICE: &str = r#"{ "routes": { "sku": { "path": "/_v/sku/:id", "public": true } } }"#;

const PACKAGE: &str =
    r#"{ "dependencies": { "@vtex/clients": "^2.21.0" }, "devDependencies": { "@vtex/api": "6.x" } }"#;

fn get(url: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(url.strip_prefix("http://").unwrap()).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text.split(' ').nth(1).unwrap().parse().unwrap();
    (code, text.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

#[test]
fn vtex_clients_without_node_modules_links_and_its_cloud_calls_fail_naming_client_and_method() {
    let env = Env::new();
    let files = [("node/index.ts", INDEX), ("node/service.json", SERVICE), ("node/package.json", PACKAGE)];
    let app = env.app("app", &files);
    assert!(!app.join("node/node_modules").exists());
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("startup log", |v| v["message"] == "clients at startup: function vtex.service-course");
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();

    let (code, body) = get(&url, "/_v/sku/42");
    assert_eq!(code, 500, "{body}");
    let message = "Catalog.getSkuById() (@vtex/clients) needs VTEX's cloud and is not emulated by ioctl";
    assert!(body.contains(message), "the answer names the client and method: {body}");

    // ctx.vtex.logger.error({ content: err }): the error's fields and its stack on the .ts line.
    let logged = link.wait_json("the logged error", |v| {
        v["type"] == "log" && v["message"].as_str().is_some_and(|m| m.contains("catalog unavailable"))
    });
    let text = logged["message"].as_str().unwrap();
    assert!(text.starts_with(r#"{"content":{"name":"Error","message":"catalog unavailable","status":503}}"#), "{text}");
    assert!(text.contains("Error: catalog unavailable (status 503)\n    at sku ("), "{text}");
    assert!(text.contains("node/index.ts:25:22)"), "the stack points at the .ts line: {text}");
}
