'use strict'
// The boundary's wire on the Node side (src/runtime/outbound.rs is the other side): which hosts
// are VTEX's, the `http` platform call an outbound request to one of them becomes, and the
// answer ioctl gives it (linked app, local service, fixture, --cloud, or missing). Every path
// to VTEX crosses here: the stand-in's HttpClient (boundary.js, an axios adapter) and the
// app's own http/https/fetch (host/intercept.js).

const hooks = require('./hooks')

/**
 * VTEX's domains: a request to any host under one of them is VTEX's cloud. The store's domain
 * (`{workspace}--{account}.myvtex.com`), the commerce APIs (`{account}.vtexcommercestable.com.br`,
 * `portal.vtexcommercestable.com.br`, beta), `api.vtex.com`, `app.io.vtex.com`,
 * `infra.io.vtex.com`, `vtexid.vtex.com.br`, `{account}.vtexpayments.com.br`, and the old IO
 * routing (`{app}.{region}.vtex.io`) that @vtex/api's AppClient uses for an app without a major.
 */
const VTEX_DOMAINS = [
  'myvtex.com',
  'vtex.com',
  'vtex.com.br',
  'vtexcommercestable.com.br',
  'vtexcommercebeta.com.br',
  'vtexpayments.com.br',
  'vtex.io',
]

/** Whether `hostname` (no port) is one of VTEX's: a subdomain of VTEX_DOMAINS (not the bare domains). */
function isVtexHost(hostname) {
  const host = String(hostname || '')
    .toLowerCase()
    .replace(/\.$/, '')
  return VTEX_DOMAINS.some((domain) => host.endsWith(`.${domain}`))
}

/** Whether an absolute http(s) URL goes to a VTEX host (anything unparsable is not). */
function isVtexUrl(url) {
  let parsed
  try {
    parsed = new URL(String(url))
  } catch {
    return false
  }
  return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && isVtexHost(parsed.hostname)
}

/** Headers of the connection the request would have gone over, not of the call (the url has the host). */
const CONNECTION_HEADERS = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'])

/** The largest request body that crosses the boundary (it travels base64 in one JSON line). */
const MAX_BODY_BYTES = 32 * 1024 * 1024

/**
 * The `http` platform call (runtime/outbound.rs's Outbound): `via` is what made it (the client
 * method, `ctx.clients.tenant.info`, or the app's own library, `axios`, `fetch`, `http`), header
 * names lower case, the body base64 or null, `app` the VTEX IO app an AppClient addressed.
 */
function httpCall({ via, method, url, headers, body, app }) {
  const names = {}
  for (const [name, value] of Object.entries(headers || {})) {
    const lower = name.toLowerCase()
    if (value === undefined || value === null || CONNECTION_HEADERS.has(lower)) continue
    names[lower] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  const bytes = body === undefined || body === null ? null : Buffer.from(body)
  if (bytes && bytes.length > MAX_BODY_BYTES) {
    throw new RangeError(`${method} ${url}: a body of ${bytes.length} bytes is more than ioctl carries (32 MiB)`)
  }
  return {
    service: 'http',
    via: String(via),
    method: String(method).toUpperCase(),
    url: String(url),
    headers: names,
    body: bytes && bytes.length > 0 ? bytes.toString('base64') : null,
    app: app == null ? null : String(app),
  }
}

/** An answer as the Node side uses it: the body as a Buffer (empty when none). */
function readAnswer(value) {
  const status = value && value.status
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`ioctl answered an outbound call without a valid status: ${JSON.stringify(value)}`)
  }
  const headers = {}
  for (const [name, text] of Object.entries(value.headers || {})) headers[name.toLowerCase()] = String(text)
  return {
    status,
    headers,
    body: typeof value.body === 'string' ? Buffer.from(value.body, 'base64') : Buffer.alloc(0),
    source: value.source,
    message: value.message == null ? null : String(value.message),
  }
}

/**
 * Sends `call` (from httpCall) across the boundary: resolves with its answer (readAnswer's
 * shape), whatever the status; rejects with `{status, message}` when ioctl could not answer at
 * all (its platform services overloaded, an ioctl without the boundary).
 */
function exchange(call) {
  return hooks.platform(call).then(readAnswer)
}

module.exports = { VTEX_DOMAINS, isVtexHost, isVtexUrl, httpCall, readAnswer, exchange, MAX_BODY_BYTES }
