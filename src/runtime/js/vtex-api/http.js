'use strict'
// `this.http` of every client: @vtex/api's HttpClient on the real axios 0.21.4 that @vtex/api
// uses (so error shapes, `err.response`, validateStatus, responseType and params read as on
// VTEX), with ioctl's retries, backoff, timeouts and concurrency (InstanceOptions) around the
// attempts, each retry shown as a warning. An attempt to a VTEX host crosses ioctl's boundary
// (boundary.js: linked app, local service, fixture, --cloud, or a clear failure); any other
// goes out with axios's own http adapter.

const packages = require('../packages')
const hooks = require('./hooks')
const { RequestCancelledError } = require('./errors')
const { limiterFor } = require('./limiter')
const outbound = require('./outbound')
const { boundaryAdapter, isMissing } = require('./boundary')

function combineURL(baseURL, url) {
  if (!url) return baseURL || ''
  if (/^[a-z][a-z\d+\-.]*:\/\//i.test(url) || !baseURL) return url
  return `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`
}

/** Params as @vtex/api serializes them: qs with repeated keys for arrays (`a=1&a=2`). */
function serializeParams(params) {
  return packages.loadForApp('qs').stringify(params, { arrayFormat: 'repeat' })
}

function withParams(url, params) {
  const query = serializeParams(params || {})
  if (!query) return url
  return `${url}${url.includes('?') ? '&' : '?'}${query}`
}

/** Header names lower case, as @vtex/api sends them (its defaults middleware renames them). */
function lowerCaseHeaders(headers) {
  const out = {}
  for (const [name, value] of Object.entries(headers || {})) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = value
  }
  return out
}

/** One axios instance per process (its defaults untouched: each request carries its own config). */
let instance = null
function axios() {
  if (!instance) instance = packages.loadForApp('axios').create()
  return instance
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
  // Nothing answers a `missing` call locally: asking again would get the same answer; nor would
  // ioctl answer a call it could not carry (EIOCTL without a status: a body too large, an answer
  // that does not decode).
  if (isMissing(err) || (err.code === 'EIOCTL' && !err.response)) return false
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

/** Milliseconds to wait before retry `attempt` (1-based), `random` in [0, 1) drawing the jitter. */
function retryDelay(attempt, backoffDelay, backoffCoefficient, random) {
  return Math.round(backoffDelay * backoffCoefficient ** (attempt - 1) * (1 + 0.2 * random))
}

/** The timeout of the attempt after one that had `timeout` ms (unchanged without a coefficient). */
function nextTimeout(timeout, timeoutCoefficient) {
  return timeout && timeoutCoefficient ? Math.round(timeout * timeoutCoefficient) : timeout
}

/**
 * `this.http` of a client. Options: baseURL, headers, params, timeout, the retry settings, `name`
 * (in warnings and errors), `limiter` (else made from `concurrency`), and `owner` (the client
 * it belongs to), `clientKey` (its key in ctx.clients) and `app` (the locator an AppClient
 * addresses), which name a call that crosses the boundary.
 */
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
    this.owner = options.owner
    this.clientKey = options.clientKey
    this.app = options.app == null ? null : String(options.app)

    this.get = (url, config = {}) => this.request({ ...config, url, method: 'get' }).then((r) => r.data)
    this.getRaw = (url, config = {}) => this.request({ ...config, url, method: 'get' })
    this.getBuffer = (url, config = {}) =>
      this.request({ ...config, url, method: 'get', responseType: 'arraybuffer' }).then((r) => ({
        data: r.data,
        headers: r.headers,
      }))
    this.getStream = (url, config = {}) =>
      this.request({ ...config, url, method: 'get', responseType: 'stream' }).then((r) => r.data)
    this.getWithBody = (url, data, config = {}) =>
      this.request({ ...config, url, data, method: 'get' }).then((r) => r.data)
    this.post = (url, data, config = {}) => this.request({ ...config, url, data, method: 'post' }).then((r) => r.data)
    this.postRaw = (url, data, config = {}) => this.request({ ...config, url, data, method: 'post' })
    this.put = (url, data, config = {}) => this.request({ ...config, url, data, method: 'put' }).then((r) => r.data)
    this.putRaw = (url, data, config = {}) => this.request({ ...config, url, data, method: 'put' })
    this.patch = (url, data, config = {}) => this.request({ ...config, url, data, method: 'patch' }).then((r) => r.data)
    this.head = (url, config = {}) => this.request({ ...config, url, method: 'head' })
    this.delete = (url, config = {}) => this.request({ ...config, url, method: 'delete' })
  }

  /**
   * One call: attempts with retries and backoff, inside the client's concurrency limit. Not
   * async: the caller's stack, which names the client method making the call, is read before
   * anything waits.
   */
  request(config = {}) {
    const method = String(config.method || 'get').toUpperCase()
    const url = combineURL(config.baseURL !== undefined ? config.baseURL : this.baseURL, config.url)
    const params = { ...this.params, ...config.params }
    const shown = withParams(url, params)
    const boundary = outbound.isVtexUrl(url) ? { via: this.caller(HttpClient.prototype.request), app: this.app } : null
    const attempt = { url, params, headers: { ...lowerCaseHeaders(this.headers), ...lowerCaseHeaders(config.headers) } }
    const setting = (name, fallback) => {
      const value = Number(config[name] !== undefined ? config[name] : this[name])
      return Number.isFinite(value) && value >= 0 ? value : fallback
    }
    // A streamed body is used up by the first attempt: there is nothing left to send again.
    const replayable = !(config.data && typeof config.data.pipe === 'function')
    const attempts = IDEMPOTENT_METHODS.has(method) && replayable ? Math.floor(setting('retries', 0)) + 1 : 1
    const backoffDelay = setting('initialBackoffDelay', DEFAULT_BACKOFF_DELAY)
    const backoffCoefficient = setting('exponentialBackoffCoefficient', DEFAULT_BACKOFF_COEFFICIENT)
    const timeoutCoefficient = setting('exponentialTimeoutCoefficient', 0)

    const operation = async () => {
      let timeout = config.timeout || this.timeout
      for (let n = 1; ; n += 1) {
        try {
          return await sendOnce(config, { ...attempt, method, timeout, boundary })
        } catch (err) {
          if (n >= attempts || !isRetryable(err)) throw finalError(err, `${this.name} ${method} ${shown}`, n)
          if (err.response && err.response.data && typeof err.response.data.destroy === 'function') {
            err.response.data.destroy()
          }
          const delay = retryDelay(n, backoffDelay, backoffCoefficient, Math.random())
          // Through the host's log hook, in the caller's async context: attributed to its handler.
          hooks.log(
            'warn',
            `${this.name} ${method} ${shown} failed (attempt ${n}/${attempts}: ${causeOf(err)}); retrying in ${delay} ms`,
          )
          try {
            await sleep(delay, config.signal)
          } catch {
            throw new RequestCancelledError(`${method} ${shown} was cancelled`)
          }
          timeout = nextTimeout(timeout, timeoutCoefficient)
        }
      }
    }
    // The slot is held for the whole call, retries and waits included, as @vtex/api's limit
    // wraps the request with its retries: `concurrency` counts operations, not attempts.
    return this.limiter ? this.limiter(operation) : operation()
  }

  /**
   * What made the call, for the boundary: `ctx.clients.{key}.{method}` (or `{Client}.{method}`
   * for a client made by hand) from the nearest frame of a method called on the owning client,
   * else the client's class name. Read from V8's structured call sites (no stack text is built).
   */
  caller(below) {
    const owner = this.owner
    const className = owner && owner.constructor && owner.constructor.name
    if (!className) return this.name
    const key = this.clientKey
    const [savedPrepare, savedLimit] = [Error.prepareStackTrace, Error.stackTraceLimit]
    const holder = {}
    let sites = []
    try {
      Error.prepareStackTrace = (_, callSites) => callSites
      // Deep enough for a method that goes through a few helpers, whatever the app set.
      Error.stackTraceLimit = 20
      Error.captureStackTrace(holder, below)
      sites = holder.stack || []
    } finally {
      Error.prepareStackTrace = savedPrepare
      Error.stackTraceLimit = savedLimit
    }
    // The outermost of the first run of the client's own frames: the method the app called
    // (getSegment), not the helper it went through (rawSegment).
    let method = null
    for (const site of sites) {
      const name = site.getTypeName() === className && (site.getMethodName() || String(site.getFunctionName() || ''))
      if (name && name !== 'constructor') method = name.split('.').pop()
      else if (method) break
    }
    if (!method) return className
    return key ? `ctx.clients.${key}.${method}` : `${className}.${method}`
  }
}

/** Waits `ms`, rejecting early when `signal` aborts. */
function sleep(ms, signal) {
  return require('node:timers/promises').setTimeout(ms, undefined, signal ? { signal } : undefined)
}

/** One attempt through axios: the response, or axios's error (with `response` when there was one). */
async function sendOnce(config, { url, params, headers, method, timeout, boundary }) {
  const client = axios()
  const request = {
    ...config,
    baseURL: undefined,
    url,
    method: method.toLowerCase(),
    headers,
    params,
    paramsSerializer: serializeParams,
    timeout: timeout || 0,
    // @vtex/api follows no redirect: the caller sees the 3xx.
    maxRedirects: config.maxRedirects !== undefined ? config.maxRedirects : 0,
    adapter: boundary ? boundaryAdapter(boundary) : config.adapter,
  }
  let cancel = null
  if (config.signal) {
    // axios 0.21 predates AbortSignal: the signal cancels through its CancelToken.
    const source = packages.loadForApp('axios').CancelToken.source()
    cancel = () => source.cancel('cancelled')
    if (config.signal.aborted) cancel()
    else config.signal.addEventListener('abort', cancel, { once: true })
    request.cancelToken = source.token
  }
  delete request.signal
  try {
    return await client.request(request)
  } catch (err) {
    if (packages.loadForApp('axios').isCancel(err)) throw new RequestCancelledError(`${method} ${url} was cancelled`)
    throw err
  } finally {
    if (cancel) config.signal.removeEventListener('abort', cancel)
  }
}

/** A failed attempt in a few words, for the retry warning. */
function causeOf(err) {
  if (err.response) return `status ${err.response.status}`
  if (SYSTEM_ERROR_CODE.test(err.code || '') && err.code !== 'ECONNABORTED') return err.code
  return err.message
}

/**
 * The error a call rejects with: the last attempt's, named with the call and attempt count. A
 * cancellation, a `missing` answer and ioctl's own failure to answer (EIOCTL), whose messages
 * already name the call, stay as they are.
 */
function finalError(last, call, attempts) {
  if (last instanceof RequestCancelledError || isMissing(last) || last.code === 'EIOCTL') return last
  const err = new Error(`${call} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${last.message}`, {
    cause: last,
  })
  for (const field of ['code', 'response', 'config', 'request', 'isAxiosError', 'toJSON']) {
    if (last[field] !== undefined) err[field] = last[field]
  }
  err.attempts = attempts
  return err
}

module.exports = {
  HttpClient,
  RETRY_SETTINGS,
  isRetryable,
  retryDelay,
  nextTimeout,
  combineURL,
  withParams,
  serializeParams,
}
