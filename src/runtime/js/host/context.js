'use strict'
// What every handler gets, for events and routes alike: ctx.vtex (the IOContext of one delivery
// or request, with its logger) and a fresh ctx.clients built from the Service's clients config.

const vtexApi = require('../vtex-api')

const env = process.env
const LOCAL_AUTH_TOKEN = 'ioctl-local-auth-token'

/** Ids' random bytes, drawn from node:crypto 256 ids at a time (as the uuid package pools them). */
const POOL_BYTES = 16 * 256
let pool = null
let taken = POOL_BYTES

/**
 * 32 random hex digits (every delivery and request takes two). node:crypto loads on first use;
 * host.js warms it once the app is ready.
 */
function randomId() {
  if (taken === POOL_BYTES) {
    pool = require('node:crypto').randomFillSync(pool || Buffer.allocUnsafe(POOL_BYTES))
    taken = 0
  }
  taken += 16
  return pool.toString('hex', taken - 16, taken)
}

/** ctx.vtex for one delivery or request of `route` ({id, type, params}). */
function ioContext(route, requestId) {
  const account = env.VTEX_ACCOUNT || ''
  const workspace = env.VTEX_WORKSPACE || ''
  const vtex = {
    account,
    workspace,
    region: env.VTEX_REGION || 'local',
    production: false,
    authToken: LOCAL_AUTH_TOKEN,
    requestId,
    operationId: randomId(),
    route,
    userAgent: env.VTEX_APP_ID || '',
    locale: 'en-US',
    tenant: { locale: 'en-US' },
    platform: 'vtex',
    product: '',
    host: `${workspace}--${account}.myvtex.com`,
  }
  vtex.logger = new vtexApi.Logger(vtex)
  return vtex
}

/** A fresh instance of the Service's IOClients implementation, for one delivery or request. */
function createClients(service, vtex) {
  const clientsConfig = service.config.clients || {}
  const Clients = clientsConfig.implementation || vtexApi.IOClients
  // As in @vtex/api, clients get the IOContext (ctx.vtex): client classes take `context: IOContext`.
  return new Clients(clientsConfig.options || {}, vtex)
}

module.exports = { randomId, ioContext, createClients }
