'use strict'
// The axios adapter of an attempt to a VTEX host: instead of the network, the request crosses
// ioctl's boundary as an `http` platform call (outbound.js), and the answer comes back as the
// axios response the http adapter would have built, so that axios's own validateStatus,
// transformResponse and errors (`err.response`, `err.isAxiosError`) behave exactly as on VTEX.
// A `missing` answer (nothing local, no fixture, no --cloud) rejects with the answer's message,
// which names the call and says how to answer it, and an `err.response` (501) apps can read.

const packages = require('../packages')
const outbound = require('./outbound')

/** axios 0.21.4's own helpers, the ones its http adapter uses (loaded with axios). */
const axiosPart = (file) => packages.load(`axios/lib/${file}`)

/** Errors of `missing` answers: final as they are (not retried, not reworded by HttpClient). */
const missingErrors = new WeakSet()

/** Whether `err` is a `missing` answer's error. */
function isMissing(err) {
  return err !== null && typeof err === 'object' && missingErrors.has(err)
}

/** How a call is named in messages: the client method when known, else `METHOD url`. */
function callLabel(via, method, url) {
  return via && via.includes('.') ? via : `${method} ${url}`
}

/** The request body after axios's transformRequest, as bytes (a stream is read to its end). */
async function bodyBytes(data) {
  if (data === undefined || data === null) return null
  if (typeof data === 'string' || Buffer.isBuffer(data)) return Buffer.from(data)
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return Buffer.from(data)
  if (typeof data.pipe === 'function' || typeof data[Symbol.asyncIterator] === 'function') {
    const chunks = []
    let size = 0
    for await (const chunk of data) {
      size += chunk.length
      if (size > outbound.MAX_BODY_BYTES) throw new RangeError('a request body of more than 32 MiB')
      chunks.push(Buffer.from(chunk))
    }
    return Buffer.concat(chunks)
  }
  return Buffer.from(String(data))
}

/** Header values as axios's http adapter gives them: set-cookie as an array, one per line. */
function responseHeaders(headers) {
  const out = { ...headers }
  if (typeof out['set-cookie'] === 'string') out['set-cookie'] = out['set-cookie'].split('\n')
  return out
}

/** The body decoded as the http adapter decodes it (gzip, deflate, br), dropping content-encoding. */
function decoded(body, headers, config) {
  const encoding = headers['content-encoding']
  if (!encoding || body.length === 0 || config.decompress === false) return body
  const zlib = require('node:zlib')
  const decode = {
    gzip: zlib.gunzipSync,
    'x-gzip': zlib.gunzipSync,
    deflate: zlib.inflateSync,
    br: zlib.brotliDecompressSync,
  }[encoding.trim().toLowerCase()]
  if (!decode) return body
  delete headers['content-encoding']
  return decode(body)
}

/** response.data before transformResponse: as the http adapter hands it over for each responseType. */
function responseData(body, config) {
  if (config.responseType === 'arraybuffer') return body
  if (config.responseType === 'stream') return require('node:stream').Readable.from(body.length ? [body] : [])
  const text = body.toString(config.responseEncoding || 'utf8')
  return !config.responseEncoding || config.responseEncoding === 'utf8' ? text.replace(/^\uFEFF/, '') : text
}

/**
 * An axios adapter sending each request across the boundary. `via` names the call (client
 * method or library), `app` the VTEX IO app an AppClient addressed (null otherwise).
 */
function boundaryAdapter({ via, app = null }) {
  return function ioctlBoundary(config) {
    const createError = axiosPart('core/createError')
    const url = axiosPart('helpers/buildURL')(
      axiosPart('core/buildFullPath')(config.baseURL, config.url),
      config.params,
      config.paramsSerializer,
    )
    const method = String(config.method || 'get').toUpperCase()
    const { host, pathname, search, protocol } = new URL(url)
    // What the http adapter's ClientRequest would say of itself (apps test `err.request`).
    const request = { method, url, host, path: `${pathname}${search}`, protocol }
    const label = callLabel(via, method, url)

    return new Promise((resolve, reject) => {
      // The first of answer, timeout and cancellation settles the request; a late answer is dropped.
      let settled = false
      const finish = ({ ok, value }) => {
        if (settled) return
        settled = true
        if (timer) clearTimeout(timer)
        if (ok) resolve(value)
        else reject(value)
      }
      const timeout = () =>
        finish({
          ok: false,
          value: createError(`timeout of ${config.timeout}ms exceeded`, config, 'ECONNABORTED', request),
        })
      const timer = config.timeout > 0 ? setTimeout(timeout, config.timeout) : null
      if (config.cancelToken) config.cancelToken.promise.then((cancel) => finish({ ok: false, value: cancel }))

      const parts = { config, request, label, createError }
      // Any failure on the way (a body too large, an answer that does not decode) fails the
      // request with it: never a request left waiting.
      bodyBytes(config.data)
        .then((body) => outbound.exchange(outbound.httpCall({ via, method, url, headers: config.headers, body, app })))
        .then((answer) => answered(answer, parts))
        .then(finish, (reason) => finish({ ok: false, value: notAnswered(reason, parts) }))
    })
  }
}

/** `{ok, value}` for an answer: the response, settled by the config's validateStatus. */
function answered(answer, { config, request, label, createError }) {
  const headers = responseHeaders(answer.headers)
  const response = {
    status: answer.status,
    statusText: require('node:http').STATUS_CODES[answer.status] || '',
    headers,
    config,
    request,
    data: responseData(decoded(answer.body, headers, config), config),
  }
  if (answer.source === 'missing') {
    const message = answer.message || `${label} goes to VTEX's cloud and nothing answers it locally`
    if (answer.body.length === 0 && config.responseType !== 'stream') {
      response.data =
        config.responseType === 'arraybuffer' ? Buffer.from(JSON.stringify({ message })) : JSON.stringify({ message })
    }
    const err = createError(message, config, null, request, response)
    missingErrors.add(err)
    return { ok: false, value: err }
  }
  let outcome
  axiosPart('core/settle')(
    (value) => (outcome = { ok: true, value }),
    (err) => (outcome = { ok: false, value: err }),
    response,
  )
  return outcome
}

/**
 * ioctl could not answer at all (`{status, message}` of a failed platform call, or a bad body):
 * code EIOCTL, and the status ioctl gave as `err.response` (503 when overloaded: retried).
 */
function notAnswered(reason, { config, request, label, createError }) {
  const status = reason && Number.isInteger(reason.status) ? reason.status : null
  const why = reason && reason.message != null ? String(reason.message) : String(reason)
  const message = `ioctl could not answer ${label}: ${why}`
  if (status === null) return createError(message, config, 'EIOCTL', request)
  const data = JSON.stringify({ message: why })
  const response = { status, statusText: '', headers: {}, config, request, data }
  return createError(message, config, 'EIOCTL', request, response)
}

module.exports = { boundaryAdapter, isMissing, callLabel }
