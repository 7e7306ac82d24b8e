'use strict'
// The Koa-compatible context route handlers get: a port of Koa 2's request, response and
// context (same getters, setters and defaults) without its dependencies, and Koa's
// respond(). `ctx.req`/`ctx.res` are the real IncomingMessage/ServerResponse. host.js adds
// `ctx.vtex` and `ctx.clients`, and fills `hooks` with how errors are reported.

const http = require('node:http')
const net = require('node:net')
const querystring = require('node:querystring')
const Stream = require('node:stream')
const util = require('node:util')
const { EventEmitter } = require('node:events')

/** Set by host.js: a body stream that failed (answer with the error), an app-level error (log it). */
const hooks = {
  onStreamError(_ctx, err) {
    throw err
  },
  onAppError(_err) {},
}


const STATUS_CODES = http.STATUS_CODES
const EMPTY_STATUSES = new Set([204, 205, 304])
const REDIRECT_STATUSES = new Set([300, 301, 302, 303, 305, 307, 308])

/** File extensions / Koa shorthands -> MIME type (what apps pass to ctx.type and ctx.is). */
const MIME_TYPES = {
  bin: 'application/octet-stream',
  css: 'text/css',
  csv: 'text/csv',
  gif: 'image/gif',
  gz: 'application/gzip',
  htm: 'text/html',
  html: 'text/html',
  ico: 'image/x-icon',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  js: 'application/javascript',
  json: 'application/json',
  map: 'application/json',
  md: 'text/markdown',
  mjs: 'application/javascript',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  pdf: 'application/pdf',
  png: 'image/png',
  svg: 'image/svg+xml',
  text: 'text/plain',
  txt: 'text/plain',
  wasm: 'application/wasm',
  webp: 'image/webp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  xml: 'application/xml',
  yaml: 'text/yaml',
  yml: 'text/yaml',
  zip: 'application/zip',
}

function mimeOf(type) {
  if (type.includes('/')) return type
  return MIME_TYPES[type.replace(/^\./, '').toLowerCase()]
}

/** Koa's getType: 'json' -> 'application/json; charset=utf-8'; false when unknown. */
function contentTypeOf(type) {
  const mime = mimeOf(String(type))
  if (!mime) return false
  if (/;\s*charset=/i.test(mime) || mime.includes(';')) return mime
  if (/^text\//i.test(mime) || /^application\/(json|javascript)$/i.test(mime)) return `${mime}; charset=utf-8`
  return mime
}

/** type-is: the first of `types` the media type `actual` matches (false if none). */
function typeIs(actual, types) {
  if (!actual) return false
  const mime = String(actual).split(';', 1)[0].trim().toLowerCase()
  types = types.flat().filter((t) => t !== undefined)
  if (types.length === 0) return mime
  const [actualType, actualSub] = mime.split('/')
  for (const type of types) {
    let expected
    if (type === 'urlencoded') expected = 'application/x-www-form-urlencoded'
    else if (type === 'multipart') expected = 'multipart/*'
    else if (type[0] === '+') expected = `*/*${type}`
    else expected = mimeOf(type)
    if (!expected) continue
    const [type1, sub1] = expected.toLowerCase().split('/')
    const typeOk = type1 === '*' || type1 === actualType
    const subOk =
      sub1 === '*' ||
      sub1 === actualSub ||
      (sub1.startsWith('*+') && actualSub !== undefined && actualSub.endsWith(sub1.slice(1)))
    if (typeOk && subOk) return type[0] === '+' || expected.includes('*') ? mime : type
  }
  return false
}

/** Accept-* header -> [{value, q}] with q > 0, best first. */
function parseAcceptHeader(header) {
  return String(header)
    .split(',')
    .map((part, index) => {
      const [value, ...params] = part.split(';')
      let q = 1
      for (const param of params) {
        const [key, val] = param.split('=').map((s) => s.trim())
        if (key === 'q') q = Number(val)
      }
      return { value: value.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, index }
    })
    .filter((entry) => entry.value && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
}

/** `accepts`: the best of `offers` for the header (false if none); the accepted list without offers. */
function negotiate(header, offers, matches, implicit = null) {
  offers = offers.flat()
  if (header === undefined) return offers.length ? offers[0] : implicit ? [implicit] : ['*']
  const accepted = parseAcceptHeader(header)
  if (offers.length === 0) return accepted.map((entry) => entry.value)
  let best = false
  let bestQ = 0
  for (const offer of offers) {
    const hit = accepted.find((entry) => matches(entry.value, String(offer).toLowerCase()))
    const q = hit ? hit.q : implicit !== null && String(offer).toLowerCase() === implicit ? 0.001 : 0
    if (q > bestQ) {
      best = offer
      bestQ = q
    }
  }
  return best
}

function mediaMatches(accepted, offer) {
  const mime = mimeOf(offer)
  if (!mime) return false
  const [type, sub] = mime.toLowerCase().split('/')
  const [aType, aSub] = accepted.split('/')
  return (aType === '*' || aType === type) && (aSub === '*' || aSub === sub)
}

const exactOrAny = (accepted, offer) => accepted === '*' || accepted === offer
const languageMatches = (accepted, offer) =>
  accepted === '*' || accepted === offer || offer.startsWith(`${accepted}-`) || accepted.startsWith(`${offer}-`)

/** The `accepts` object of Koa's request.accept. */
function acceptsOf(req) {
  const headers = req.headers
  return {
    types: (...types) => negotiate(headers.accept, types, mediaMatches),
    encodings: (...encodings) => negotiate(headers['accept-encoding'], encodings, exactOrAny, 'identity'),
    charsets: (...charsets) => negotiate(headers['accept-charset'], charsets, exactOrAny),
    languages: (...languages) => negotiate(headers['accept-language'], languages, languageMatches),
  }
}

/** pathname and query of a request URL, without normalizing anything (parseurl). */
function splitUrl(url) {
  const str = String(url || '')
  const hash = str.indexOf('#')
  const noHash = hash === -1 ? str : str.slice(0, hash)
  const question = noHash.indexOf('?')
  return question === -1
    ? { pathname: noHash, query: null }
    : { pathname: noHash.slice(0, question), query: noHash.slice(question + 1) }
}

const splitCommaSeparated = (value, limit) => String(value).split(',', limit).map((v) => v.trim())

/** fresh(): does the client's cached copy (If-None-Match / If-Modified-Since) match the response? */
function isFresh(reqHeaders, resHeaders) {
  const modifiedSince = reqHeaders['if-modified-since']
  const noneMatch = reqHeaders['if-none-match']
  if (!modifiedSince && !noneMatch) return false
  if (/(?:^|,)\s*?no-cache\s*?(?:,|$)/.test(reqHeaders['cache-control'] || '')) return false
  if (noneMatch && noneMatch !== '*') {
    const etag = resHeaders.etag
    if (!etag) return false
    const strip = (tag) => tag.replace(/^W\//, '')
    if (!splitCommaSeparated(noneMatch).some((tag) => strip(tag) === strip(String(etag)))) return false
  }
  if (modifiedSince) {
    const lastModified = Date.parse(resHeaders['last-modified'])
    if (Number.isNaN(lastModified) || !(lastModified <= Date.parse(modifiedSince))) return false
  }
  return true
}

// encodeurl: percent-encode what a URL may not contain, keeping existing %XX escapes.
const ENCODE_CHARS = /(?:[^\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7A\x7C\x7E]|%(?:[^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|$))+/g
const UNMATCHED_SURROGATE = /(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]|[\uD800-\uDBFF]([^\uDC00-\uDFFF]|$)/g
const encodeUrl = (url) =>
  String(url).replace(UNMATCHED_SURROGATE, '$1\uFFFD$2').replace(ENCODE_CHARS, encodeURI)

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

function isStream(value) {
  return (
    value instanceof Stream ||
    (value !== null && typeof value === 'object' && typeof value.pipe === 'function' && typeof value.on === 'function')
  )
}

function destroyStream(stream) {
  if (typeof stream.destroy === 'function' && !stream.destroyed) stream.destroy()
}

/** What util.inspect / JSON show of `object`: only `keys`. */
function only(object, keys) {
  const out = {}
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key]
  return out
}

const QUERY_CACHE = Symbol('querycache')
const IP = Symbol('ip')

const requestProto = {
  get header() {
    return this.req.headers
  },
  set header(value) {
    this.req.headers = value
  },
  get headers() {
    return this.req.headers
  },
  set headers(value) {
    this.req.headers = value
  },
  get url() {
    return this.req.url
  },
  set url(value) {
    this.req.url = value
  },
  get origin() {
    return `${this.protocol}://${this.host}`
  },
  get href() {
    if (/^https?:\/\//i.test(this.originalUrl)) return this.originalUrl
    return this.origin + this.originalUrl
  },
  get method() {
    return this.req.method
  },
  set method(value) {
    this.req.method = value
  },
  get path() {
    return splitUrl(this.req.url).pathname
  },
  set path(pathname) {
    const { query } = splitUrl(this.req.url)
    this.url = query === null ? pathname : `${pathname}?${query}`
  },
  get query() {
    const str = this.querystring
    const cache = this[QUERY_CACHE] || (this[QUERY_CACHE] = {})
    return cache[str] || (cache[str] = querystring.parse(str))
  },
  set query(object) {
    this.querystring = querystring.stringify(object)
  },
  get querystring() {
    if (!this.req) return ''
    return splitUrl(this.req.url).query || ''
  },
  set querystring(str) {
    const { pathname } = splitUrl(this.req.url)
    this.url = str ? `${pathname}?${str}` : pathname
  },
  get search() {
    if (!this.querystring) return ''
    return `?${this.querystring}`
  },
  set search(str) {
    this.querystring = String(str).replace(/^\?/, '')
  },
  get host() {
    let host = this.app.proxy && this.get('X-Forwarded-Host')
    if (!host) {
      if (this.req.httpVersionMajor >= 2) host = this.get(':authority')
      if (!host) host = this.get('Host')
    }
    if (!host) return ''
    return splitCommaSeparated(host, 1)[0]
  },
  get hostname() {
    const host = this.host
    if (!host) return ''
    if (host[0] === '[') return this.URL.hostname || ''
    return host.split(':', 1)[0]
  },
  get URL() {
    if (!this.memoizedURL) {
      try {
        this.memoizedURL = new URL(`${this.origin}${this.originalUrl || ''}`)
      } catch {
        this.memoizedURL = Object.create(null)
      }
    }
    return this.memoizedURL
  },
  get fresh() {
    const method = this.method
    const status = this.ctx.status
    if (method !== 'GET' && method !== 'HEAD') return false
    if ((status >= 200 && status < 300) || status === 304) return isFresh(this.header, this.response.header)
    return false
  },
  get stale() {
    return !this.fresh
  },
  get idempotent() {
    return ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE'].includes(this.method)
  },
  get socket() {
    return this.req.socket
  },
  get charset() {
    const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(this.get('Content-Type'))
    return match ? match[1] : ''
  },
  get length() {
    const len = this.get('Content-Length')
    if (len === '') return undefined
    return ~~len
  },
  get protocol() {
    if (this.socket && this.socket.encrypted) return 'https'
    if (!this.app.proxy) return 'http'
    const proto = this.get('X-Forwarded-Proto')
    return proto ? splitCommaSeparated(proto, 1)[0] : 'http'
  },
  get secure() {
    return this.protocol === 'https'
  },
  get ips() {
    const value = this.get(this.app.proxyIpHeader)
    return this.app.proxy && value ? splitCommaSeparated(value) : []
  },
  get ip() {
    if (!this[IP]) this[IP] = this.ips[0] || (this.socket && this.socket.remoteAddress) || ''
    return this[IP]
  },
  set ip(value) {
    this[IP] = value
  },
  get subdomains() {
    const hostname = this.hostname
    if (net.isIP(hostname)) return []
    return hostname.split('.').reverse().slice(this.app.subdomainOffset)
  },
  get accept() {
    return this._accept || (this._accept = acceptsOf(this.req))
  },
  set accept(value) {
    this._accept = value
  },
  accepts(...types) {
    return this.accept.types(...types)
  },
  acceptsEncodings(...encodings) {
    return this.accept.encodings(...encodings)
  },
  acceptsCharsets(...charsets) {
    return this.accept.charsets(...charsets)
  },
  acceptsLanguages(...languages) {
    return this.accept.languages(...languages)
  },
  is(...types) {
    const headers = this.req.headers
    const hasBody =
      headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] !== undefined && headers['content-length'] !== '0')
    if (!hasBody) return null
    return typeIs(headers['content-type'], types)
  },
  get type() {
    const type = this.get('Content-Type')
    if (!type) return ''
    return type.split(';')[0]
  },
  get(field) {
    const headers = this.req.headers
    field = String(field).toLowerCase()
    if (field === 'referer' || field === 'referrer') return headers.referrer || headers.referer || ''
    return headers[field] || ''
  },
  inspect() {
    if (!this.req) return undefined
    return this.toJSON()
  },
  toJSON() {
    return only(this, ['method', 'url', 'header'])
  },
}
requestProto[util.inspect.custom] = requestProto.inspect

const responseProto = {
  get socket() {
    return this.res.socket
  },
  get header() {
    return this.res.getHeaders()
  },
  get headers() {
    return this.header
  },
  get status() {
    return this.res.statusCode
  },
  set status(code) {
    if (this.headerSent) return
    if (!Number.isInteger(code)) throw new TypeError(`status code must be a number, got ${util.inspect(code)}`)
    if (code < 100 || code > 999) throw new RangeError(`invalid status code: ${code}`)
    this._explicitStatus = true
    this.res.statusCode = code
    if (this.req.httpVersionMajor < 2 && STATUS_CODES[code]) this.res.statusMessage = STATUS_CODES[code]
    if (this.body && EMPTY_STATUSES.has(code)) this.body = null
  },
  get message() {
    return this.res.statusMessage || STATUS_CODES[this.status]
  },
  set message(message) {
    this.res.statusMessage = message
  },
  get body() {
    return this._body
  },
  set body(value) {
    const original = this._body
    this._body = value

    if (value == null) {
      if (!EMPTY_STATUSES.has(this.status)) this.status = 204
      if (value === null) this._explicitNullBody = true
      this.remove('Content-Type')
      this.remove('Content-Length')
      this.remove('Transfer-Encoding')
      return
    }

    if (!this._explicitStatus) this.status = 200
    const setType = !this.has('Content-Type')

    if (typeof value === 'string') {
      if (setType) this.type = /^\s*</.test(value) ? 'html' : 'text'
      this.length = Buffer.byteLength(value)
      return
    }
    if (Buffer.isBuffer(value)) {
      if (setType) this.type = 'bin'
      this.length = value.length
      return
    }
    if (isStream(value)) {
      this.res.once('close', () => destroyStream(value))
      if (original !== value) {
        value.once('error', (err) => this.ctx.onerror(err))
        if (original != null) this.remove('Content-Length')
      }
      if (setType) this.type = 'bin'
      return
    }
    this.remove('Content-Length')
    this.type = 'json'
  },
  set length(n) {
    if (!this.has('Transfer-Encoding')) this.set('Content-Length', n)
  },
  get length() {
    if (this.has('Content-Length')) return parseInt(this.get('Content-Length'), 10) || 0
    const { body } = this
    if (!body || isStream(body)) return undefined
    if (typeof body === 'string') return Buffer.byteLength(body)
    if (Buffer.isBuffer(body)) return body.length
    return Buffer.byteLength(JSON.stringify(body))
  },
  get headerSent() {
    return this.res.headersSent
  },
  vary(field) {
    if (this.headerSent) return
    const current = this.res.getHeader('Vary')
    const have = current ? splitCommaSeparated(Array.isArray(current) ? current.join(',') : current) : []
    if (have.includes('*')) return
    for (const name of Array.isArray(field) ? field : splitCommaSeparated(field)) {
      if (name === '*') {
        this.res.setHeader('Vary', '*')
        return
      }
      if (!have.some((h) => h.toLowerCase() === name.toLowerCase())) have.push(name)
    }
    this.res.setHeader('Vary', have.join(', '))
  },
  redirect(url, alt) {
    if (url === 'back') {
      const referrer = this.ctx.get('Referrer')
      let back
      if (referrer) {
        try {
          if (new URL(referrer, this.ctx.href).host === this.ctx.host) back = referrer
        } catch {}
      }
      url = back || alt || '/'
    }
    if (/^https?:\/\//i.test(url)) url = new URL(url).toString()
    this.set('Location', encodeUrl(url))
    if (!REDIRECT_STATUSES.has(this.status)) this.status = 302
    if (this.ctx.accepts('html')) {
      url = escapeHtml(url)
      this.type = 'text/html; charset=utf-8'
      this.body = `Redirecting to ${url}.`
      return
    }
    this.type = 'text/plain; charset=utf-8'
    this.body = `Redirecting to ${url}.`
  },
  attachment(filename, options = {}) {
    if (filename) this.type = path.extname(filename)
    const type = options.type || 'attachment'
    if (!filename) {
      this.set('Content-Disposition', type)
      return
    }
    const name = path.basename(filename)
    const fallback = name.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')
    let value = `${type}; filename="${fallback}"`
    if (fallback !== name) value += `; filename*=UTF-8''${encodeURIComponent(name)}`
    this.set('Content-Disposition', value)
  },
  set type(type) {
    type = contentTypeOf(type)
    if (type) this.set('Content-Type', type)
    else this.remove('Content-Type')
  },
  get type() {
    const type = this.get('Content-Type')
    if (!type) return ''
    return String(type).split(';', 1)[0]
  },
  set lastModified(value) {
    if (typeof value === 'string') value = new Date(value)
    this.set('Last-Modified', value.toUTCString())
  },
  get lastModified() {
    const date = this.get('last-modified')
    return date ? new Date(date) : undefined
  },
  set etag(value) {
    if (!/^(W\/)?"/.test(value)) value = `"${value}"`
    this.set('ETag', value)
  },
  get etag() {
    return this.get('ETag')
  },
  is(...types) {
    return typeIs(this.type, types)
  },
  get(field) {
    return this.header[String(field).toLowerCase()] || ''
  },
  has(field) {
    return this.res.hasHeader(field)
  },
  set(field, value) {
    if (this.headerSent) return
    if (arguments.length >= 2) {
      if (Array.isArray(value)) value = value.map((v) => (typeof v === 'string' ? v : String(v)))
      else if (typeof value !== 'string') value = String(value)
      this.res.setHeader(field, value)
    } else if (field !== null && typeof field === 'object') {
      for (const key in field) this.set(key, field[key])
    }
  },
  append(field, value) {
    const previous = this.get(field)
    if (previous) value = Array.isArray(previous) ? previous.concat(value) : [previous].concat(value)
    return this.set(field, value)
  },
  remove(field) {
    if (this.headerSent) return
    this.res.removeHeader(field)
  },
  get writable() {
    if (this.res.writableEnded || this.res.finished) return false
    const socket = this.res.socket
    if (!socket) return true
    return socket.writable
  },
  inspect() {
    if (!this.res) return undefined
    const out = this.toJSON()
    out.body = this.body
    return out
  },
  toJSON() {
    return only(this, ['status', 'message', 'header'])
  },
  flushHeaders() {
    this.res.flushHeaders()
  },
}
responseProto[util.inspect.custom] = responseProto.inspect

/** An HTTP error as http-errors makes them (ctx.throw / ctx.assert). */
function httpError(args, caller) {
  let err = null
  let status = 500
  let message
  let props = {}
  for (const arg of args) {
    if (arg instanceof Error) {
      err = arg
      status = err.status || err.statusCode || status
    } else if (typeof arg === 'number') status = arg
    else if (typeof arg === 'string') message = arg
    else if (arg !== null && typeof arg === 'object') props = arg
  }
  if (typeof status !== 'number' || !STATUS_CODES[status] || status < 400 || status > 599) status = 500
  if (!err) {
    err = new Error(message || STATUS_CODES[status])
    const name = STATUS_CODES[status]
      .split(' ')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join('')
      .replace(/[^A-Za-z0-9_]/g, '')
    Object.defineProperty(err, 'name', {
      value: name.endsWith('Error') ? name : `${name}Error`,
      writable: true,
      configurable: true,
      enumerable: false,
    })
    // Recomputes the stack's headline with the name, and starts it at the app's call.
    Error.captureStackTrace(err, caller)
  }
  err.status = err.statusCode = status
  err.expose = status < 500
  for (const key of Object.keys(props)) if (key !== 'status' && key !== 'statusCode') err[key] = props[key]
  return err
}

function contextThrow(...args) {
  throw httpError(args, contextThrow)
}

function contextAssert(value, ...args) {
  if (!value) throw httpError(args, contextAssert)
}
const assertComparisons = {
  equal: (a, b) => a == b, // eslint-disable-line eqeqeq
  notEqual: (a, b) => a != b, // eslint-disable-line eqeqeq
  strictEqual: (a, b) => a === b,
  notStrictEqual: (a, b) => a !== b,
  deepEqual: (a, b) => util.isDeepStrictEqual(a, b),
  notDeepEqual: (a, b) => !util.isDeepStrictEqual(a, b),
}
for (const [name, compare] of Object.entries(assertComparisons)) {
  contextAssert[name] = function assertComparison(a, b, ...args) {
    if (!compare(a, b)) throw httpError(args, assertComparison)
  }
}
contextAssert.ok = contextAssert

const contextProto = {
  throw: contextThrow,
  assert: contextAssert,
  /** Koa's ctx.onerror: here for a body stream that fails (and apps that call it). */
  onerror(err) {
    if (err == null) return
    hooks.onStreamError(this, err)
  },
  inspect() {
    return this.toJSON()
  },
  toJSON() {
    return {
      request: this.request.toJSON(),
      response: this.response.toJSON(),
      app: this.app.toJSON(),
      originalUrl: this.originalUrl,
      req: '<original node req>',
      res: '<original node res>',
      socket: '<original node socket>',
    }
  },
}
contextProto[util.inspect.custom] = contextProto.inspect

function delegate(target, names, kind) {
  for (const name of names) {
    if (kind === 'method') {
      contextProto[name] = function (...args) {
        return this[target][name](...args)
      }
      continue
    }
    const descriptor = {
      get() {
        return this[target][name]
      },
      configurable: true,
      enumerable: true,
    }
    if (kind === 'access') {
      descriptor.set = function (value) {
        this[target][name] = value
      }
    }
    Object.defineProperty(contextProto, name, descriptor)
  }
}
delegate(
  'response',
  ['attachment', 'redirect', 'remove', 'vary', 'has', 'set', 'append', 'flushHeaders'],
  'method',
)
delegate('response', ['status', 'message', 'body', 'length', 'type', 'lastModified', 'etag'], 'access')
delegate('response', ['headerSent', 'writable'], 'getter')
delegate('request', ['acceptsLanguages', 'acceptsEncodings', 'acceptsCharsets', 'accepts', 'get', 'is'], 'method')
delegate(
  'request',
  ['querystring', 'idempotent', 'socket', 'search', 'method', 'query', 'path', 'url', 'accept'],
  'access',
)
delegate(
  'request',
  ['origin', 'href', 'subdomains', 'protocol', 'host', 'hostname', 'URL', 'header', 'headers', 'secure', 'stale', 'fresh', 'ips', 'ip'],
  'getter',
)

/** ctx.app: the Koa application stand-in. `emit('error', err, ctx)` becomes an error log. */
class KoaApp extends EventEmitter {
  constructor() {
    super()
    this.proxy = true
    this.proxyIpHeader = 'X-Forwarded-For'
    this.subdomainOffset = 2
    this.env = 'development'
    this.keys = undefined
    this.silent = false
    this.context = contextProto
    this.request = requestProto
    this.response = responseProto
  }
  emit(event, ...args) {
    if (event === 'error') {
      const [err] = args
      if (!this.silent) hooks.onAppError(err)
      if (this.listenerCount('error') > 0) super.emit(event, ...args)
      return true
    }
    return super.emit(event, ...args)
  }
  toJSON() {
    return { subdomainOffset: this.subdomainOffset, proxy: this.proxy, env: this.env }
  }
  inspect() {
    return this.toJSON()
  }
  [util.inspect.custom]() {
    return this.toJSON()
  }
}
const koaApp = new KoaApp()

const COOKIE_FIELD = /^[\u0009\u0020-\u007e\u0080-\u00ff]+$/ // eslint-disable-line no-control-regex
const COOKIE_SAME_SITE = /^(?:lax|none|strict)$/i
const cookiePatterns = new Map()

/**
 * ctx.cookies (the `cookies` package Koa uses, without signing): get reads Cookie, set
 * appends Set-Cookie. `secure` defaults to whether the request came over https (as in Koa);
 * an explicit `secure: true` over plain http is allowed here, where ioctl serves http.
 */
class Cookies {
  constructor(request) {
    this.koaRequest = request
    this.request = request.req
    this.response = request.res
  }

  get(name) {
    const header = this.request.headers.cookie
    if (!header) return undefined
    let pattern = cookiePatterns.get(name)
    if (!pattern) {
      pattern = new RegExp(`(?:^|;) *${String(name).replace(/[\^$\\.*+?()[\]{}|]/g, '\\$&')}=([^;]*)`)
      cookiePatterns.set(name, pattern)
    }
    const match = header.match(pattern)
    if (!match) return undefined
    let value = match[1]
    if (value[0] === '"') value = value.slice(1, -1)
    return value
  }

  set(name, value, options = {}) {
    if (!COOKIE_FIELD.test(name) || /[\s"(),/:;<=>?@[\]{}\\]/.test(name)) {
      throw new TypeError(`ctx.cookies.set: invalid cookie name ${util.inspect(name)}`)
    }
    if (value && (!COOKIE_FIELD.test(value) || /[\s",;\\]/.test(value))) {
      throw new TypeError(`ctx.cookies.set: invalid value for cookie ${name}: ${util.inspect(value)}`)
    }
    const opts = { path: '/', httpOnly: true, ...options }
    if (opts.sameSite && opts.sameSite !== true && !COOKIE_SAME_SITE.test(opts.sameSite)) {
      throw new TypeError(`ctx.cookies.set: invalid sameSite option ${util.inspect(opts.sameSite)}`)
    }
    value = value || ''
    let expires = opts.expires
    if (!value) expires = new Date(0)
    else if (opts.maxAge) expires = new Date(Date.now() + opts.maxAge)
    const secure = opts.secure !== undefined ? opts.secure : this.koaRequest.secure
    let header = `${name}=${value}`
    if (opts.path) header += `; path=${opts.path}`
    if (expires) header += `; expires=${expires.toUTCString()}`
    if (opts.domain) header += `; domain=${opts.domain}`
    if (opts.priority) header += `; priority=${String(opts.priority).toLowerCase()}`
    if (opts.sameSite) header += `; samesite=${opts.sameSite === true ? 'strict' : String(opts.sameSite).toLowerCase()}`
    if (secure) header += '; secure'
    if (opts.httpOnly) header += '; httponly'
    if (opts.partitioned) header += '; partitioned'

    const res = this.response
    if (res.headersSent) return this
    let headers = res.getHeader('Set-Cookie') || []
    if (!Array.isArray(headers)) headers = [String(headers)]
    if (opts.overwrite) headers = headers.filter((h) => !h.startsWith(`${name}=`))
    headers.push(header)
    res.setHeader('Set-Cookie', headers)
    return this
  }
}

/** A fresh Koa context for one request; the host adds `vtex` and `clients`. */
function createContext(req, res, params) {
  const ctx = Object.create(contextProto)
  const request = (ctx.request = Object.create(requestProto))
  const response = (ctx.response = Object.create(responseProto))
  ctx.app = request.app = response.app = koaApp
  ctx.req = request.req = response.req = req
  ctx.res = request.res = response.res = res
  request.ctx = response.ctx = ctx
  request.response = response
  response.request = request
  ctx.originalUrl = request.originalUrl = req.url
  ctx.cookies = new Cookies(request)
  ctx.state = {}
  ctx.params = params
  ctx.vtex = undefined
  ctx.clients = undefined
  ctx.timings = {}
  ctx.metrics = {}
  res.statusCode = 404
  return ctx
}

/** Koa's respond(): writes what the middleware left in ctx. */
function respond(ctx) {
  if (ctx.respond === false) return
  if (!ctx.writable) return
  const res = ctx.res
  let body = ctx.body
  const code = ctx.status

  if (EMPTY_STATUSES.has(code)) {
    ctx.body = null
    res.end()
    return
  }
  if (ctx.method === 'HEAD') {
    if (!res.headersSent && !ctx.response.has('Content-Length')) {
      const { length } = ctx.response
      if (Number.isInteger(length)) ctx.length = length
    }
    res.end()
    return
  }
  if (body == null) {
    if (ctx.response._explicitNullBody) {
      ctx.response.remove('Content-Type')
      ctx.response.remove('Transfer-Encoding')
      res.end()
      return
    }
    body = ctx.req.httpVersionMajor >= 2 ? String(code) : ctx.message || String(code)
    if (!res.headersSent) {
      ctx.type = 'text'
      ctx.length = Buffer.byteLength(body)
    }
    res.end(body)
    return
  }
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    res.end(body)
    return
  }
  if (isStream(body)) {
    body.pipe(res)
    return
  }
  body = JSON.stringify(body)
  if (!res.headersSent) ctx.length = Buffer.byteLength(body)
  res.end(body)
}

module.exports = { createContext, respond, hooks }
