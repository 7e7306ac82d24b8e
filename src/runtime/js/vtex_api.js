'use strict'
// ioctl's stand-in for the `@vtex/api` npm package, loaded by every `require('@vtex/api')`
// of a service run by ioctl (host.js redirects the module resolution here). It owns the
// runtime values apps import: Service, IOClients and client base classes, method(), LRUCache,
// the error classes and constants. Self-contained: Node 20 built-ins only.

const util = require('node:util')
const { Readable } = require('node:stream')
const { setTimeout: sleep } = require('node:timers/promises')

// ---------------------------------------------------------------------------------------
// Hooks filled in by host.js. When this file is loaded outside ioctl's host (tests, a REPL)
// the defaults below keep it usable: logs go to stderr, sendEvent rejects.
// ---------------------------------------------------------------------------------------

const hooks = {
  /** (level, message) -> void: one log line attributed by the host to the current handler. */
  log(level, message) {
    process.stderr.write(`${level}: ${message}\n`)
  },
  /** (subject, key, body) -> Promise<eventId>: fires an event through ioctl's bus. */
  sendEvent() {
    return Promise.reject(new Error('sendEvent is only available when the service runs under ioctl'))
  },
  compose,
}

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

const env = process.env
// Read when used: a standby host learns the app's identity only when it loads the app.
const APP = Object.freeze({
  get ID() {
    return env.VTEX_APP_ID || ''
  },
  get MAJOR() {
    return (env.VTEX_APP_VERSION || '').split('.')[0]
  },
  get NAME() {
    return env.VTEX_APP_NAME || ''
  },
  get VENDOR() {
    return env.VTEX_APP_VENDOR || ''
  },
  get VERSION() {
    return env.VTEX_APP_VERSION || ''
  },
  IS_THIRD_PARTY() {
    return this.VENDOR !== 'vtex' && this.VENDOR !== 'gocommerce'
  },
})
const LINKED = true
const PRODUCTION = false
const REGION = env.VTEX_REGION || 'local'

const LogLevel = Object.freeze({ Debug: 'debug', Info: 'info', Warn: 'warn', Error: 'error' })
const AuthType = Object.freeze({ basic: 'basic', bearer: 'bearer' })
const CacheType = Object.freeze({ None: 0, Memory: 1, Disk: 2, Any: 3 })

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

function messageOf(message) {
  if (typeof message === 'string') return message
  if (message && typeof message.message === 'string') return message.message
  return String(message)
}

class ResolverError extends Error {
  constructor(message, status = 500, code = 'RESOLVER_ERROR') {
    super(messageOf(message))
    this.status = status
    this.code = code
    if (message instanceof Error) this.originalError = message
  }
}

class UserInputError extends ResolverError {
  constructor(message) {
    super(message, 400, 'USER_INPUT_ERROR')
  }
}

class AuthenticationError extends ResolverError {
  constructor(message) {
    super(message, 401, 'UNAUTHENTICATED')
  }
}

class ForbiddenError extends ResolverError {
  constructor(message) {
    super(message, 403, 'FORBIDDEN')
  }
}

class NotFoundError extends ResolverError {
  constructor(message) {
    super(message, 404, 'NOT_FOUND')
  }
}

class TooManyRequestsError extends ResolverError {
  constructor(message) {
    super(message, 429, 'TOO_MANY_REQUESTS')
  }
}

// @vtex/api only sets `code`; 499 ("client closed request") gives it a status like the others.
class RequestCancelledError extends Error {
  constructor(message = 'Request cancelled') {
    super(messageOf(message))
    this.status = 499
    this.code = 'request_cancelled'
  }
}

// Names on the prototypes, so that stack headers read `NotFoundError: ...`.
for (const ErrorClass of [
  ResolverError,
  UserInputError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  RequestCancelledError,
]) {
  Object.defineProperty(ErrorClass.prototype, 'name', {
    value: ErrorClass.name,
    writable: true,
    configurable: true,
  })
}

// ---------------------------------------------------------------------------------------
// Middleware composition (Koa semantics) and method()
// ---------------------------------------------------------------------------------------

/**
 * Koa's compose: runs `middleware` in order, each as fn(ctx, next); `label` names the
 * chain in the TypeError raised for an entry that is not a function.
 */
function compose(middleware, label = 'middleware') {
  if (!Array.isArray(middleware)) middleware = [middleware]
  middleware.forEach((fn, i) => {
    if (typeof fn !== 'function') {
      const where = middleware.length > 1 ? `${label}[${i}]` : label
      throw new TypeError(`${where} must be a function, got ${util.inspect(fn, { depth: 0 })}`)
    }
  })
  return function composed(ctx, next) {
    let last = -1
    function dispatch(i) {
      if (i <= last) return Promise.reject(new Error('next() called multiple times'))
      last = i
      const fn = i === middleware.length ? next : middleware[i]
      if (!fn) return Promise.resolve()
      try {
        return Promise.resolve(fn(ctx, dispatch.bind(null, i + 1)))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return dispatch(0)
  }
}

/** `method({GET: [...], POST: fn})`: a route middleware dispatching on the HTTP verb; 405 otherwise. */
function method(handlers) {
  const byVerb = {}
  for (const [verb, chain] of Object.entries(handlers || {})) {
    byVerb[verb.toUpperCase()] = compose(chain, `method().${verb.toUpperCase()}`)
  }
  return async function methodMiddleware(ctx, next) {
    const verb = String(ctx.method || '').toUpperCase()
    const handler = Object.prototype.hasOwnProperty.call(byVerb, verb) ? byVerb[verb] : undefined
    if (handler) {
      await handler(ctx, next)
      return
    }
    ctx.status = 405
    if (typeof ctx.set === 'function') ctx.set('Allow', Object.keys(byVerb).join(', '))
  }
}

// ---------------------------------------------------------------------------------------
// Service, logger, metrics
// ---------------------------------------------------------------------------------------

class Service {
  constructor(config = {}) {
    this.config = config
  }
}

function formatLogMessage(message) {
  if (typeof message === 'string') return message
  if (message instanceof Error) return message.stack || String(message)
  if (message === undefined || message === null || typeof message !== 'object') {
    return String(message)
  }
  try {
    return JSON.stringify(message)
  } catch {
    // Circular structures, BigInt: fall back to what console would print.
    return util.inspect(message, { depth: 4, breakLength: Infinity })
  }
}

/** ctx.vtex.logger: each call becomes one log line for ioctl. Methods are bound (apps destructure them). */
class Logger {
  constructor(ctx) {
    this.ctx = ctx
    this.debug = (message) => this.log(message, LogLevel.Debug)
    this.info = (message) => this.log(message, LogLevel.Info)
    this.warn = (message) => this.log(message, LogLevel.Warn)
    this.error = (message) => this.log(message, LogLevel.Error)
  }

  log(message, level = LogLevel.Info) {
    hooks.log(level, formatLogMessage(message))
  }
}

/** The global `metrics` object of a VTEX worker. Nothing is exported locally; caches are only remembered. */
class MetricsAccumulator {
  constructor() {
    this.caches = new Map()
    this.onFlush = []
  }
  trackCache(name, cache) {
    this.caches.set(name, cache)
  }
  batch() {}
  batchMetric() {}
  addOnFlushMetric(fn) {
    if (typeof fn === 'function') this.onFlush.push(fn)
  }
  statusTrack() {
    return []
  }
}

// ---------------------------------------------------------------------------------------
// LRUCache (the lru-cache v5 API @vtex/api wraps, plus hit statistics)
// ---------------------------------------------------------------------------------------

class LRUCache {
  constructor(options = {}) {
    const max = options.max === undefined || options.max === 0 ? Infinity : options.max
    if (typeof max !== 'number' || !(max > 0)) {
      throw new TypeError(`LRUCache: max must be a positive number, got ${util.inspect(options.max)}`)
    }
    this.max = max
    this.ttl = options.ttl || options.maxAge || 0
    this.lengthOf = typeof options.length === 'function' ? options.length : () => 1
    this.onDispose = typeof options.dispose === 'function' ? options.dispose : null
    this.storage = new Map() // insertion order = recency order, oldest first
    this.totalLength = 0
    this.hits = 0
    this.total = 0
    this.disposed = 0
  }

  get size() {
    return this.storage.size
  }
  get itemCount() {
    return this.storage.size
  }
  get length() {
    return this.totalLength
  }

  get(key) {
    this.total += 1
    const entry = this.liveEntry(key)
    if (!entry) return undefined
    this.hits += 1
    this.storage.delete(key)
    this.storage.set(key, entry)
    return entry.value
  }

  peek(key) {
    const entry = this.liveEntry(key)
    return entry ? entry.value : undefined
  }

  has(key) {
    return this.liveEntry(key) !== undefined
  }

  set(key, value, maxAge) {
    const previous = this.storage.get(key)
    if (previous) this.remove(key, previous, false)
    const length = this.lengthOf(value, key)
    if (length > this.max) return false
    const ttl = maxAge || this.ttl
    this.storage.set(key, { value, length, expires: ttl ? Date.now() + ttl : 0 })
    this.totalLength += length
    for (const [oldKey, oldEntry] of this.storage) {
      if (this.totalLength <= this.max) break
      this.remove(oldKey, oldEntry, true)
    }
    return true
  }

  delete(key) {
    const entry = this.storage.get(key)
    if (entry) this.remove(key, entry, true)
  }

  del(key) {
    this.delete(key)
  }

  clear() {
    for (const [key, entry] of this.storage) this.remove(key, entry, true)
  }

  reset() {
    this.clear()
  }

  keys() {
    return [...this.storage.keys()].reverse()
  }

  values() {
    return [...this.storage.values()].reverse().map((entry) => entry.value)
  }

  /** CacheLayer API: the cached value, or the fetcher's `{value, maxAge?}` stored and returned. */
  async getOrSet(key, fetcher) {
    if (this.has(key)) return this.get(key)
    if (!fetcher) return undefined
    const { value, maxAge } = await fetcher()
    this.set(key, value, maxAge)
    return value
  }

  /** Counters since the previous call, then reset (as @vtex/api does for its metrics). */
  getStats(name = 'lru-cache') {
    const stats = {
      disposedItems: this.disposed,
      hitRate: this.total > 0 ? this.hits / this.total : 0,
      hits: this.hits,
      itemCount: this.storage.size,
      length: this.totalLength,
      name,
      total: this.total,
    }
    this.hits = 0
    this.total = 0
    this.disposed = 0
    return stats
  }

  liveEntry(key) {
    const entry = this.storage.get(key)
    if (!entry) return undefined
    if (entry.expires && entry.expires <= Date.now()) {
      this.remove(key, entry, true)
      return undefined
    }
    return entry
  }

  remove(key, entry, dispose) {
    this.storage.delete(key)
    this.totalLength -= entry.length
    if (dispose) {
      this.disposed += 1
      if (this.onDispose) this.onDispose(key, entry.value)
    }
  }
}

// ---------------------------------------------------------------------------------------
// HTTP: ExternalClient talks to the real internet with fetch; VTEX-internal clients can't.
// ---------------------------------------------------------------------------------------

function combineURL(baseURL, url) {
  if (!url) return baseURL || ''
  if (/^[a-z][a-z\d+\-.]*:\/\//i.test(url) || !baseURL) return url
  return `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`
}

function withParams(url, params) {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null) continue
    const encode = (v) =>
      v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v)
    if (Array.isArray(value)) value.forEach((v) => query.append(`${key}[]`, encode(v)))
    else query.append(key, encode(value))
  }
  const qs = query.toString()
  if (!qs) return url
  return `${url}${url.includes('?') ? '&' : '?'}${qs}`
}

function requestBody(data, headers) {
  if (data === undefined || data === null) return {}
  if (typeof data === 'string' || data instanceof URLSearchParams || ArrayBuffer.isView(data)) return { body: data }
  if (data instanceof ArrayBuffer || data instanceof Blob || data instanceof FormData) return { body: data }
  if (data instanceof ReadableStream) return { body: data, duplex: 'half' }
  if (data instanceof Readable) return { body: Readable.toWeb(data), duplex: 'half' }
  if (!headers.has('content-type')) headers.set('content-type', 'application/json')
  return { body: JSON.stringify(data) }
}

async function responseData(res, method, responseType) {
  if (method === 'HEAD') return undefined
  if (responseType === 'stream') return res.body ? Readable.fromWeb(res.body) : Readable.from([])
  if (responseType === 'arraybuffer') return Buffer.from(await res.arrayBuffer())
  const text = await res.text()
  if (responseType === 'text' || text === '') return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

// Retries, timeouts and concurrency: VTEX's `clients.options` (InstanceOptions), which a call's
// config may override. `timeout`: ms per attempt. `retries`: extra attempts (absent or 0: none).
// Retry n waits initialBackoffDelay × exponentialBackoffCoefficient^(n−1) ms plus up to 20 %
// jitter, so that clients which failed together do not all come back at the same instant; each
// retry's timeout is the previous one × exponentialTimeoutCoefficient, so that a slow server
// gets more time instead of being cut off at the same point again.
const DEFAULT_BACKOFF_DELAY = 200
const DEFAULT_BACKOFF_COEFFICIENT = 2
const RETRY_SETTINGS = [
  'retries',
  'initialBackoffDelay',
  'exponentialBackoffCoefficient',
  'exponentialTimeoutCoefficient',
]

// Only calls that may safely happen twice are repeated: a POST or PATCH whose answer was lost
// may still have taken effect, and sending it again could, say, create an order twice.
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
// Error codes of the system's network calls: ECONNREFUSED, ECONNRESET, ENOTFOUND, EAI_AGAIN, ...
const SYSTEM_ERROR_CODE = /^E(AI_)?[A-Z]+$/

/** Whether a failed attempt may go better next time. */
function isRetryable(err) {
  // 408 (request timeout), 429 (rate limited) and 5xx say "try later"; any other 4xx is the
  // caller's mistake and would fail the same way again.
  if (err.response) {
    const status = err.response.status
    return status === 408 || status === 429 || status >= 500
  }
  // No answer: the connection was refused, reset or never resolved (system codes such as
  // ECONNREFUSED, ECONNRESET, ENOTFOUND, EAI_AGAIN; undici's socket and timeout errors), or
  // the attempt ran out of time (ECONNABORTED). A malformed request (ERR_*, no code) would
  // fail again, and a call the app cancelled itself (RequestCancelledError) is not retried.
  if (err instanceof RequestCancelledError) return false
  return SYSTEM_ERROR_CODE.test(err.code || '') || /^UND_ERR_(SOCKET|CLOSED|\w*TIMEOUT)$/.test(err.code || '')
}

/** At most `max` operations at once; the others wait their turn, first come first served. */
class Limiter {
  constructor(max) {
    this.max = max
    this.running = 0
    this.waiting = []
  }

  async run(operation) {
    if (this.running < this.max) this.running += 1
    else await new Promise((resolve) => this.waiting.push(resolve))
    try {
      return await operation()
    } finally {
      const next = this.waiting.shift()
      if (next) next() // the slot passes straight to the next in line
      else this.running -= 1
    }
  }
}

// IOClients is built afresh for every request and event delivery, so a limiter owned by one
// client instance would only see that request's calls and `concurrency` would limit nothing
// app-wide. IOClients.getOrSet therefore tags the options it hands a client with a key object
// that is the same for every IOClients built from the same `clients.options` object and client
// name: one limiter per client name per Service. The tag is an enumerable symbol so that the
// usual `super(url, context, { ...options, headers })` keeps it. A client constructed with
// hand-made options shares by the identity of that options object. The first `concurrency`
// seen for a key sets its limit. (@vtex/api keeps a limiter per HttpClient instance; sharing it
// is ioctl's choice, so that the limit a developer sets is one they can observe locally.)
const LIMITER_KEY = Symbol('ioctl.limiterKey')
const limiterKeys = new WeakMap() // clients.options object -> Map(client name -> key object)
const limiters = new WeakMap() // key object (or options object) -> Limiter

function limiterKeyFor(clientOptions, name) {
  let byName = limiterKeys.get(clientOptions)
  if (!byName) limiterKeys.set(clientOptions, (byName = new Map()))
  if (!byName.has(name)) byName.set(name, { client: name })
  return byName.get(name)
}

/** The shared Limiter for these options, or undefined without a positive `concurrency`. */
function limiterFor(options) {
  const max = Math.floor(Number(options && options.concurrency))
  if (!(max >= 1)) return undefined
  const key = options[LIMITER_KEY] || options
  let limiter = limiters.get(key)
  if (!limiter) limiters.set(key, (limiter = new Limiter(max)))
  return limiter
}

/** `this.http` of an ExternalClient: axios-like calls on global fetch. */
class HttpClient {
  constructor(options = {}) {
    const { baseURL, headers, params, timeout, userAgent } = options
    this.baseURL = baseURL
    this.headers = { ...(userAgent ? { 'User-Agent': userAgent } : {}), ...headers }
    this.params = params || {}
    this.timeout = timeout
    for (const name of RETRY_SETTINGS) this[name] = options[name]
    /** Names the client in retry warnings and failures. */
    this.name = options.name || 'HttpClient'
    this.limiter = options.limiter || limiterFor(options)

    this.get = (url, config = {}) => this.request({ ...config, url, method: 'get' }).then((r) => r.data)
    this.getRaw = (url, config = {}) => this.request({ ...config, url, method: 'get' })
    this.getBuffer = (url, config = {}) =>
      this.request({ ...config, url, method: 'get', responseType: 'arraybuffer' }).then((r) => ({
        data: r.data,
        headers: r.headers,
      }))
    this.getStream = (url, config = {}) =>
      this.request({ ...config, url, method: 'get', responseType: 'stream' }).then((r) => r.data)
    // fetch cannot send a body with GET: this rejects with fetch's TypeError message saying so.
    this.getWithBody = (url, data, config = {}) =>
      this.request({ ...config, url, data, method: 'get' }).then((r) => r.data)
    this.post = (url, data, config = {}) => this.request({ ...config, url, data, method: 'post' }).then((r) => r.data)
    this.postRaw = (url, data, config = {}) => this.request({ ...config, url, data, method: 'post' })
    this.put = (url, data, config = {}) => this.request({ ...config, url, data, method: 'put' }).then((r) => r.data)
    this.putRaw = (url, data, config = {}) => this.request({ ...config, url, data, method: 'put' })
    this.patch = (url, data, config = {}) =>
      this.request({ ...config, url, data, method: 'patch' }).then((r) => r.data)
    this.head = (url, config = {}) => this.request({ ...config, url, method: 'head' })
    this.delete = (url, config = {}) => this.request({ ...config, url, method: 'delete' })
  }

  /** One call: attempts with retries and backoff, inside the client's concurrency limit. */
  async request(config) {
    const method = String(config.method || 'get').toUpperCase()
    const url = withParams(combineURL(config.baseURL || this.baseURL, config.url), {
      ...this.params,
      ...config.params,
    })
    const setting = (name, fallback) => {
      const value = Number(config[name] !== undefined ? config[name] : this[name])
      return Number.isFinite(value) && value >= 0 ? value : fallback
    }
    // A streamed body is used up by the first attempt: there is nothing left to send again.
    const replayable = !(config.data instanceof Readable || config.data instanceof ReadableStream)
    const attempts = IDEMPOTENT_METHODS.has(method) && replayable ? Math.floor(setting('retries', 0)) + 1 : 1
    const backoffDelay = setting('initialBackoffDelay', DEFAULT_BACKOFF_DELAY)
    const backoffCoefficient = setting('exponentialBackoffCoefficient', DEFAULT_BACKOFF_COEFFICIENT)
    const timeoutCoefficient = setting('exponentialTimeoutCoefficient', 0)

    const operation = async () => {
      let timeout = config.timeout || this.timeout
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await sendOnce(config, method, url, this.headers, timeout)
        } catch (err) {
          if (attempt >= attempts || !isRetryable(err)) throw finalError(err, `${this.name} ${method} ${url}`, attempt)
          if (err.response && err.response.data instanceof Readable) err.response.data.destroy()
          const delay = Math.round(backoffDelay * backoffCoefficient ** (attempt - 1) * (1 + 0.2 * Math.random()))
          // Through the host's log hook, in the caller's async context: attributed to its handler.
          hooks.log(
            'warn',
            `${this.name} ${method} ${url} failed (attempt ${attempt}/${attempts}: ${causeOf(err)}); retrying in ${delay} ms`,
          )
          try {
            await sleep(delay, undefined, { signal: config.signal })
          } catch (cause) {
            throw attemptError(cause, { method, url, timeout })
          }
          if (timeout && timeoutCoefficient) timeout = Math.round(timeout * timeoutCoefficient)
        }
      }
    }
    // The slot is held for the whole call, retries and waits included, as @vtex/api's limit
    // wraps the request with its retries: `concurrency` counts operations, not attempts.
    return this.limiter ? this.limiter.run(operation) : operation()
  }
}

/** One attempt: the response, or an axios-like error (with `response` when there was one). */
async function sendOnce(config, method, url, defaultHeaders, timeout) {
  const headers = new Headers()
  for (const [name, value] of Object.entries({ ...defaultHeaders, ...config.headers })) {
    if (value !== undefined && value !== null) headers.set(name, String(value))
  }
  const signals = [config.signal, timeout ? AbortSignal.timeout(timeout) : undefined].filter(Boolean)
  const init = { method, headers, ...requestBody(config.data, headers) }
  if (signals.length) init.signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals)

  let response
  try {
    const res = await fetch(url, init)
    response = {
      status: res.status,
      statusText: res.statusText,
      headers: Object.fromEntries(res.headers),
      data: await responseData(res, method, config.responseType),
      config: { ...config, method: method.toLowerCase(), url },
    }
  } catch (cause) {
    // The connection, or the timeout, may also end while the body is being read.
    throw attemptError(cause, { method, url, timeout })
  }
  const validateStatus = config.validateStatus || ((status) => status >= 200 && status < 300)
  if (!validateStatus(response.status)) {
    const err = new Error(`Request failed with status code ${response.status}`)
    err.response = response
    err.config = response.config
    err.isAxiosError = true
    throw err
  }
  return response
}

/** What fetch threw, as an axios-like error whose message is the cause alone. */
function attemptError(cause, { method, url, timeout }) {
  let err
  if (cause && cause.name === 'TimeoutError') {
    err = new Error(`timeout of ${timeout}ms exceeded`)
    err.code = 'ECONNABORTED'
  } else if (cause && cause.name === 'AbortError') {
    err = new RequestCancelledError(`${method} ${url} was cancelled`)
  } else {
    const reason = (cause && cause.cause) || cause
    err = new Error((reason && reason.message) || String(reason), { cause })
    if (reason && reason.code) err.code = reason.code
  }
  err.config = { method: method.toLowerCase(), url }
  err.isAxiosError = true
  return err
}

/** A failed attempt in a few words, for the retry warning. */
function causeOf(err) {
  if (err.response) return `status ${err.response.status}`
  if (SYSTEM_ERROR_CODE.test(err.code || '') && err.code !== 'ECONNABORTED') return err.code
  return err.message
}

/** The error a call rejects with: the last attempt's, named with the call and attempt count. */
function finalError(last, call, attempts) {
  if (last instanceof RequestCancelledError) return last
  const err = new Error(`${call} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${last.message}`, {
    cause: last.cause || last,
  })
  for (const field of ['code', 'response', 'config', 'isAxiosError']) {
    if (last[field] !== undefined) err[field] = last[field]
  }
  err.attempts = attempts
  return err
}

/** `this.http` of clients that would call VTEX's own services: every call rejects with why. */
class UnreachableHttpClient {
  constructor(owner, target) {
    const fail = (verb) => (url) =>
      Promise.reject(
        new Error(
          `${owner}: ${verb} ${url} goes to ${target}, which is part of VTEX's cloud ` +
            'and not reachable when ioctl runs the service locally',
        ),
      )
    const methods = ['get', 'getRaw', 'getBuffer', 'getStream', 'getWithBody', 'post', 'postRaw']
    for (const name of [...methods, 'put', 'putRaw', 'patch', 'head', 'delete']) {
      this[name] = fail(name.replace(/Raw|Buffer|Stream|WithBody/, '').toUpperCase())
    }
    this.request = (config = {}) => fail(String(config.method || 'get').toUpperCase())(config.url)
  }
}

/** Base of every client: what `getOrSet` constructs as `new Implementation(context, options)`. */
class IOClient {
  constructor(context, options = {}) {
    this.context = context
    this.options = options
  }
}

class ExternalClient extends IOClient {
  constructor(baseURL, context, options = {}) {
    super(context, options)
    this.baseURL = baseURL
    this.http = new HttpClient({
      baseURL: /^[a-z][a-z\d+\-.]*:\/\//i.test(baseURL || '') ? baseURL : baseURL && `http://${baseURL}`,
      headers: options.headers,
      params: options.params,
      timeout: options.timeout,
      ...Object.fromEntries(RETRY_SETTINGS.map((name) => [name, options[name]])),
      userAgent: context && context.userAgent,
      name: this.constructor.name || 'ExternalClient',
      limiter: limiterFor(options),
    })
  }
}

class JanusClient extends IOClient {
  constructor(context, options = {}, environment) {
    super(context, options)
    this.environment = environment
    this.http = new UnreachableHttpClient(this.constructor.name, "VTEX's Janus API gateway")
  }
}

class AppClient extends IOClient {
  constructor(app, context, options = {}) {
    super(context, options)
    this.app = app
    this.http = new UnreachableHttpClient(this.constructor.name, `the VTEX IO app ${app}`)
  }
}

class InfraClient extends IOClient {
  constructor(app, context, options = {}, isRoot = false) {
    super(context, options)
    this.app = app
    this.isRoot = isRoot
    this.http = new UnreachableHttpClient(this.constructor.name, `the VTEX infra service ${app}`)
  }
}

class AppGraphQLClient extends AppClient {
  constructor(app, context, options = {}) {
    super(app, context, options)
    const fail = (kind) => () =>
      Promise.reject(
        new Error(
          `${this.constructor.name}: a GraphQL ${kind} to the VTEX IO app ${app} ` +
            "needs VTEX's cloud and is not emulated by ioctl",
        ),
      )
    this.graphql = { query: fail('query'), mutate: fail('mutation') }
  }
}

// ---------------------------------------------------------------------------------------
// Built-in clients
// ---------------------------------------------------------------------------------------

/** ctx.clients.events: the one built-in client ioctl emulates, through the host's socket. */
class Events extends IOClient {
  sendEvent(subject, route, message) {
    // Created now so that a failure's stack points at the app's call site.
    const failure = new Error()
    Error.captureStackTrace(failure, Events.prototype.sendEvent)
    return hooks.sendEvent(subject, route, message).then(
      () => undefined,
      (reason) => {
        failure.message = `sendEvent('${subject}', '${route}') failed: ${messageOf(reason)}`
        throw failure
      },
    )
  }
}

// Properties a caller may probe on any object without meaning a VTEX API call.
const INERT_PROPERTIES = new Set([
  'then',
  'catch',
  'toJSON',
  'inspect',
  'asymmetricMatch',
  'nodeType',
  '$$typeof',
])

/**
 * A client class for a VTEX service ioctl cannot emulate. Instances (and subclasses) work,
 * but any method they don't define themselves rejects, naming the call.
 */
function notEmulatedClient(className, clientKey) {
  const fallback = new Proxy(
    Object.create(IOClient.prototype),
    {
      get(target, prop, receiver) {
        if (typeof prop === 'symbol' || prop in target || INERT_PROPERTIES.has(prop)) {
          return Reflect.get(target, prop, receiver)
        }
        return function notEmulated() {
          return Promise.reject(
            new Error(`ctx.clients.${clientKey}.${prop}() needs VTEX's cloud and is not emulated by ioctl`),
          )
        }
      },
    },
  )
  const Client = class extends IOClient {}
  Object.defineProperty(Client, 'name', { value: className })
  Object.setPrototypeOf(Client.prototype, fallback)
  return Client
}

const NOT_EMULATED = {
  apps: 'Apps',
  assets: 'Assets',
  billing: 'Billing',
  billingMetrics: 'BillingMetrics',
  builder: 'Builder',
  id: 'ID',
  licenseManager: 'LicenseManager',
  masterdata: 'MasterData',
  messagesGraphQL: 'MessagesGraphQL',
  metadata: 'Metadata',
  registry: 'Registry',
  router: 'Router',
  segment: 'Segment',
  session: 'Session',
  settings: 'Settings',
  tenant: 'TenantClient',
  vbase: 'VBase',
  workspaces: 'Workspaces',
  catalogGraphQL: 'CatalogGraphQL',
  // From @vtex/clients rather than @vtex/api; apps reach them as ctx.clients.<name> too.
  catalog: 'Catalog',
  checkout: 'Checkout',
  logistics: 'Logistics',
  oms: 'OMS',
  paymentProvider: 'PaymentProvider',
}
const notEmulatedClasses = {}
for (const [key, className] of Object.entries(NOT_EMULATED)) {
  notEmulatedClasses[key] = notEmulatedClient(className, key)
}

class IOClients {
  constructor(clientOptions = {}, ctx) {
    this.clientOptions = clientOptions || {}
    this.ctx = ctx
    this.clients = {}
  }

  getOrSet(key, Implementation) {
    if (!this.clients[key]) {
      const options = {
        ...this.clientOptions.default,
        ...this.clientOptions[key],
        metrics: globalThis.metrics,
        // Shared by every IOClients of this Service: see LIMITER_KEY.
        [LIMITER_KEY]: limiterKeyFor(this.clientOptions, key),
      }
      this.clients[key] = new Implementation(this.ctx, options)
    }
    return this.clients[key]
  }

  get events() {
    return this.getOrSet('events', Events)
  }
}

for (const key of Object.keys(NOT_EMULATED)) {
  Object.defineProperty(IOClients.prototype, key, {
    get() {
      return this.getOrSet(key, notEmulatedClasses[key])
    },
    configurable: true,
  })
}

// ---------------------------------------------------------------------------------------

module.exports = {
  // Service declaration
  Service,
  method,
  // Clients
  IOClients,
  IOClient,
  ExternalClient,
  JanusClient,
  AppClient,
  InfraClient,
  AppGraphQLClient,
  HttpClient,
  Events,
  Apps: notEmulatedClasses.apps,
  Assets: notEmulatedClasses.assets,
  Billing: notEmulatedClasses.billing,
  BillingMetrics: notEmulatedClasses.billingMetrics,
  Builder: notEmulatedClasses.builder,
  ID: notEmulatedClasses.id,
  LicenseManager: notEmulatedClasses.licenseManager,
  MasterData: notEmulatedClasses.masterdata,
  MessagesGraphQL: notEmulatedClasses.messagesGraphQL,
  Metadata: notEmulatedClasses.metadata,
  Registry: notEmulatedClasses.registry,
  Router: notEmulatedClasses.router,
  Segment: notEmulatedClasses.segment,
  Session: notEmulatedClasses.session,
  Settings: notEmulatedClasses.settings,
  TenantClient: notEmulatedClasses.tenant,
  VBase: notEmulatedClasses.vbase,
  Workspaces: notEmulatedClasses.workspaces,
  CatalogGraphQL: notEmulatedClasses.catalogGraphQL,
  // Caching, logging, metrics
  LRUCache,
  Logger,
  LogLevel,
  MetricsAccumulator,
  AuthType,
  CacheType,
  // Errors
  ResolverError,
  UserInputError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  RequestCancelledError,
  // Constants
  APP,
  LINKED,
  PRODUCTION,
  REGION,
  // ioctl's host.js fills these in; not part of @vtex/api.
  __ioctl: hooks,
}
