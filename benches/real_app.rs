//! A real-sized VTEX IO app for the benchmarks, generated (not a copy of anyone's app): ~60
//! TypeScript files in the usual layout (clients, middlewares, handlers, resolvers, utils,
//! typings), a Service with routes, events and a GraphQL schema, and real npm dependencies
//! (axios, ramda, co-body, date-fns, uuid, lodash) installed once under target/tmp.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The app's dependencies, pinned so every run loads the same code.
pub const PACKAGE_JSON: &str = r#"{
  "name": "bench-store-app",
  "version": "0.0.1",
  "dependencies": {
    "axios": "1.7.9",
    "co-body": "6.2.0",
    "date-fns": "2.30.0",
    "lodash": "4.17.21",
    "ramda": "0.29.1",
    "uuid": "9.0.1"
  }
}
"#;

const CLIENTS: [&str; 6] = ["catalog", "orders", "reviews", "shipping", "pricing", "loyalty"];
const UTILS: [&str; 12] = [
    "dates",
    "money",
    "strings",
    "ids",
    "collections",
    "validation",
    "cache",
    "errors",
    "paging",
    "geo",
    "text",
    "stock",
];
const MIDDLEWARES: [&str; 16] = [
    "validateBody",
    "loadOrder",
    "loadCustomer",
    "checkStock",
    "applyPromotions",
    "computeShipping",
    "computeTaxes",
    "saveReview",
    "listReviews",
    "rateLimit",
    "authorize",
    "audit",
    "formatResponse",
    "errorBoundary",
    "syncCatalog",
    "exportReport",
];
const HANDLERS: [&str; 9] = [
    "orderCreated",
    "orderInvoiced",
    "orderCanceled",
    "skuChanged",
    "priceChanged",
    "stockChanged",
    "reviewApproved",
    "appSetup",
    "nightlyJob",
];
const RESOLVERS: [&str; 8] = ["product", "order", "review", "customer", "shipping", "loyalty", "stock", "report"];

/// The file the relink figure edits: an event handler the probe events reach.
pub const PROBE_FILE: &str = "node/handlers/probe.ts";

/// Every file of the app except node_modules: (path under the app root, text).
pub fn files(probe: &str) -> Vec<(String, String)> {
    let mut out = vec![
        ("manifest.json".to_string(), MANIFEST.to_string()),
        ("node/package.json".to_string(), PACKAGE_JSON.to_string()),
        ("node/service.json".to_string(), service_json()),
        ("node/index.ts".to_string(), index()),
        ("node/clients/index.ts".to_string(), clients_index()),
        ("node/constants.ts".to_string(), constants()),
        ("node/resolvers/index.ts".to_string(), resolvers_index()),
        ("graphql/schema.graphql".to_string(), schema()),
        (PROBE_FILE.to_string(), probe.to_string()),
    ];
    for (i, c) in CLIENTS.iter().enumerate() {
        out.push((format!("node/clients/{c}.ts"), client(c, i)));
    }
    for (i, u) in UTILS.iter().enumerate() {
        out.push((format!("node/utils/{u}.ts"), util(u, i)));
    }
    for (i, m) in MIDDLEWARES.iter().enumerate() {
        out.push((format!("node/middlewares/{m}.ts"), middleware(m, i)));
    }
    for (i, h) in HANDLERS.iter().enumerate() {
        out.push((format!("node/handlers/{h}.ts"), handler(h, i)));
    }
    for (i, r) in RESOLVERS.iter().enumerate() {
        out.push((format!("node/resolvers/{r}.ts"), resolver(r, i)));
    }
    for t in ["global", "order", "catalog", "review"] {
        out.push((format!("node/typings/{t}.d.ts"), typing(t)));
    }
    out
}

/// Writes the app under `root` and links `node/node_modules` to the installed dependencies.
pub fn write(root: &Path, probe: &str, modules: &Path) -> Result<()> {
    for (rel, text) in files(probe) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(&p, text).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    std::os::unix::fs::symlink(modules, root.join("node/node_modules")).context("cannot link node_modules")?;
    Ok(())
}

/// The dependencies installed with npm under `peers` (once; later runs reuse them).
pub fn install(peers: &Path) -> Result<PathBuf> {
    let dir = peers.join("bench-real-app");
    let modules = dir.join("node_modules");
    if modules.join("lodash/package.json").exists() && modules.join("date-fns/package.json").exists() {
        return Ok(modules);
    }
    eprintln!("bench: installing the real-sized app's dependencies with npm into {}", dir.display());
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("package.json"), PACKAGE_JSON)?;
    super::npm::install(&dir, &[], "the real-sized app's dependencies")?;
    Ok(modules)
}

/// Lines of TypeScript in the generated app (for the method's description).
pub fn lines() -> usize {
    files("").iter().filter(|(p, _)| p.ends_with(".ts")).map(|(_, t)| t.lines().count()).sum()
}

/// TypeScript files in the generated app, the probe included.
pub fn ts_files() -> usize {
    files("").iter().filter(|(p, _)| p.ends_with(".ts") && !p.ends_with(".d.ts")).count()
}

const MANIFEST: &str = r#"{
  "vendor": "bench",
  "name": "store-app",
  "version": "0.0.1",
  "title": "A real-sized app for ioctl's benchmarks",
  "builders": { "node": "6.x", "graphql": "1.x" },
  "dependencies": {},
  "policies": [],
  "$schema": "https://raw.githubusercontent.com/vtex/node-vtex-api/master/gen/manifest.schema"
}
"#;

fn service_json() -> String {
    let mut routes = Vec::new();
    for m in MIDDLEWARES.iter() {
        routes.push(format!("    \"{m}\": {{ \"path\": \"/_v/store-app/{m}\", \"public\": true }}"));
    }
    let mut events = vec![r#"    "probe": { "sender": "ioctl.manual", "keys": ["probe"] }"#.to_string()];
    for h in HANDLERS.iter() {
        events.push(format!("    \"{h}\": {{ \"sender\": \"ioctl.manual\", \"keys\": [\"{h}\"] }}"));
    }
    format!(
        "{{\n  \"memory\": 256,\n  \"timeout\": 10,\n  \"minReplicas\": 2,\n  \"maxReplicas\": 4,\n  \"routes\": {{\n{}\n  }},\n  \"events\": {{\n{}\n  }}\n}}\n",
        routes.join(",\n"),
        events.join(",\n")
    )
}

fn pascal(name: &str) -> String {
    let mut c = name.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn index() -> String {
    let mut s =
        String::from("import type { ClientsConfig, ServiceContext, RecorderState, ParamsContext } from '@vtex/api'\n");
    s += "import { LRUCache, method, Service } from '@vtex/api'\n\n";
    s += "import { Clients } from './clients'\nimport { resolvers } from './resolvers'\nimport { probe } from './handlers/probe'\n";
    for m in MIDDLEWARES.iter() {
        let _ = writeln!(s, "import {{ {m} }} from './middlewares/{m}'");
    }
    for h in HANDLERS.iter() {
        let _ = writeln!(s, "import {{ {h} }} from './handlers/{h}'");
    }
    s += "\nconst TIMEOUT_MS = 800\nconst memoryCache = new LRUCache<string, any>({ max: 5000 })\nmetrics.trackCache('status', memoryCache)\n\n";
    s += "const clients: ClientsConfig<Clients> = {\n  implementation: Clients,\n  options: {\n    default: { retries: 2, timeout: TIMEOUT_MS },\n    status: { memoryCache },\n    events: { concurrency: 100 },\n  },\n}\n\n";
    s += "declare global {\n  type Context = ServiceContext<Clients, State>\n  interface State extends RecorderState {\n    code: number\n  }\n}\n\n";
    s += "export default new Service<Clients, State, ParamsContext>({\n  clients,\n  routes: {\n";
    for (i, m) in MIDDLEWARES.iter().enumerate() {
        let other = MIDDLEWARES[(i + 1) % MIDDLEWARES.len()];
        let _ = writeln!(
            s,
            "    {m}: method({{ GET: [errorBoundary, {m}], POST: [errorBoundary, validateBody, {other}] }}),"
        );
    }
    s += "  },\n  events: {\n    probe,\n";
    for h in HANDLERS.iter() {
        let _ = writeln!(s, "    {h},");
    }
    s += "  },\n  graphql: { resolvers },\n})\n";
    s
}

fn clients_index() -> String {
    let mut s = String::from("import { IOClients } from '@vtex/api'\n\n");
    for c in CLIENTS.iter() {
        let _ = writeln!(s, "import {{ {} }} from './{c}'", pascal(c));
    }
    s += "\n// Extend the default IOClients implementation with our own custom clients.\nexport class Clients extends IOClients {\n";
    for c in CLIENTS.iter() {
        let _ = writeln!(s, "  public get {c}() {{\n    return this.getOrSet('{c}', {})\n  }}\n", pascal(c));
    }
    s += "}\n";
    s
}

fn client(name: &str, n: usize) -> String {
    let class = pascal(name);
    let mut s = format!(
        "import type {{ InstanceOptions, IOContext }} from '@vtex/api'\nimport {{ ExternalClient }} from '@vtex/api'\nimport {{ pick }} from 'ramda'\n\nimport {{ toIso }} from '../utils/dates'\n\nconst BASE = 'http://{name}.example.invalid/api/{name}/pvt'\n\nexport class {class} extends ExternalClient {{\n  constructor(context: IOContext, options?: InstanceOptions) {{\n    super(BASE, context, {{\n      ...options,\n      headers: {{ ...(options?.headers ?? {{}}), VtexIdclientAutCookie: context.authToken, 'X-Vtex-Use-Https': 'true' }},\n    }})\n  }}\n\n"
    );
    for i in 0..8 {
        let _ = write!(
            s,
            "  /** Fetches {name} record kind {i}. */\n  public async get{class}{i}(id: string, fields: string[] = []) {{\n    const data = await this.http.get<Record<string, unknown>>(`/{name}/{i}/${{encodeURIComponent(id)}}`, {{\n      metric: '{name}-get-{i}',\n      params: {{ since: toIso(new Date({stamp})) }},\n    }})\n    return fields.length ? pick(fields, data) : data\n  }}\n\n  public save{class}{i}(id: string, body: unknown) {{\n    return this.http.put(`/{name}/{i}/${{id}}`, body, {{ metric: '{name}-save-{i}' }})\n  }}\n\n",
            stamp = 1_000_000 * (n * 8 + i + 1)
        );
    }
    s += "}\n";
    s
}

fn util(name: &str, n: usize) -> String {
    let mut s = String::new();
    match name {
        "dates" => s += "import { addDays, differenceInDays, format, formatISO, parseISO } from 'date-fns'\n\nexport const toIso = (d: Date) => formatISO(d)\nexport const daysBetween = (a: string, b: string) => differenceInDays(parseISO(b), parseISO(a))\nexport const dueDate = (from: Date, days: number) => format(addDays(from, days), 'yyyy-MM-dd')\n\n",
        "ids" => s += "import { v4 as uuidv4 } from 'uuid'\n\nexport const newId = () => uuidv4()\n\n",
        "collections" | "paging" => s += "import { chunk, groupBy, orderBy, uniqBy } from 'lodash'\n\nexport const pages = <T>(xs: T[], size: number) => chunk(xs, size)\nexport const byKey = <T>(xs: T[], key: keyof T) => groupBy(xs, key as string)\nexport const sorted = <T>(xs: T[], key: keyof T) => orderBy(xs, [key as string], ['asc'])\nexport const unique = <T>(xs: T[], key: keyof T) => uniqBy(xs, key as string)\n\n",
        "money" | "stock" => s += "import { sum, map, prop } from 'ramda'\n\nexport const total = (xs: Array<{ value: number }>) => sum(map(prop('value'), xs))\n\n",
        "errors" => s += "import { UserInputError, NotFoundError } from '@vtex/api'\n\nexport const missing = (what: string) => new NotFoundError(`${what} not found`)\nexport const invalid = (what: string) => new UserInputError(`${what} is invalid`)\n\n",
        _ => {}
    }
    for i in 0..8 {
        let _ = write!(
            s,
            "export interface {p}Options{i} {{\n  limit?: number\n  prefix?: string\n  strict?: boolean\n}}\n\n/** {name} helper {i}. */\nexport function {name}{i}(input: string[], options: {p}Options{i} = {{}}): string[] {{\n  const limit = options.limit ?? {lim}\n  const out: string[] = []\n  for (const item of input) {{\n    if (options.strict && item.trim() === '') {{\n      throw new Error(`{name}{i}: empty item`)\n    }}\n    out.push(`${{options.prefix ?? ''}}${{item}}`.slice(0, limit))\n  }}\n  return out\n}}\n\n",
            p = pascal(name),
            lim = 10 + n + i
        );
    }
    s
}

fn middleware(name: &str, n: usize) -> String {
    let util = UTILS[n % UTILS.len()];
    let other = UTILS[(n + 5) % UTILS.len()];
    let client = CLIENTS[n % CLIENTS.len()];
    let mut s = format!(
        "import {{ json }} from 'co-body'\nimport {{ isEmpty }} from 'ramda'\n\nimport {{ {util}0, {util}1 }} from '../utils/{util}'\nimport {{ {other}2 }} from '../utils/{other}'\nimport {{ MAX_ITEMS }} from '../constants'\n\n"
    );
    let _ = write!(
        s,
        "export async function {name}(ctx: Context, next: () => Promise<any>) {{\n  const {{\n    clients: {{ {client} }},\n    vtex: {{ route }},\n  }} = ctx\n  const body = ctx.method === 'GET' ? {{}} : await json(ctx.req)\n  if (!isEmpty(body) && Object.keys(body).length > MAX_ITEMS) {{\n    ctx.status = 400\n    ctx.body = {{ error: '{name}: too many fields' }}\n    return\n  }}\n  ctx.state.code = 200\n  ctx.set('Cache-Control', 'no-cache')\n  ctx.body = {{\n    route: route.id,\n    items: {util}0({util}1(Object.keys(body))),\n    more: {other}2([String(typeof {client})]),\n  }}\n  await next()\n}}\n\n"
    );
    for i in 0..6 {
        let _ = write!(
            s,
            "/** Step {i} of {name}. */\nexport function {name}Step{i}(values: number[]): {{ min: number; max: number; mean: number }} {{\n  if (values.length === 0) {{\n    return {{ min: 0, max: 0, mean: 0 }}\n  }}\n  let min = Infinity\n  let max = -Infinity\n  let total = 0\n  for (const v of values) {{\n    min = Math.min(min, v)\n    max = Math.max(max, v)\n    total += v * {k}\n  }}\n  return {{ min, max, mean: total / values.length }}\n}}\n\n",
            k = i + 1
        );
    }
    s
}

fn handler(name: &str, n: usize) -> String {
    let util = UTILS[n % UTILS.len()];
    let mut s = format!(
        "import {{ newId }} from '../utils/ids'\nimport {{ toIso }} from '../utils/dates'\nimport {{ {util}3 }} from '../utils/{util}'\n\ninterface {p}Body {{\n  orderId?: string\n  currentState?: string\n  lastState?: string\n  [field: string]: unknown\n}}\n\n",
        p = pascal(name)
    );
    let _ = write!(
        s,
        "export async function {name}(ctx: StatusChangeContext | any) {{\n  const body = ctx.body as {p}Body\n  const id = newId()\n  const parts = {util}3([String(body.orderId ?? ''), String(body.currentState ?? '')])\n  ctx.vtex.logger.info({{ message: '{name}', id, at: toIso(new Date()), parts }})\n  return true\n}}\n\n",
        p = pascal(name)
    );
    for i in 0..5 {
        let _ = write!(
            s,
            "/** Reacts to {name}, case {i}. */\nexport function {name}Case{i}(body: {p}Body): string {{\n  switch (body.currentState) {{\n    case 'payment-approved':\n      return 'approve-{i}'\n    case 'canceled':\n      return 'cancel-{i}'\n    case 'invoiced':\n      return 'invoice-{i}'\n    default:\n      return `ignore-${{body.lastState ?? 'none'}}`\n  }}\n}}\n\n",
            p = pascal(name)
        );
    }
    s
}

fn resolvers_index() -> String {
    let mut s = String::new();
    for r in RESOLVERS.iter() {
        let _ = writeln!(s, "import {{ {r}Query }} from './{r}'");
    }
    s += "\nexport const resolvers = {\n  Query: {\n";
    for r in RESOLVERS.iter() {
        let _ = writeln!(s, "    {r}: {r}Query,");
    }
    s += "  },\n}\n";
    s
}

fn resolver(name: &str, n: usize) -> String {
    let util = UTILS[(n + 3) % UTILS.len()];
    let mut s = format!(
        "import {{ {util}4 }} from '../utils/{util}'\n\nexport async function {name}Query(_root: unknown, args: {{ id: string }}, ctx: Context) {{\n  const ids = {util}4([args.id])\n  return {{ id: ids[0], kind: '{name}', account: ctx.vtex.account }}\n}}\n\n"
    );
    for i in 0..6 {
        let _ = write!(
            s,
            "/** Maps a {name} record, shape {i}. */\nexport function map{p}{i}(record: Record<string, unknown>): Record<string, string> {{\n  const out: Record<string, string> = {{}}\n  for (const [key, value] of Object.entries(record)) {{\n    if (value === null || value === undefined) {{\n      continue\n    }}\n    out[`{name}{i}_${{key}}`] = typeof value === 'object' ? JSON.stringify(value) : String(value)\n  }}\n  return out\n}}\n\n",
            p = pascal(name)
        );
    }
    s
}

fn schema() -> String {
    let mut s = String::from("type Entity {\n  id: ID\n  kind: String\n  account: String\n}\n\ntype Query {\n");
    for r in RESOLVERS.iter() {
        let _ = writeln!(s, "  {r}(id: ID!): Entity");
    }
    s += "}\n";
    s
}

fn constants() -> String {
    let mut s = String::from("export const MAX_ITEMS = 100\nexport const APP_NAME = 'bench.store-app'\n\n");
    for (i, c) in CLIENTS.iter().enumerate() {
        let _ = writeln!(s, "export const {}_TIMEOUT_MS = {}", c.to_uppercase(), 500 + i * 100);
    }
    s
}

fn typing(name: &str) -> String {
    let mut s = String::new();
    if name == "global" {
        s += "import type { EventContext } from '@vtex/api'\n\nimport type { Clients } from '../clients'\n\ndeclare global {\n  type StatusChangeContext = EventContext<Clients>\n}\n\nexport {}\n";
        return s;
    }
    for i in 0..6 {
        let _ = write!(
            s,
            "interface {p}{i} {{\n  id: string\n  createdAt: string\n  value{i}?: number\n}}\n\n",
            p = pascal(name)
        );
    }
    s
}
