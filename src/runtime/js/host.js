'use strict'
// ioctl's Node host: the entry of the service process. It points `@vtex/api` at ioctl's
// stand-in, loads the user's built service, and speaks newline-delimited JSON with ioctl
// over IOCTL_SOCKET: it reports what the Service declares, runs event deliveries, serves
// the Service's HTTP routes (on a loopback port ioctl proxies to) and forwards console /
// ctx.vtex.logger output and sendEvent calls.
//
// With IOCTL_STANDBY=1 it starts without an app ("warm standby"): everything but the app
// is ready, it says `standby`, and loads the app when ioctl sends `load`.

const Module = require('node:module')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const querystring = require('node:querystring')
const util = require('node:util')
const { AsyncLocalStorage } = require('node:async_hooks')
const { performance } = require('node:perf_hooks')

const env = process.env
const SOCKET = env.IOCTL_SOCKET
const STANDBY = env.IOCTL_STANDBY === '1'
if (!SOCKET || (!STANDBY && !env.IOCTL_ENTRY)) {
  process.stderr.write(
    'ioctl host: IOCTL_SOCKET and IOCTL_ENTRY (or IOCTL_STANDBY=1) must be set (ioctl starts this file)\n',
  )
  process.exit(2)
}
// Real path: the redirected requests and the host's own require must share one module instance.
const VTEX_API_DIR = env.IOCTL_VTEX_API || path.join(__dirname, 'vtex-api')
const VTEX_API_FILE = fs.realpathSync(path.join(VTEX_API_DIR, 'index.js'))
const LOCAL_AUTH_TOKEN = 'ioctl-local-auth-token'

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key)

// --- 1. `@vtex/api`, from anywhere (node_modules included), is the stand-in -------------

const resolveFilename = Module._resolveFilename
Module._resolveFilename = function resolveWithVtexApi(request, ...rest) {
  if (request === '@vtex/api' || request.startsWith('@vtex/api/')) return VTEX_API_FILE
  return resolveFilename.call(this, request, ...rest)
}
const vtexApi = require(VTEX_API_FILE)
const koa = require('./koa')
// A route's body stream that fails answers with the error; `ctx.app.emit('error')` is logged.
koa.hooks.onStreamError = (ctx, err) => routeFailed(ctx, err, { enoentIs404: true })
koa.hooks.onAppError = (err) => log('error', errorInfo(err).stack)

// --- the socket: one JSON object per line; lines written before `connect` wait in `pending`

let socket = null
let connected = false
let pending = []
/** Exit code to use once the socket is gone; null while running normally. */
let exitCode = null

function writeLine(json) {
  if (connected) socket.write(`${json}\n`)
  else pending.push(`${json}\n`)
}

function send(message) {
  writeLine(JSON.stringify(message))
}

/** Flush what was written, then exit; a stuck peer cannot keep us alive past a second. */
function exitAfterFlush(code) {
  if (exitCode !== null) return
  exitCode = code
  setTimeout(() => process.exit(code), 1000)
  if (connected) socket.end(() => process.exit(code))
  else process.exit(code)
}

// --- 2./3. logs: console and ctx.vtex.logger become `log` lines, attributed via ALS ------

/** Store of each delivery's or request's async context: {handler, delivery}. */
const handlerContext = new AsyncLocalStorage()

function log(level, message) {
  const store = handlerContext.getStore()
  send({
    type: 'log',
    level,
    message,
    handler: store ? store.handler : null,
    delivery: store ? store.delivery : null,
  })
}
vtexApi.__ioctl.log = log

const CONSOLE_LEVELS = { log: 'info', info: 'info', warn: 'warn', error: 'error', debug: 'debug' }
for (const [name, level] of Object.entries(CONSOLE_LEVELS)) {
  console[name] = function (...args) {
    log(level, util.format(...args))
  }
}
console.trace = function trace(...args) {
  const trace = { name: 'Trace', message: util.format(...args) }
  Error.captureStackTrace(trace, console.trace)
  log('debug', trace.stack)
}

globalThis.metrics = new vtexApi.MetricsAccumulator()

/** A log line that belongs to no handler, whatever async context it is emitted from. */
function logUnattributed(level, message) {
  send({ type: 'log', level, message, handler: null, delivery: null })
}

// Outside any handler, or left behind by one: reported, and the worker keeps running as on VTEX.
function reportUncaught(what, reason) {
  const text = reason instanceof Error ? reason.stack || String(reason) : util.inspect(reason)
  logUnattributed('error', `${what}: ${text}`)
}
process.on('uncaughtException', (err) => reportUncaught('Uncaught exception', err))
process.on('unhandledRejection', (reason) => reportUncaught('Unhandled promise rejection', reason))

// --- sendEvent over the socket -------------------------------------------------------------
// Independent of whoever calls it (delivery, request, timer holding an old ctx): it only
// needs the socket.

let nextRequest = 1
/** request id -> {resolve, reject} of sendEvent calls waiting for their send_event_ack. */
const awaitingAck = new Map()

vtexApi.__ioctl.sendEvent = function sendEvent(subject, key, body) {
  return new Promise((resolve, reject) => {
    const request = nextRequest++
    const message = {
      type: 'send_event',
      request,
      subject: subject == null ? '' : String(subject),
      key: String(key),
      body: body === undefined ? null : body,
    }
    let line
    try {
      line = JSON.stringify(message)
    } catch (err) {
      reject(new TypeError(`the event body cannot be sent as JSON: ${err.message}`))
      return
    }
    awaitingAck.set(request, { resolve, reject })
    writeLine(line)
  })
}

function onSendEventAck(ack) {
  const waiter = awaitingAck.get(ack.request)
  if (!waiter) return
  awaitingAck.delete(ack.request)
  if (ack.error != null) waiter.reject(new Error(String(ack.error)))
  else waiter.resolve(ack.event_id)
}

// --- 4. load the service ---------------------------------------------------------------------

let service = null
/** 'waiting' (standby, no `load` yet) | 'loading' | 'loaded' | 'failed' */
let loadState = 'waiting'

function errorInfo(err) {
  if (err instanceof Error) {
    const name = err.name || (err.constructor && err.constructor.name) || 'Error'
    const message = err.message == null ? '' : String(err.message)
    return { name, message, stack: typeof err.stack === 'string' ? err.stack : `${name}: ${message}` }
  }
  const message = String(err)
  return { name: 'Error', message, stack: `Error: ${message}` }
}

/** Options as ioctl reads them: JSON values only; functions, class instances (caches, agents), cycles dropped. */
function jsonSafe(value, seen = new Set()) {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value !== 'object' || seen.has(value)) return undefined
  const proto = Object.getPrototypeOf(value)
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return undefined
  seen.add(value)
  let out
  if (Array.isArray(value)) {
    out = value.map((item) => {
      const safe = jsonSafe(item, seen)
      return safe === undefined ? null : safe
    })
  } else {
    out = {}
    for (const [key, item] of Object.entries(value)) {
      const safe = jsonSafe(item, seen)
      if (safe !== undefined) out[key] = safe
    }
  }
  seen.delete(value)
  return out
}

function isService(candidate) {
  return (
    candidate instanceof vtexApi.Service ||
    (candidate !== null &&
      typeof candidate === 'object' &&
      candidate.config !== null &&
      typeof candidate.config === 'object')
  )
}

function loadFailed(message, stack) {
  loadState = 'failed'
  send({ type: 'load_error', message, stack })
  exitAfterFlush(1)
}

async function loadService(entry) {
  loadState = 'loading'
  let exported
  try {
    exported = require(path.resolve(entry))
  } catch (err) {
    const { message, stack } = errorInfo(err)
    loadFailed(message, stack)
    return
  }
  const candidate = exported != null && exported.default !== undefined ? exported.default : exported
  if (!isService(candidate)) {
    const message =
      "node/index.ts does not export a Service: expected `export default new Service({...})` from '@vtex/api'"
    loadFailed(message, `Error: ${message}`)
    return
  }
  service = candidate
  let loaded
  try {
    // Reading the declaration runs app code too (getters, proxies).
    const config = service.config
    loaded = {
      type: 'loaded',
      events: Object.keys(config.events || {}),
      routes: Object.keys(config.routes || {}),
      clientOptions: jsonSafe((config.clients && config.clients.options) || {}) || {},
      routesPort: null,
    }
  } catch (err) {
    const { message, stack } = errorInfo(err)
    loadFailed(message, stack)
    return
  }
  if (loaded.routes.length > 0) {
    try {
      loaded.routesPort = await startRouteServer()
    } catch (err) {
      const message = `cannot open the HTTP port for the Service's routes: ${errorInfo(err).message}`
      loadFailed(message, `Error: ${message}`)
      return
    }
  } else {
    stopRouteServer()
  }
  loadState = 'loaded'
  send(loaded)
}

/** `{"type":"load","entry":...,"env"?:{...}}` to a standby host. */
function onLoad(message) {
  if (!STANDBY || loadState !== 'waiting') {
    const why = STANDBY ? 'the app is already loaded' : 'this host was not started in standby'
    logUnattributed('warn', `ioctl host: ignoring \`load\`: ${why}`)
    return
  }
  if (typeof message.entry !== 'string' || message.entry === '') {
    const text = 'ioctl host: `load` needs an `entry` (absolute path of the built index.js)'
    loadFailed(text, `Error: ${text}`)
    return
  }
  // Optional: what changed since the standby host started (e.g. VTEX_APP_VERSION).
  if (message.env !== null && typeof message.env === 'object') {
    for (const [name, value] of Object.entries(message.env)) {
      if (value === null || value === undefined) delete env[name]
      else env[name] = String(value)
    }
  }
  loadService(message.entry)
}

// --- 5. deliveries ---------------------------------------------------------------------------

function randomId() {
  return crypto.randomBytes(16).toString('hex')
}

/** ctx.vtex: the IOContext of one delivery or request. */
function ioContext(route, requestId) {
  const account = env.VTEX_ACCOUNT || ''
  const workspace = env.VTEX_WORKSPACE || ''
  return {
    account,
    workspace,
    region: env.VTEX_REGION || 'local',
    production: false,
    authToken: LOCAL_AUTH_TOKEN,
    requestId,
    operationId: randomId(),
    route,
    userAgent: env.VTEX_APP_ID || '',
    locale: 'en-US',
    tenant: { locale: 'en-US' },
    platform: 'vtex',
    product: '',
    host: `${workspace}--${account}.myvtex.com`,
  }
}

/** A fresh instance of the Service's IOClients implementation, for one delivery or request. */
function createClients(vtex) {
  const clientsConfig = service.config.clients || {}
  const Clients = clientsConfig.implementation || vtexApi.IOClients
  // As in @vtex/api, clients get the IOContext (ctx.vtex): client classes take `context: IOContext`.
  return new Clients(clientsConfig.options || {}, vtex)
}

function eventContext(handler, event) {
  const vtex = ioContext({ id: handler, type: 'event', params: {} }, randomId())
  vtex.eventInfo = { id: event.id, key: event.key, sender: event.sender, subject: event.subject }
  vtex.logger = new vtexApi.Logger(vtex)
  const ctx = {
    body: event.body,
    key: event.key,
    sender: event.sender,
    subject: event.subject,
    clients: undefined,
    state: {},
    vtex,
    timings: {},
    metrics: {},
  }
  ctx.clients = createClients(vtex)
  return ctx
}

async function runHandler(handler, event) {
  const events = service.config.events || {}
  if (!hasOwn(events, handler)) {
    const known = Object.keys(events).join(', ') || 'none'
    const err = new Error(`no event handler "${handler}" in the Service's events (it declares ${known})`)
    // ioctl's own frames would only mislead: the cause is the app's declaration.
    err.stack = `Error: ${err.message}`
    throw err
  }
  const chain = vtexApi.__ioctl.compose(events[handler], `events.${handler}`)
  await chain(eventContext(handler, event || {}))
}

async function deliver({ delivery, handler, event }) {
  const started = performance.now()
  let failure = null
  try {
    await handlerContext.run({ handler, delivery }, () => runHandler(handler, event))
  } catch (err) {
    failure = errorInfo(err)
  }
  const elapsed_ms = Math.round((performance.now() - started) * 1000) / 1000
  if (failure) send({ type: 'result', delivery, ok: false, elapsed_ms, error: failure })
  else send({ type: 'result', delivery, ok: true, elapsed_ms })
}

// --- 6. HTTP routes: a loopback server ioctl proxies matched requests to --------------------
//
// ioctl adds x-ioctl-route-id / -route-params (encodeURIComponent(JSON)) / -route-type /
// -request-id; the app never sees them. Each request runs config.routes[routeId] as Koa
// middleware with a Koa-compatible ctx (below).

let routeServer = null
/** Promise of the port, once listening. */
let routeServerPort = null

function startRouteServer() {
  if (!routeServerPort) {
    // No request timeout of our own: ioctl enforces service.json's timeout.
    routeServer = http.createServer({ requestTimeout: 0 }, onRouteRequest)
    // Idle keep-alive connections are closed by ioctl's pool, never under it by us.
    routeServer.keepAliveTimeout = 0
    routeServerPort = new Promise((resolve, reject) => {
      routeServer.once('error', reject)
      routeServer.listen(0, '127.0.0.1', () => {
        routeServer.off('error', reject)
        resolve(routeServer.address().port)
      })
    })
    routeServerPort.catch(() => {
      routeServer = null
      routeServerPort = null
    })
  }
  return routeServerPort
}

function stopRouteServer() {
  if (routeServer) routeServer.close()
  routeServer = null
  routeServerPort = null
}

const IOCTL_HEADER = /^x-ioctl-/i

/** Reads and removes ioctl's x-ioctl-* headers. */
function takeIoctlHeaders(req) {
  const headers = req.headers
  const taken = {
    routeId: headers['x-ioctl-route-id'],
    params: headers['x-ioctl-route-params'],
    type: headers['x-ioctl-route-type'],
    requestId: headers['x-ioctl-request-id'],
  }
  for (const name of Object.keys(headers)) if (IOCTL_HEADER.test(name)) delete headers[name]
  const raw = []
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!IOCTL_HEADER.test(req.rawHeaders[i])) raw.push(req.rawHeaders[i], req.rawHeaders[i + 1])
  }
  req.rawHeaders = raw
  return taken
}

/** x-ioctl-route-params: encodeURIComponent(JSON.stringify(params)); plain JSON accepted too. */
function parseRouteParams(header) {
  if (header === undefined || header === '') return {}
  const text = header.trimStart().startsWith('{') ? header : decodeURIComponent(header)
  const params = JSON.parse(text)
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new TypeError('not a JSON object')
  }
  return params
}

function plainAnswer(res, status, text) {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}

function onRouteRequest(req, res) {
  const ioctl = takeIoctlHeaders(req)
  const routeId = ioctl.routeId
  if (!routeId) {
    plainAnswer(res, 400, 'ioctl: this port only serves requests proxied by ioctl (no x-ioctl-route-id header)\n')
    return
  }
  let params
  try {
    params = parseRouteParams(ioctl.params)
  } catch (err) {
    plainAnswer(res, 400, `ioctl: unreadable x-ioctl-route-params (${err.message}): ${ioctl.params}\n`)
    return
  }
  const routes = (service && service.config.routes) || {}
  if (!service || !hasOwn(routes, routeId)) {
    const known = Object.keys(routes).join(', ') || 'none'
    plainAnswer(
      res,
      404,
      `ioctl: no route handler "${routeId}" in the Service's routes (node/index.ts declares ${known})\n`,
    )
    return
  }
  const route = {
    id: routeId,
    params,
    type: ioctl.type === 'public' ? 'public' : 'private',
  }
  const requestId = ioctl.requestId || randomId()
  handlerContext.run({ handler: routeId, delivery: null }, () => runRoute(req, res, route, requestId))
}

/** routeId -> composed middleware (the Service's routes never change once loaded). */
const routeChains = new Map()

function routeChain(routeId) {
  let chain = routeChains.get(routeId)
  if (!chain) {
    chain = vtexApi.__ioctl.compose(service.config.routes[routeId], `routes.${routeId}`)
    routeChains.set(routeId, chain)
  }
  return chain
}

async function runRoute(req, res, route, requestId) {
  const ctx = koa.createContext(req, res, route.params)
  ctx.vtex = ioContext(route, requestId)
  ctx.vtex.logger = new vtexApi.Logger(ctx.vtex)
  try {
    ctx.clients = createClients(ctx.vtex)
    await routeChain(route.id)(ctx)
  } catch (err) {
    routeFailed(ctx, err)
    return
  }
  try {
    koa.respond(ctx)
  } catch (err) {
    routeFailed(ctx, err)
  }
}

const validErrorStatus = (status) => Number.isInteger(status) && status >= 400 && status <= 599

function errorStatus(err) {
  if (err instanceof vtexApi.ResolverError) return validErrorStatus(err.status) ? err.status : 500
  if (err !== null && typeof err === 'object') {
    if (validErrorStatus(err.status)) return err.status
    if (validErrorStatus(err.statusCode)) return err.statusCode
  }
  return 500
}

function errorCode(err, status) {
  const code = err !== null && typeof err === 'object' ? err.code : undefined
  if (typeof code === 'string' || typeof code === 'number') return code
  if (status >= 500) return 'INTERNAL_SERVER_ERROR'
  return (http.STATUS_CODES[status] || 'ERROR').toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

/**
 * The middleware chain (or the body stream) failed: logged with its stack, attributed to the
 * route, and answered as VTEX does: the error's status and `{"message", "code"}` as JSON.
 */
function routeFailed(ctx, err, { enoentIs404 = false } = {}) {
  const routeId = ctx.vtex.route.id
  const info = errorInfo(err)
  log('error', `route ${routeId} failed: ${info.stack}`)
  const res = ctx.res
  try {
    if (res.headersSent || !ctx.writable) {
      // Part of the answer is out already: all we can do is cut it short.
      if (!res.writableEnded) res.destroy()
      return
    }
    let status = errorStatus(err)
    if (enoentIs404 && err && err.code === 'ENOENT') status = 404
    // Headers the app set (cookies, cache policy) stay, as on VTEX; those of the body go.
    for (const name of ['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'etag']) {
      res.removeHeader(name)
    }
    if (err && err.headers !== null && typeof err.headers === 'object') {
      try {
        ctx.response.set(err.headers)
      } catch {
        // Not a header map after all (some libraries' errors carry other `headers`).
      }
    }
    const body = JSON.stringify({ message: info.message, code: errorCode(err, status) })
    ctx.response._body = undefined
    res.statusCode = status
    res.statusMessage = http.STATUS_CODES[status] || ''
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.end(body)
  } catch (writeErr) {
    log('error', `route ${routeId}: cannot answer with the error: ${errorInfo(writeErr).stack}`)
    res.destroy()
  }
}

// --- incoming messages -------------------------------------------------------------------------

const warnedTypes = new Set()

function onMessage(message) {
  if (message === null || typeof message !== 'object') {
    logUnattributed('error', `ioctl host: ignoring message that is not an object: ${JSON.stringify(message)}`)
    return
  }
  switch (message.type) {
    case 'ping':
      send({ type: 'pong', id: message.id === undefined ? null : message.id })
      break
    case 'deliver':
      if (service && loadState === 'loaded') deliver(message)
      else {
        // ioctl only delivers after `loaded`: still answer, so it never waits.
        const why = loadState === 'failed' ? 'the service failed to load' : 'the service is not loaded yet'
        const error = errorInfo(new Error(why))
        send({ type: 'result', delivery: message.delivery, ok: false, elapsed_ms: 0, error })
      }
      break
    case 'send_event_ack':
      onSendEventAck(message)
      break
    case 'load':
      onLoad(message)
      break
    case 'shutdown':
      exitAfterFlush(0)
      break
    default:
      if (!warnedTypes.has(message.type)) {
        warnedTypes.add(message.type)
        logUnattributed('warn', `ioctl host: ignoring message of unknown type ${JSON.stringify(message.type)}`)
      }
  }
}

let received = ''

function onData(chunk) {
  received += chunk
  let newline
  while ((newline = received.indexOf('\n')) !== -1) {
    const line = received.slice(0, newline).trim()
    received = received.slice(newline + 1)
    if (!line) continue
    let message
    try {
      message = JSON.parse(line)
    } catch (err) {
      logUnattributed('error', `ioctl host: unreadable message from ioctl (${err.message}): ${line}`)
      continue
    }
    onMessage(message)
  }
}

// --- start ---------------------------------------------------------------------------------------

/**
 * Standby: do now what `load` would otherwise pay for. Nothing here may touch the app's
 * files (the next build lands in the same folder, and require's cache must not hold it).
 */
async function prewarm() {
  // Lazily loaded internals apps use: fetch/undici (ExternalClient), the source-map-aware
  // stack formatting, util.inspect, the URL parser.
  void [globalThis.fetch, globalThis.Headers, globalThis.Request, globalThis.Response, AbortSignal.timeout]
  void new Error('prewarm').stack
  util.inspect({ a: [1, { b: 'c' }] })
  new URL('http://127.0.0.1/?a=1')
  querystring.parse('a=1&a=2')
  randomId()
  try {
    await startRouteServer()
  } catch {
    // Retried at load time, where a failure is reported.
  }
}

socket = net.createConnection(SOCKET)
socket.setEncoding('utf8')
socket.on('connect', () => {
  connected = true
  const lines = pending
  pending = []
  for (const line of lines) socket.write(line)
  if (STANDBY) {
    prewarm().then(() => {
      if (loadState === 'waiting') send({ type: 'standby' })
    })
  }
  else loadService(env.IOCTL_ENTRY)
})
socket.on('data', onData)
// ioctl went away (or was never there): nobody is left to serve.
socket.on('error', (err) => {
  if (!connected) process.stderr.write(`ioctl host: cannot connect to ${SOCKET}: ${err.message}\n`)
  process.exit(exitCode === null ? 0 : exitCode)
})
socket.on('close', () => process.exit(exitCode === null ? 0 : exitCode))
