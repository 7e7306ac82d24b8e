'use strict'
// HTTP routes on the real Koa: a server on the unix socket ioctl names (IOCTL_ROUTES_SOCKET, in
// the user's private folder) that ioctl proxies each matched request to. ioctl adds
// x-ioctl-route-id / -route-params (encodeURIComponent(JSON)) / -route-type / -request-id, -trace
// (the session's trace of the request, for its platform calls) and -session-data (identity.js); the app never sees them. Each request runs
// config.routes[routeId] as Koa middleware, with VTEX's additions to ctx (vtex, clients,
// params, who the request is) and VTEX's error answers: the error's status
// (UserInputError 400, AuthenticationError 401, ForbiddenError 403, NotFoundError 404, else
// err.status or 500) and `{"message", "code"}` as JSON. x-ioctl-route-type `graphql` runs the
// app's GraphQL instead (graphql/serve.js) in the same Koa context.

const fs = require('node:fs')
const packages = require('../packages')
const vtexApi = require('../vtex-api')
const { createClients, ioContext, randomId } = require('./context')
const { identify, readSessionData } = require('./identity')
const { errorCode, errorInfo, errorStatus } = require('./errors')
const { handlerContext, log } = require('./logging')
const { loaded } = require('./service')
const { fillSettings } = require('./settings')
const preload = require('./preload')

// koa and cookies load with the first app that has routes (an app with events only never
// pays for them at start).

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key)
const IOCTL_HEADER = /^x-ioctl-/i
/** The route and request id ioctl's headers named, from the server's handler to Koa's ctx. */
const ROUTE = Symbol('ioctl.route')

/**
 * ctx.cookies: the `cookies` package Koa uses, unsigned. `secure` defaults to whether the
 * request came over https (as in Koa); an explicit `secure: true` is allowed over plain http
 * too, which is all ioctl serves locally (the cookies package would throw).
 */
let LocalCookies = null
function localCookies() {
  if (LocalCookies) return LocalCookies
  const Cookies = packages.load('cookies')
  LocalCookies = class LocalCookies extends Cookies {
    set(name, value, options) {
      if (!options || !options.secure || this.secure) return super.set(name, value, options)
      this.secure = true
      try {
        return super.set(name, value, options)
      } finally {
        this.secure = false
      }
    }
  }
  return LocalCookies
}

/** Reads and removes ioctl's x-ioctl-* headers. */
function takeIoctlHeaders(req) {
  const headers = req.headers
  const taken = {
    routeId: headers['x-ioctl-route-id'],
    params: headers['x-ioctl-route-params'],
    type: headers['x-ioctl-route-type'],
    requestId: headers['x-ioctl-request-id'],
    sessionData: headers['x-ioctl-session-data'],
    trace: readTrace(headers['x-ioctl-trace']),
  }
  for (const name of Object.keys(headers)) if (IOCTL_HEADER.test(name)) delete headers[name]
  const raw = []
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!IOCTL_HEADER.test(req.rawHeaders[i])) raw.push(req.rawHeaders[i], req.rawHeaders[i + 1])
  }
  req.rawHeaders = raw
  return taken
}

/** x-ioctl-trace: the session's trace id of this request (its platform calls carry it), or null. */
function readTrace(header) {
  const trace = header === undefined ? NaN : Number(header)
  return Number.isSafeInteger(trace) && trace > 0 ? trace : null
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
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * The middleware chain (or the body stream) failed: logged with its stack, attributed to the
 * route, and answered as VTEX does. Headers the app set (cookies, cache policy) stay, as on VTEX.
 */
function routeFailed(ctx, err, { enoentIs404 = false } = {}) {
  const routeId = ctx.vtex ? ctx.vtex.route.id : '?'
  const info = errorInfo(err)
  log('error', `route ${routeId} failed: ${info.stack}`)
  // Koa must not answer again: this function writes the answer (or cuts it short).
  ctx.respond = false
  const res = ctx.res
  try {
    if (res.headersSent || !ctx.writable) {
      // Part of the answer is out already: all we can do is cut it short.
      if (!res.writableEnded) res.destroy()
      return
    }
    let status = errorStatus(err)
    if (enoentIs404 && err && err.code === 'ENOENT') status = 404
    for (const name of ['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'etag']) {
      res.removeHeader(name)
    }
    if (err && err.headers !== null && typeof err.headers === 'object') {
      try {
        ctx.set(err.headers)
      } catch {
        // Not a header map after all (some libraries' errors carry other `headers`).
      }
    }
    const body = JSON.stringify({ message: info.message, code: errorCode(err, status) })
    res.statusCode = status
    res.statusMessage = require('node:http').STATUS_CODES[status] || ''
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.end(body)
  } catch (writeErr) {
    log('error', `route ${routeId}: cannot answer with the error: ${errorInfo(writeErr).stack}`)
    res.destroy()
  }
}

/** routeId -> composed middleware (the Service's routes never change once loaded). */
const routeChains = new Map()

function routeChain(service, routeId) {
  let chain = routeChains.get(routeId)
  if (!chain) {
    chain = vtexApi.__ioctl.compose(service.config.routes[routeId], `routes.${routeId}`)
    routeChains.set(routeId, chain)
  }
  return chain
}

/** The Koa application every route runs in. */
function createApp() {
  const Koa = packages.load('koa')
  // The next standby loads Koa and cookies before its app, as this host did for its own.
  preload.note(packages.resolve('koa'))
  preload.note(packages.resolve('cookies'))
  const app = new Koa({ proxy: true })
  // A body stream that fails (a missing file: 404) answers with the error.
  app.context.onerror = function onerror(err) {
    if (err == null) return
    routeFailed(this, err, { enoentIs404: true })
  }
  // `ctx.app.emit('error', err)` from app code becomes an error log (Koa's default prints to stderr).
  app.on('error', (err) => {
    if (!app.silent) log('error', errorInfo(err).stack)
  })
  app.use(async function vtexRoute(ctx, next) {
    const { route, requestId, sessionData } = ctx.req[ROUTE]
    ctx.vtex = ioContext(route, requestId)
    ctx.params = route.params
    ctx.timings = {}
    ctx.metrics = {}
    const Cookies = localCookies()
    ctx.cookies = new Cookies(ctx.req, ctx.res, { keys: app.keys, secure: ctx.request.secure })
    identify(ctx.vtex, { cookies: ctx.cookies, headers: ctx.request.headers, sessionData })
    try {
      ctx.clients = createClients(loaded.service, ctx.vtex)
      // Required on first use: apps without GraphQL never load graphql-js.
      if (ctx.req[ROUTE].graphql) {
        await require('./graphql/serve').serveGraphql(ctx, loaded.schema)
      } else {
        const filling = fillSettings('routes', route.id, ctx)
        if (filling !== null) await filling
        await routeChain(loaded.service, route.id)(ctx, next)
      }
    } catch (err) {
      routeFailed(ctx, err)
    }
  })
  return app
}

/** The server's request handler: checks ioctl's headers, then runs the route in Koa. */
function requestHandler() {
  const koaHandler = createApp().callback()
  return function onRouteRequest(req, res) {
    const ioctl = takeIoctlHeaders(req)
    const routeId = ioctl.routeId
    if (!routeId) {
      plainAnswer(res, 400, 'ioctl: this server only serves requests proxied by ioctl (no x-ioctl-route-id header)\n')
      return
    }
    let params
    try {
      params = parseRouteParams(ioctl.params)
    } catch (err) {
      plainAnswer(res, 400, `ioctl: unreadable x-ioctl-route-params (${err.message}): ${ioctl.params}\n`)
      return
    }
    let sessionData
    try {
      sessionData = readSessionData(ioctl.sessionData)
    } catch (err) {
      plainAnswer(res, 400, `ioctl: unreadable x-ioctl-session-data (${err.message})\n`)
      return
    }
    const service = loaded.service
    if (ioctl.type === 'graphql') {
      serveGraphqlRequest(req, res, { ...ioctl, sessionData }, koaHandler)
      return
    }
    const routes = (service && service.config.routes) || {}
    if (!service || !hasOwn(routes, routeId)) {
      const known = Object.keys(routes).join(', ') || 'none'
      const text = `ioctl: no route handler "${routeId}" in the Service's routes (node/index.ts declares ${known})\n`
      plainAnswer(res, 404, text)
      return
    }
    const route = { id: routeId, params, type: ioctl.type === 'public' ? 'public' : 'private' }
    req[ROUTE] = { route, requestId: ioctl.requestId || randomId(), sessionData }
    handlerContext.run({ handler: routeId, delivery: null, trace: ioctl.trace }, () => koaHandler(req, res))
  }
}

/** A request for the app's GraphQL (x-ioctl-route-type: graphql), run in Koa like a private route. */
function serveGraphqlRequest(req, res, ioctl, koaHandler) {
  if (!loaded.schema) {
    plainAnswer(res, 404, 'ioctl: this app serves no GraphQL (its Service declares no `graphql`)\n')
    return
  }
  const route = { id: 'graphql', params: {}, type: 'private' }
  req[ROUTE] = { route, requestId: ioctl.requestId || randomId(), sessionData: ioctl.sessionData, graphql: true }
  handlerContext.run({ handler: 'graphql', delivery: null, trace: ioctl.trace }, () => koaHandler(req, res))
}

/**
 * The HTTP server of the routes, listening nowhere yet. No request timeout of its own: ioctl
 * enforces service.json's timeout; idle keep-alive connections are closed by ioctl's pool,
 * never under it by us.
 */
function createServer() {
  // node:http loads here: an app without routes never needs it.
  const server = require('node:http').createServer({ requestTimeout: 0 }, requestHandler())
  server.keepAliveTimeout = 0
  return server
}

/** The route server on ioctl's socket: started once (a standby starts it before its app loads). */
class RouteServer {
  /** `socketPath`: the unix socket ioctl proxies the routes to (IOCTL_ROUTES_SOCKET). */
  constructor(socketPath) {
    if (typeof socketPath !== 'string' || socketPath === '') {
      throw new TypeError('the route server needs the unix socket ioctl names (IOCTL_ROUTES_SOCKET)')
    }
    this.socketPath = socketPath
    this.server = null
    this.listening = null
  }

  /** Resolves with {socket} once listening. */
  start() {
    if (!this.listening) {
      const server = (this.server = createServer())
      this.listening = new Promise((resolve, reject) => {
        server.once('error', reject)
        removeStaleSocket(this.socketPath)
        server.listen(this.socketPath, () => {
          server.off('error', reject)
          resolve({ socket: this.socketPath })
        })
      })
      this.listening.catch(() => {
        this.server = null
        this.listening = null
      })
    }
    return this.listening
  }

  stop() {
    if (this.server) this.server.close()
    this.server = null
    this.listening = null
  }
}

/** A socket file left by an earlier host at the path ioctl chose (never any other kind of file). */
function removeStaleSocket(socketPath) {
  try {
    if (fs.lstatSync(socketPath).isSocket()) fs.unlinkSync(socketPath)
  } catch {
    // Nothing there.
  }
}

module.exports = {
  RouteServer,
  createServer,
  requestHandler,
  createApp,
  routeFailed,
  parseRouteParams,
  takeIoctlHeaders,
  ROUTE,
}
