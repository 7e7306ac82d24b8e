'use strict'
// The app's own HTTP to VTEX's hosts (axios, node-fetch, got, http(s).request/get, global
// fetch) crosses ioctl's boundary like the stand-in's clients: each such request becomes an
// `http` platform call and is answered with the answer's status, headers and body (a `missing`
// one: its status, 501, and a JSON `{message}`; the session logs it, the host adds nothing).
// @mswjs/interceptors does the interception (its ClientRequest and fetch interceptors). A
// request to any other host never reaches them: a router on http.request/get,
// https.request/get, http.ClientRequest and fetch sends it to Node's own function untouched.
// Routers cost nothing at start (the http modules are routed when something first loads them);
// the interceptors (≈50 ms of loading, undici's Request/Response among it) load with the first
// request to a VTEX host, or in a standby before its app arrives (warmUp).

const Module = require('node:module')
const path = require('node:path')
const packages = require('../packages')
const outbound = require('../vtex-api/outbound')

/** An entry point of @mswjs/interceptors (its `exports` map names them), from the runtime's packages. */
function interceptors(subpath) {
  const from = path.dirname(packages.MODULES)
  return require(require.resolve(`@mswjs/interceptors/${subpath}`, { paths: [from] }))
}

/** What each routed http module had: {request, get, ClientRequest?}, by module name. */
const originals = {}
/** The same functions as the ClientRequest interceptor wraps them, once applied. */
let intercepted = null
/** Global fetch: Node's own, and the fetch interceptor's, once applied. */
const fetches = { original: null, intercepted: null }

/** The host a http(s).request / get / new ClientRequest call addresses (null for a unix socket). */
function requestHost(args) {
  const [first, second] = args
  const isUrl = typeof first === 'string' || first instanceof URL
  const options = isUrl ? (second !== null && typeof second === 'object' ? second : {}) : first || {}
  if (options.socketPath) return null
  const host = options.hostname || options.host
  if (host) return String(host).replace(/:\d+$/, '')
  if (!isUrl) return 'localhost'
  try {
    return new URL(String(first)).hostname
  } catch {
    return null
  }
}

const goesToVtex = (args) => outbound.isVtexHost(requestHost(args))

/** `http.request` / `get` (and https's) that sends a VTEX host's request through the interceptor. */
function router(name, fn) {
  const routed = {
    [fn](...args) {
      const target = goesToVtex(args) ? interceptedHttp()[name][fn] : originals[name][fn]
      return Reflect.apply(target, this, args)
    },
  }[fn]
  return routed
}

/** `http.ClientRequest`, constructed directly: the same routing. */
function clientRequestRouter(Original) {
  return new Proxy(Original, {
    construct(target, args, newTarget) {
      if (!goesToVtex(args)) return Reflect.construct(target, args, newTarget)
      return Reflect.construct(interceptedHttp().http.ClientRequest, args)
    },
  })
}
/** The one ClientRequest router (made when node:http is first routed). */
let routedClientRequest = null

/** Puts the routers on `mod` (node:http or node:https), keeping what it had. Once per module. */
function route(name, mod) {
  if (originals[name]) return
  originals[name] = { request: mod.request, get: mod.get }
  if (name === 'http') originals.http.ClientRequest = mod.ClientRequest
  installRouters(name, mod)
}

function installRouters(name, mod) {
  mod.request = router(name, 'request')
  mod.get = router(name, 'get')
  if (name === 'http') {
    routedClientRequest = routedClientRequest || clientRequestRouter(originals.http.ClientRequest)
    mod.ClientRequest = routedClientRequest
  }
}

/** The ClientRequest interceptor applied (once): its http/https functions, which answer across the boundary. */
function interceptedHttp() {
  if (intercepted) return intercepted
  const http = require('node:http')
  const https = require('node:https')
  route('http', http)
  route('https', https)
  const { ClientRequestInterceptor } = interceptors('ClientRequest')
  // The interceptor wraps what it finds: Node's own functions, not the routers (which go back
  // whatever happens, so that other hosts' requests stay Node's own).
  Object.assign(http, originals.http)
  Object.assign(https, originals.https)
  try {
    const interceptor = new ClientRequestInterceptor()
    interceptor.on('request', (event) => answer(event, 'http'))
    interceptor.apply()
    intercepted = {
      http: { request: http.request, get: http.get, ClientRequest: http.ClientRequest },
      https: { request: https.request, get: https.get },
    }
  } finally {
    installRouters('http', http)
    installRouters('https', https)
  }
  return intercepted
}

/** The fetch interceptor applied (once): its fetch, which answers across the boundary. */
function interceptedFetch() {
  if (fetches.intercepted) return fetches.intercepted
  const { FetchInterceptor } = interceptors('fetch')
  const routed = globalThis.fetch
  setFetch(fetches.original)
  try {
    const interceptor = new FetchInterceptor()
    interceptor.on('request', (event) => answer(event, 'fetch'))
    interceptor.apply()
    fetches.intercepted = globalThis.fetch
  } finally {
    setFetch(routed)
  }
  return fetches.intercepted
}

function setFetch(fn) {
  Object.defineProperty(globalThis, 'fetch', { value: fn, writable: true, enumerable: true, configurable: true })
}

/** The URL a fetch call addresses (a string, a URL or a Request). */
function fetchUrl(input) {
  if (typeof input === 'string') return input
  if (input instanceof URL) return input.href
  return input && typeof input.url === 'string' ? input.url : null
}

/** The app's library, from the User-Agent its request carries (else `fallback`: http or fetch). */
function libraryOf(userAgent, fallback) {
  const agent = String(userAgent || '')
  if (agent.startsWith('axios/')) return 'axios'
  if (agent.startsWith('node-fetch')) return 'node-fetch'
  if (agent.startsWith('got')) return 'got'
  return fallback
}

/** Statuses whose answer has no body (the Response constructor refuses one). */
const NO_BODY = new Set([204, 205, 304])
/** Headers of the connection, not of the answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length'])

/** The Response an answer becomes. */
function toResponse(answer, method) {
  if (answer.source === 'missing' || answer.status < 200) {
    const message = answer.message || `${method} goes to VTEX's cloud and nothing answers it locally`
    const status = answer.status < 200 ? 502 : answer.status
    return new Response(JSON.stringify({ message }), { status, headers: { 'content-type': 'application/json' } })
  }
  const headers = new Headers()
  for (const [name, value] of Object.entries(answer.headers)) {
    if (HOP_BY_HOP.has(name)) continue
    if (name === 'set-cookie') value.split('\n').forEach((cookie) => headers.append(name, cookie))
    else headers.set(name, value)
  }
  const body = NO_BODY.has(answer.status) || method === 'HEAD' || answer.body.length === 0 ? null : answer.body
  return new Response(body, { status: answer.status, headers })
}

/** The interceptors' `request` listener: every request it sees goes to a VTEX host. */
async function answer({ request, controller }, fallback) {
  const via = libraryOf(request.headers.get('user-agent'), fallback)
  const body = request.body === null ? null : Buffer.from(await request.arrayBuffer())
  const headers = {}
  for (const [name, value] of request.headers) if (!name.startsWith('x-interceptors-')) headers[name] = value
  let answered
  try {
    const call = outbound.httpCall({ via, method: request.method, url: request.url, headers, body, app: null })
    answered = await outbound.exchange(call)
  } catch (reason) {
    const why = reason && reason.message != null ? String(reason.message) : String(reason)
    const status = reason && Number.isInteger(reason.status) && reason.status >= 400 ? reason.status : 502
    answered = { status, source: 'missing', message: `ioctl could not answer ${request.method} ${request.url}: ${why}` }
  }
  controller.respondWith(toResponse(answered, request.method))
}

const HTTP_MODULES = { http: 'http', 'node:http': 'http', https: 'https', 'node:https': 'https' }

/**
 * Installs the routers: on global fetch now, on node:http and node:https when something first
 * loads them (the app, its libraries or the runtime). Before the app loads; once.
 */
function install() {
  if (fetches.original) return
  const fetchDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch')
  if (fetchDescriptor) {
    fetches.original = fetchDescriptor.value || fetchDescriptor.get.call(globalThis)
    setFetch(function fetch(input, init) {
      const target = outbound.isVtexUrl(fetchUrl(input)) ? interceptedFetch() : fetches.original
      return target(input, init)
    })
  }
  const load = Module._load
  Module._load = function loadRouted(request, ...rest) {
    const exported = load.call(this, request, ...rest)
    const name = HTTP_MODULES[request]
    if (name && !originals[name]) route(name, exported)
    return exported
  }
}

/** Applies the interceptors now (a standby, before its app arrives): the app's first VTEX call then pays nothing. */
function warmUp() {
  interceptedHttp()
  if (fetches.original) interceptedFetch()
}

module.exports = { install, warmUp, requestHost, libraryOf, toResponse }
