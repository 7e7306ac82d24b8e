'use strict'
// Built-in clients of VTEX services ioctl cannot emulate (oms, catalog, checkout, ...): they
// construct fine, and any method they do not define themselves rejects, naming the call and the
// services ioctl does run locally. apps, vbase and masterdata extend these with local methods.

const { IOClient } = require('./clients')
const { LOCAL_SERVICES } = require('./platform')

// Properties a caller may probe on any object without meaning a VTEX API call.
const INERT_PROPERTIES = new Set(['then', 'catch', 'toJSON', 'inspect', 'asymmetricMatch', 'nodeType', '$$typeof'])

/**
 * A client class for a VTEX service ioctl cannot emulate. Instances (and subclasses) work,
 * but any method they don't define themselves rejects, naming the call.
 */
function notEmulatedClient(className, clientKey) {
  const fallback = new Proxy(Object.create(IOClient.prototype), {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop in target || INERT_PROPERTIES.has(prop)) {
        return Reflect.get(target, prop, receiver)
      }
      return function notEmulated() {
        return Promise.reject(
          new Error(
            `ctx.clients.${clientKey}.${prop}() needs VTEX's cloud and is not emulated by ioctl (${LOCAL_SERVICES})`,
          ),
        )
      }
    },
  })
  const Client = class extends IOClient {}
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
  catalogGraphQL: 'CatalogGraphQL',
  // From @vtex/clients rather than @vtex/api; apps reach them as ctx.clients.<name> too.
  catalog: 'Catalog',
  checkout: 'Checkout',
  logistics: 'Logistics',
  oms: 'OMS',
  paymentProvider: 'PaymentProvider',
}
const notEmulatedClasses = {}
for (const [key, className] of Object.entries(NOT_EMULATED)) {
  notEmulatedClasses[key] = notEmulatedClient(className, key)
}

module.exports = { NOT_EMULATED, notEmulatedClasses, notEmulatedClient }
