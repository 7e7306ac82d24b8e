'use strict'
// `this.http` of an ExternalClient: axios-like calls on Node's global fetch, with VTEX's
// retries, backoff, timeouts and concurrency (InstanceOptions), each retry shown as a warning.

const { Readable } = require('node:stream')
const { setTimeout: sleep } = require('node:timers/promises')
const hooks = require('./hooks')
const { RequestCancelledError } = require('./errors')
const { limiterFor } = require('./limiter')

function combineURL(baseURL, url) {
  if (!url) return baseURL || ''
  if (/^[a-z][a-z\d+\-.]*:\/\//i.test(url) || !baseURL) return url
  return `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`
}

function withParams(url, params) {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null) continue
    const encode = (v) => (v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v))
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

/** Milliseconds to wait before retry `attempt` (1-based), `random` in [0, 1) drawing the jitter. */
function retryDelay(attempt, backoffDelay, backoffCoefficient, random) {
  return Math.round(backoffDelay * backoffCoefficient ** (attempt - 1) * (1 + 0.2 * random))
}

/** The timeout of the attempt after one that had `timeout` ms (unchanged without a coefficient). */
function nextTimeout(timeout, timeoutCoefficient) {
  return timeout && timeoutCoefficient ? Math.round(timeout * timeoutCoefficient) : timeout
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
    this.patch = (url, data, config = {}) => this.request({ ...config, url, data, method: 'patch' }).then((r) => r.data)
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
          const delay = retryDelay(attempt, backoffDelay, backoffCoefficient, Math.random())
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
          timeout = nextTimeout(timeout, timeoutCoefficient)
        }
      }
    }
    // The slot is held for the whole call, retries and waits included, as @vtex/api's limit
    // wraps the request with its retries: `concurrency` counts operations, not attempts.
    return this.limiter ? this.limiter(operation) : operation()
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

module.exports = {
  HttpClient,
  RETRY_SETTINGS,
  isRetryable,
  retryDelay,
  nextTimeout,
  combineURL,
  withParams,
}
