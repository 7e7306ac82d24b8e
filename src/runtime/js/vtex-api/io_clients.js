'use strict'
// IOClients: ctx.clients, built afresh for each delivery and request. getOrSet constructs each
// client once with the app's clients.options (default, then its own key). apps, vbase and
// masterdata are ioctl's local versions; tenant, segment, session and licenseManager make
// VTEX's own calls, which ioctl's boundary answers; the other VTEX clients fail when called.

const { CLIENT_KEY, Events } = require('./clients')
const { lazy } = require('./lazy')
const { LIMITER_KEY, limiterKeyFor } = require('./limiter')
const { NOT_EMULATED, notEmulatedClasses } = require('./not_emulated')

/** The clients ioctl answers locally, in place of their not-emulated classes (loaded when first used). */
const LOCAL = {}
lazy(LOCAL, 'apps', () => require('./apps').Apps)
lazy(LOCAL, 'masterdata', () => require('./masterdata').MasterData)
lazy(LOCAL, 'vbase', () => require('./vbase').VBase)
lazy(LOCAL, 'tenant', () => require('./tenant').TenantClient)
lazy(LOCAL, 'segment', () => require('./segment').Segment)
lazy(LOCAL, 'session', () => require('./session').Session)
lazy(LOCAL, 'licenseManager', () => require('./license_manager').LicenseManager)

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
        // Names the client's calls across the boundary (`ctx.clients.tenant.info`).
        [CLIENT_KEY]: key,
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
      return this.getOrSet(key, key in LOCAL ? LOCAL[key] : notEmulatedClasses[key])
    },
    configurable: true,
  })
}

module.exports = { IOClients, LOCAL }
