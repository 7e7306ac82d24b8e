'use strict'
// The rest of @vtex/api's runtime surface: tracing (no spans are sampled locally), the Recorder
// of cache headers, HTTP agents, timers around middlewares, dev-console logging, GraphQL schema
// directives and the worker's entry points. What needs VTEX's runtime (starting its worker, its
// log client, the messages app) throws a clear error when called.

const path = require('node:path')
const hooks = require('./hooks')
const { LogLevel, VALUES } = require('./constants')

/** A function @vtex/api exports that needs VTEX's runtime: throws, naming itself, when called. */
function notAvailable(name, why) {
  const fn = function () {
    throw new Error(`${name}() from @vtex/api ${why}; ioctl does not emulate it`)
  }
  Object.defineProperty(fn, 'name', { value: name })
  return fn
}

// Tracing: opentracing's shapes, none of them sampled.
const FORMAT_HTTP_HEADERS = 'http_headers'
const SpanReferenceTypes = { CHILD_OF: 0, FOLLOWS_FROM: 1, 0: 'CHILD_OF', 1: 'FOLLOWS_FROM' }
// opentracing's Tags (the userland tags @vtex/api re-exports).
const TracingTags = Object.freeze({
  SPAN_KIND: 'span.kind',
  SPAN_KIND_RPC_SERVER: 'server',
  SPAN_KIND_RPC_CLIENT: 'client',
  SPAN_KIND_MESSAGING_PRODUCER: 'producer',
  SPAN_KIND_MESSAGING_CONSUMER: 'consumer',
  ERROR: 'error',
  COMPONENT: 'component',
  SAMPLING_PRIORITY: 'sampling.priority',
  PEER_SERVICE: 'peer.service',
  PEER_HOSTNAME: 'peer.hostname',
  PEER_ADDRESS: 'peer.address',
  PEER_HOST_IPV4: 'peer.ipv4',
  PEER_HOST_IPV6: 'peer.ipv6',
  PEER_PORT: 'peer.port',
  HTTP_URL: 'http.url',
  HTTP_METHOD: 'http.method',
  HTTP_STATUS_CODE: 'http.status_code',
  MESSAGE_BUS_DESTINATION: 'message_bus.destination',
  DB_INSTANCE: 'db.instance',
  DB_STATEMENT: 'db.statement',
  DB_TYPE: 'db.type',
  DB_USER: 'db.user',
})

class SpanContext {
  toTraceId() {
    return ''
  }
  toSpanId() {
    return ''
  }
}

/** opentracing's no-op Span: every call is accepted and does nothing. */
class Span {
  context() {
    return new SpanContext()
  }
  tracer() {
    return undefined
  }
  setOperationName() {
    return this
  }
  setBaggageItem() {
    return this
  }
  getBaggageItem() {
    return undefined
  }
  setTag() {
    return this
  }
  addTags() {
    return this
  }
  log() {
    return this
  }
  logEvent() {}
  finish() {}
}

const createSpanReference = (span, type) => ({ type, referencedContext: span && span.context() })
const createTracingContextFromCarrier = () => new SpanContext()
const getTraceInfo = () => ({ isSampled: false, traceId: undefined })
const ErrorKinds = Object.freeze({ GENERIC_ERROR: 'GenericError' })

/** @vtex/node-error-report's ErrorReport: the original error with a kind and a short id. */
class ErrorReport extends Error {
  constructor({ message, kind = ErrorKinds.GENERIC_ERROR, originalError, details } = {}) {
    super(message || (originalError && originalError.message) || kind)
    this.name = 'ErrorReport'
    this.kind = kind
    this.originalError = originalError
    this.details = details
    if (originalError && originalError.stack) this.stack = originalError.stack
  }
  static create(args) {
    return new ErrorReport(args)
  }
  injectOnSpan() {
    return this
  }
  toObject() {
    return { kind: this.kind, message: this.message, stack: this.stack, details: this.details }
  }
}

/** Collects the x-vtex-meta headers of the answers a request used, and sets them on ctx. */
class Recorder {
  constructor() {
    this._record = { [VALUES.META_HEADER]: new Set(), [VALUES.META_HEADER_BUCKET]: new Set() }
  }
  clear() {
    for (const set of Object.values(this._record)) set.clear()
  }
  record(headers) {
    for (const name of Object.keys(this._record)) {
      const value = headers && headers[name]
      if (value) value.split(',').forEach((v) => this._record[name].add(v.trim()))
    }
  }
  flush(ctx) {
    for (const [name, set] of Object.entries(this._record)) {
      const values = new Set(set)
      const current = ctx.response.get(name)
      ;(typeof current === 'string' ? current.split(',') : current || []).forEach((v) => values.add(String(v).trim()))
      const deduped = [...values].filter(Boolean)
      if (deduped.length > 0) ctx.set(name, deduped)
    }
  }
}

// node:http and node:https (with tls) load only if an app asks for an agent.
const createHttpAgent = () => new (require('node:http').Agent)({ keepAlive: true, maxFreeSockets: 50 })
const createHttpsAgent = () => new (require('node:https').Agent)({ keepAlive: true, maxFreeSockets: 50 })

/** timer(middleware): records how long each middleware took in ctx.timings, as VTEX does. */
function timed(middleware, serverTiming) {
  if (middleware.skipTimer) return middleware
  return async function timedMiddleware(ctx, next) {
    if (serverTiming && !ctx.serverTiming) ctx.serverTiming = {}
    if (!ctx.timings) ctx.timings = { total: [0, 0] }
    if (!ctx.metrics) ctx.metrics = {}
    const start = process.hrtime()
    try {
      await middleware(ctx, next)
      const end = process.hrtime(start)
      ctx.timings[middleware.name] = [end[0] - ctx.timings.total[0], end[1] - ctx.timings.total[1]]
      ctx.timings.total = end
    } catch (e) {
      ctx.timings.total = process.hrtime(start)
      throw e
    }
  }
}
const timer = (middleware) => timed(middleware, true)
const timerForEvents = (middleware) => timed(middleware, false)

// Dev-console logging: on VTEX, messages for the `vtex link` terminal.
const isLog = (message) => (message && message.cmd) === VALUES.LOG_ONCE
const logged = new Set()
function log(message, level = LogLevel.Info) {
  hooks.log(level, typeof message === 'string' ? message : JSON.stringify(message))
}
function logOnceToDevConsole(message, level = LogLevel.Info) {
  const key = `${level}:${typeof message === 'string' ? message : JSON.stringify(message)}`
  if (logged.has(key)) return
  logged.add(key)
  log(message, level)
}

// GraphQL: the directive names and declarations VTEX's runtime adds to every app schema.
const nativeSchemaDirectivesTypeDefs = [
  'directive @auth(productCode: String, resourceCode: String) on FIELD_DEFINITION',
  'directive @cacheControl(maxAge: Int, scope: IOCacheControlScope) on FIELD_DEFINITION | OBJECT | INTERFACE\n' +
    'enum IOCacheControlScope {\n  SEGMENT\n  PUBLIC\n  PRIVATE\n}',
  'directive @deprecated(reason: String) on FIELD_DEFINITION | ENUM_VALUE',
  'directive @metric(name: String) on FIELD_DEFINITION',
  'directive @sanitize(allowHTMLTags: Boolean, stripIgnoreTag: Boolean) on ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION',
  'directive @settings(settingsType: String) on FIELD_DEFINITION',
  'directive @smartcache(maxAge: String) on FIELD_DEFINITION',
  'directive @translatableV2(behavior: String, withAppsMetaInfo: Boolean) on FIELD_DEFINITION',
  'directive @translateTo(language: String!) on FIELD_DEFINITION',
].join('\n\n')

/** A schema directive class of VTEX's runtime: constructing one outside it says so. */
function nativeDirective(name) {
  const Directive = class {
    constructor() {
      throw new Error(
        `the @${name} schema directive of @vtex/api runs inside VTEX's GraphQL runtime; ioctl does not emulate it`,
      )
    }
  }
  Object.defineProperty(Directive, 'name', { value: name[0].toUpperCase() + name.slice(1) })
  return Directive
}
const nativeSchemaDirectives = Object.fromEntries(
  [
    'auth',
    'cacheControl',
    'deprecated',
    'metric',
    'sanitize',
    'settings',
    'smartcache',
    'translatableV2',
    'translateTo',
  ].map((name) => [name, nativeDirective(name)]),
)

/**
 * Resolves VBase conflicts with the workspace's version winning. It asks the VBase client for the
 * bucket's conflicts, so it works as far as that client does (ioctl's VBase has no conflicts).
 */
class MineWinsConflictsResolver {
  constructor(client, bucket, filePath, comparableKeys) {
    this.client = client
    this.bucket = bucket
    this.filePath = filePath
    this.comparableKeys = comparableKeys
  }
  async resolve() {
    const { data: conflicts } = await this.client.getConflicts(this.bucket)
    const conflict = conflicts.find((c) => c.path === this.filePath)
    if (!conflict) throw { message: 'No conflict could be found.', status: 404 }
    return this.resolveConflictMineWins(conflict)
  }
  async resolveAll() {
    const { data: conflicts } = await this.client.getConflicts(this.bucket)
    return conflicts.map((conflict) => this.resolveConflictMineWins(conflict))
  }
  parseConflict(side) {
    const text = side && side.content ? Buffer.from(side.content, 'base64').toString() : ''
    return side && side.mimeType === 'application/json' && text ? JSON.parse(text) : text
  }
  resolveConflictMineWins(conflict) {
    const [master, mine] = [this.parseConflict(conflict.master), this.parseConflict(conflict.mine)]
    const object = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
    return object(master) && object(mine) ? { ...master, ...mine } : mine
  }
}

/** Where VTEX's worker finds the app's code; here, the linked app's node/ folder. */
function appPath() {
  return path.join(process.env.IOCTL_APP_ROOT || process.cwd(), 'node')
}

module.exports = {
  FORMAT_HTTP_HEADERS,
  SpanReferenceTypes,
  TracingTags,
  Span,
  createSpanReference,
  createTracingContextFromCarrier,
  getTraceInfo,
  ErrorKinds,
  ErrorReport,
  Recorder,
  createHttpAgent,
  createHttpsAgent,
  timer,
  timerForEvents,
  isLog,
  log,
  logOnceToDevConsole,
  nativeSchemaDirectives,
  nativeSchemaDirectivesTypeDefs,
  appPath,
  MineWinsConflictsResolver,
  startApp: notAvailable('startApp', "starts VTEX's own worker runtime"),
  getLogClient: notAvailable('getLogClient', "returns VTEX's log shipping client"),
  createMessagesLoader: notAvailable(
    'createMessagesLoader',
    "translates through the vtex.messages app in VTEX's cloud",
  ),
}
