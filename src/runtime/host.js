'use strict'
// ioctl's Node host: the entry of the service process. It points `@vtex/api` at ioctl's
// stand-in, loads the user's built service, and speaks newline-delimited JSON with ioctl
// over IOCTL_SOCKET: it reports what the Service declares, runs event deliveries and
// forwards console / ctx.vtex.logger output and sendEvent calls.

const Module = require('node:module')
const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const util = require('node:util')
const { AsyncLocalStorage } = require('node:async_hooks')
const { performance } = require('node:perf_hooks')

const env = process.env
const SOCKET = env.IOCTL_SOCKET
const ENTRY = env.IOCTL_ENTRY
if (!SOCKET || !ENTRY) {
  process.stderr.write('ioctl host: IOCTL_SOCKET and IOCTL_ENTRY must be set (ioctl starts this file)\n')
  process.exit(2)
}
// Real path: the redirected requests and the host's own require must share one module instance.
const VTEX_API_DIR = env.IOCTL_VTEX_API || path.join(__dirname, 'vtex-api')
const VTEX_API_FILE = fs.realpathSync(path.join(VTEX_API_DIR, 'index.js'))
const LOCAL_AUTH_TOKEN = 'ioctl-local-auth-token'

// --- 1. `@vtex/api`, from anywhere (node_modules included), is the stand-in -------------

const resolveFilename = Module._resolveFilename
Module._resolveFilename = function resolveWithVtexApi(request, ...rest) {
  if (request === '@vtex/api' || request.startsWith('@vtex/api/')) return VTEX_API_FILE
  return resolveFilename.call(this, request, ...rest)
}
const vtexApi = require(VTEX_API_FILE)

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

/** Store of each delivery's async context: {handler, delivery}. */
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

function loadService() {
  let exported
  try {
    exported = require(ENTRY)
  } catch (err) {
    const { message, stack } = errorInfo(err)
    send({ type: 'load_error', message, stack })
    exitAfterFlush(1)
    return
  }
  const candidate = exported != null && exported.default !== undefined ? exported.default : exported
  if (!isService(candidate)) {
    const message =
      "node/index.ts does not export a Service: expected `export default new Service({...})` from '@vtex/api'"
    send({ type: 'load_error', message, stack: `Error: ${message}` })
    exitAfterFlush(1)
    return
  }
  service = candidate
  const config = service.config
  send({
    type: 'loaded',
    events: Object.keys(config.events || {}),
    routes: Object.keys(config.routes || {}),
    clientOptions: jsonSafe((config.clients && config.clients.options) || {}) || {},
  })
}

// --- 5. deliveries ---------------------------------------------------------------------------

function randomId() {
  return crypto.randomBytes(16).toString('hex')
}

function eventContext(handler, event) {
  const account = env.VTEX_ACCOUNT || ''
  const workspace = env.VTEX_WORKSPACE || ''
  const vtex = {
    account,
    workspace,
    region: env.VTEX_REGION || 'local',
    production: false,
    authToken: LOCAL_AUTH_TOKEN,
    requestId: randomId(),
    operationId: randomId(),
    route: { id: handler, type: 'event', params: {} },
    userAgent: env.VTEX_APP_ID || '',
    locale: 'en-US',
    tenant: { locale: 'en-US' },
    platform: 'vtex',
    product: '',
    host: `${workspace}--${account}.myvtex.com`,
    eventInfo: { id: event.id, key: event.key, sender: event.sender, subject: event.subject },
  }
  vtex.logger = new vtexApi.Logger(vtex)

  const clientsConfig = service.config.clients || {}
  const Clients = clientsConfig.implementation || vtexApi.IOClients
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
  // As in @vtex/api, clients get the IOContext (ctx.vtex): client classes take `context: IOContext`.
  ctx.clients = new Clients(clientsConfig.options || {}, vtex)
  return ctx
}

async function runHandler(handler, event) {
  const events = service.config.events || {}
  if (!Object.prototype.hasOwnProperty.call(events, handler)) {
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

// --- incoming messages -------------------------------------------------------------------------

const warnedTypes = new Set()

function onMessage(message) {
  if (message === null || typeof message !== 'object') {
    logUnattributed('error', `ioctl host: ignoring message that is not an object: ${JSON.stringify(message)}`)
    return
  }
  switch (message.type) {
    case 'deliver':
      if (service) deliver(message)
      else {
        // Only possible if ioctl delivers after a load_error: still answer, so it never waits.
        const error = errorInfo(new Error('the service failed to load'))
        send({ type: 'result', delivery: message.delivery, ok: false, elapsed_ms: 0, error })
      }
      break
    case 'send_event_ack':
      onSendEventAck(message)
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

socket = net.createConnection(SOCKET)
socket.setEncoding('utf8')
socket.on('connect', () => {
  connected = true
  const lines = pending
  pending = []
  for (const line of lines) socket.write(line)
  loadService()
})
socket.on('data', onData)
// ioctl went away (or was never there): nobody is left to serve.
socket.on('error', (err) => {
  if (!connected) process.stderr.write(`ioctl host: cannot connect to ${SOCKET}: ${err.message}\n`)
  process.exit(exitCode === null ? 0 : exitCode)
})
socket.on('close', () => process.exit(exitCode === null ? 0 : exitCode))
