'use strict'
// Built-in clients of VTEX services whose methods the stand-in does not have (their paths are
// the real package's): they construct fine, with a real `this.http` on VTEX's base URL (so a
// subclass's own calls cross ioctl's boundary), and any method they do not define themselves
// rejects as a 501 answer would (`err.response.status`), naming the call and the services ioctl
// runs locally. Each extends the base class its @vtex/api counterpart extends (BASES); apps,
// vbase and masterdata extend these with local methods.

const { IOClient, ExternalClient, JanusClient, AppClient, InfraClient, AppGraphQLClient } = require('./clients')
const { LOCAL_SERVICES } = require('./local_platform')
const { lazy } = require('./lazy')

// Properties a caller may probe on any object without meaning a VTEX API call.
const INERT_PROPERTIES = new Set(['then', 'catch', 'toJSON', 'inspect', 'asymmetricMatch', 'nodeType', '$$typeof'])

/**
 * What each class extends in @vtex/api (or @vtex/clients), and the app or URL it talks to (a
 * function of the IOContext where the URL names the account): `new Apps(ctx, options)` becomes
 * `InfraClient('apps@0.x', ctx, options)`, and so on.
 */
const BASES = {
  Apps: [InfraClient, 'apps@0.x'],
  Assets: [InfraClient, 'apps@0.x'],
  Billing: [AppClient, 'vtex.billing@0.x'],
  BillingMetrics: [InfraClient, 'colossus@0.x'],
  Builder: [AppClient, 'vtex.builder-hub@0.x'],
  Housekeeper: [InfraClient, 'housekeeper@0.x'],
  ID: [ExternalClient, 'https://vtexid.vtex.com.br/api/vtexid/pub/authentication'],
  LicenseManager: [JanusClient],
  MasterData: [ExternalClient, 'http://api.vtex.com/api/dataentities'],
  MessagesGraphQL: [AppGraphQLClient, 'vtex.messages@1.x'],
  Metadata: [InfraClient, 'apps@0.x'],
  PaymentProvider: [ExternalClient, (c) => `http://${c.account}.vtexpayments.com.br/payment-provider`],
  Registry: [InfraClient, 'apps@0.x'],
  Router: [InfraClient, 'router'],
  Segment: [JanusClient],
  Session: [JanusClient],
  Settings: [AppClient, 'vtex.settings-server@0.x'],
  Sphinx: [InfraClient, 'sphinx@0.x'],
  TenantClient: [JanusClient],
  VBase: [InfraClient, 'vbase@2.x'],
  Workspaces: [InfraClient, 'router'],
  CatalogGraphQL: [AppGraphQLClient, 'vtex.catalog-graphql@1.x'],
  Catalog: [JanusClient],
  Checkout: [JanusClient],
  Logistics: [JanusClient],
  OMS: [JanusClient],
  // The other classes of @vtex/clients.
  Affiliate: [JanusClient],
  Conditions: [JanusClient],
  MasterDataEntity: [JanusClient],
  OMSProxy: [AppClient, 'vtex.oms-api-proxy@0.x'],
  RatesAndBenefits: [JanusClient],
  Search: [AppClient, 'vtex.catalog-api-proxy@0.x'],
  Suggestions: [ExternalClient, (c) => `https://api.vtex.com/${c.account}/suggestions/`],
}

/** `new Client(context, options)` as the base's constructor takes it. */
function baseArguments(Base, target, context, options) {
  if (Base === IOClient || Base === JanusClient) return [context, options]
  return [typeof target === 'function' ? target(context || {}) : target, context, options]
}

/** The error of a method the stand-in lacks: shaped as a 501 answer, so `err.response.status` reads. */
function notEmulatedError(message) {
  const err = new Error(message)
  err.response = { status: 501, statusText: 'Not Implemented', headers: {}, data: { message } }
  err.isAxiosError = true
  return err
}

/**
 * A client class for a VTEX service ioctl cannot emulate. Instances (and subclasses) work,
 * but any method they don't define themselves rejects with `describe(method)`: by default
 * `ctx.clients.<clientKey>.<method>() needs VTEX's cloud...`, then `hint`.
 */
function notEmulatedClient(className, clientKey, describe = (prop) => `ctx.clients.${clientKey}.${prop}()`, hint = '') {
  const [Base, target] = BASES[className] || [IOClient]
  const fallback = new Proxy(Object.create(Base.prototype), {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop in target || INERT_PROPERTIES.has(prop)) {
        return Reflect.get(target, prop, receiver)
      }
      return function notEmulated() {
        return Promise.reject(
          notEmulatedError(
            `${describe(prop)} needs VTEX's cloud and is not emulated by ioctl (${LOCAL_SERVICES})${hint}`,
          ),
        )
      }
    },
  })
  const Client = class extends Base {
    constructor(context, options = {}) {
      super(...baseArguments(Base, target, context, options))
    }
  }
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
  janusCatalogSystem: 'Catalog',
  catalogGraphQL: 'CatalogGraphQL',
  // From @vtex/clients rather than @vtex/api; apps reach them as ctx.clients.<name> too.
  catalog: 'Catalog',
  checkout: 'Checkout',
  logistics: 'Logistics',
  oms: 'OMS',
  paymentProvider: 'PaymentProvider',
}
/** A class for each key of NOT_EMULATED (and Sphinx, Housekeeper), made when first read. */
const notEmulatedClasses = {}
for (const [key, className] of Object.entries(NOT_EMULATED)) {
  lazy(notEmulatedClasses, key, () => notEmulatedClient(className, key))
}
// Exported by @vtex/api but not among ctx.clients: named by their class.
for (const className of ['Sphinx', 'Housekeeper']) {
  lazy(notEmulatedClasses, className, () => notEmulatedClient(className, null, (prop) => `${className}.${prop}()`))
}

module.exports = { NOT_EMULATED, BASES, notEmulatedClasses, notEmulatedClient, notEmulatedError }
