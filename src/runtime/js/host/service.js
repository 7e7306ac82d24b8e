'use strict'
// Loading the app's built service: require its entry, check it exports a Service, and tell
// ioctl what it declares (event handlers, routes, client options, where its routes are served).

const path = require('node:path')
const vtexApi = require('../vtex-api')
const { errorInfo } = require('./errors')
const { log } = require('./logging')
const messages = require('./messages')
const preload = require('./preload')

/**
 * The loaded Service, and 'waiting' (standby, no `load` yet) | 'loading' | 'loaded' | 'failed';
 * `schema`: its executable GraphQL schema when it declares `graphql`.
 */
const loaded = { service: null, state: 'waiting', schema: null }

/** The Service's GraphQL schema (null without `graphql`); throws the schema's problems. */
function graphqlSchema(config) {
  if (!config.graphql) return null
  // Loaded on demand: apps without GraphQL never pay for graphql-js.
  const { buildSchema } = require('./graphql/schema')
  preload.note(require.resolve('./graphql/schema'))
  preload.note(require.resolve('./graphql/serve'))
  return buildSchema(path.dirname(process.cwd()), config.graphql, (message) => log('warn', message))
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

/** Why an event handler cannot be called (null when it can: a function, or an array of them). */
function notCallable(handler) {
  if (typeof handler === 'function') return null
  if (Array.isArray(handler)) {
    if (handler.length > 0 && handler.every((h) => typeof h === 'function')) return null
    return handler.length === 0 ? 'an empty array' : 'an array holding something that is not a function'
  }
  if (handler === null || handler === undefined) return String(handler)
  return typeof handler === 'object' ? 'an object' : `a ${typeof handler}`
}

/**
 * Loads `entry` and answers `loaded` or `load_error` through `send`. `routes` starts or stops
 * the route server: `routes.start()` resolves with {socket}.
 */
async function loadService(entry, { send, routes, onFailed }) {
  const fail = (message, stack, diagnostics) => {
    loaded.state = 'failed'
    send(messages.loadError(message, stack, diagnostics))
    onFailed()
  }
  loaded.state = 'loading'
  let exported
  const started = performance.now()
  try {
    exported = require(path.resolve(entry))
  } catch (err) {
    const { message, stack } = errorInfo(err)
    return fail(message, stack)
  }
  const candidate = exported != null && exported.default !== undefined ? exported.default : exported
  if (!isService(candidate) && candidate && typeof candidate === 'object' && (candidate.routes || candidate.events)) {
    const message =
      'node/index.ts exports `{ routes }` (the pre-Service API of node builder 3.x): export `new Service({ routes, events })` from \'@vtex/api\' instead, with "node": "6.x" in manifest.json'
    return fail(message, `Error: ${message}`)
  }
  if (!isService(candidate)) {
    const message =
      "node/index.ts does not export a Service: expected `export default new Service({...})` from '@vtex/api'"
    return fail(message, `Error: ${message}`)
  }
  let declared
  try {
    // Reading the declaration runs app code too (getters, proxies).
    const config = candidate.config
    const events = config.events || {}
    const badEvents = {}
    for (const id of Object.keys(events)) {
      const why = notCallable(events[id])
      if (why) badEvents[id] = why
    }
    declared = {
      events: Object.keys(events).filter((id) => !badEvents[id]),
      badEvents,
      routes: Object.keys(config.routes || {}),
      clientOptions: jsonSafe((config.clients && config.clients.options) || {}) || {},
    }
    const required = performance.now()
    loaded.schema = graphqlSchema(config)
    const round = (ms) => Math.round(ms * 10) / 10
    const schemaMs = loaded.schema === null ? null : round(performance.now() - required)
    const code = require('../loader').stats()
    declared.timings = {
      requireMs: round(required - started),
      schemaMs,
      runtimeModules: code.modules,
      cachedModules: code.accepted,
    }
    declared.graphql = loaded.schema !== null
  } catch (err) {
    const { message, stack } = errorInfo(err)
    return fail(message, stack, err && err.diagnostics)
  }
  loaded.service = candidate
  let routesSocket = null
  if (declared.routes.length > 0 || declared.graphql) {
    try {
      routesSocket = (await routes.start()).socket
    } catch (err) {
      const message = `cannot open the HTTP server for the Service's routes: ${errorInfo(err).message}`
      return fail(message, `Error: ${message}`)
    }
  } else {
    routes.stop()
  }
  loaded.state = 'loaded'
  send(messages.loaded({ ...declared, routesSocket, preload: preload.list() }))
}

module.exports = { loaded, loadService, jsonSafe, isService, notCallable }
