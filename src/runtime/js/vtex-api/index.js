'use strict'
// ioctl's stand-in for the `@vtex/api` npm package, loaded by every `require('@vtex/api')` of a
// service run by ioctl (host/modules.js redirects the resolution here). It owns the runtime
// values apps import; one file per part: errors, constants, service (Service, method), logger,
// caches, limiter (`concurrency`), http (ExternalClient's HTTP with retries), clients,
// not_emulated, io_clients, utils (pure helpers), platform (tracing, metrics, directives, worker
// entry points), and the local platform clients (local_platform, apps, vbase, masterdata). The
// rarely used parts load on first read (lazy.js); the npm packages @vtex/api is built on
// (lru-cache, p-limit, semver) are the real ones, loaded on first use (packages.loadForApp).
// Every runtime export of the real package (6.x) exists here: test/exports.test.js checks it.

const constants = require('./constants')
const errors = require('./errors')
const hooks = require('./hooks')
const { Service, compose, method } = require('./service')
const { Logger, MetricsAccumulator } = require('./logger')
const clients = require('./clients')
const { notEmulatedClasses } = require('./not_emulated')
const { IOClients, LOCAL } = require('./io_clients')
const { lazy } = require('./lazy')
const packages = require('../packages')
const utils = require('./utils')
const platform = require('./platform')

/** Exports that are local platform clients: export name → key of LOCAL. */
const LOCAL_CLIENTS = {
  Apps: 'apps',
  MasterData: 'masterdata',
  VBase: 'vbase',
  TenantClient: 'tenant',
  Segment: 'segment',
  Session: 'session',
  LicenseManager: 'licenseManager',
}
/** Exports that are not-emulated clients: export name → key of notEmulatedClasses. */
const NOT_EMULATED_CLIENTS = {
  Assets: 'assets',
  Billing: 'billing',
  BillingMetrics: 'billingMetrics',
  Builder: 'builder',
  ID: 'id',
  MessagesGraphQL: 'messagesGraphQL',
  Metadata: 'metadata',
  Registry: 'registry',
  Router: 'router',
  Settings: 'settings',
  Workspaces: 'workspaces',
  CatalogGraphQL: 'catalogGraphQL',
  Catalog: 'catalog',
  PaymentProvider: 'paymentProvider',
  Sphinx: 'Sphinx',
  Housekeeper: 'Housekeeper',
}

module.exports = {
  // Service declaration
  Service,
  method,
  // Clients
  IOClients,
  IOClient: clients.IOClient,
  ExternalClient: clients.ExternalClient,
  JanusClient: clients.JanusClient,
  AppClient: clients.AppClient,
  InfraClient: clients.InfraClient,
  AppGraphQLClient: clients.AppGraphQLClient,
  IOGraphQLClient: clients.IOGraphQLClient,
  GraphQLClient: clients.GraphQLClient,
  Events: clients.Events,
  // Caching (LRUCache, made on first read below), logging, metrics
  Logger,
  LogLevel: constants.LogLevel,
  MetricsAccumulator,
  AuthType: constants.AuthType,
  CacheType: constants.CacheType,
  // Errors
  ResolverError: errors.ResolverError,
  ResolverWarning: errors.ResolverWarning,
  UserInputError: errors.UserInputError,
  AuthenticationError: errors.AuthenticationError,
  ForbiddenError: errors.ForbiddenError,
  NotFoundError: errors.NotFoundError,
  TooManyRequestsError: errors.TooManyRequestsError,
  RequestCancelledError: errors.RequestCancelledError,
  tooManyRequestsStatus: errors.tooManyRequestsStatus,
  cancelledRequestStatus: errors.cancelledRequestStatus,
  cancelledErrorCode: errors.cancelledErrorCode,
  // Constants
  APP: constants.APP,
  LINKED: constants.LINKED,
  PRODUCTION: constants.PRODUCTION,
  REGION: constants.REGION,
  BILLING_TYPE: constants.BILLING_TYPE,
  ContractStatus: constants.ContractStatus,
  ...constants.VALUES,
  // Helpers (utils.js) and the rest of the runtime (platform.js)
  ...utils,
  ...platform,
  // Not part of @vtex/api: the host fills in `log`, `sendEvent` and `platform`, and composes with `compose`.
  __ioctl: Object.assign(hooks, { compose }),
}

// Made on first read (lazy.js): the local platform clients, the clients ioctl does not emulate,
// the caches, the HTTP client. An app that never touches them does not pay for loading them.
for (const [name, key] of Object.entries(LOCAL_CLIENTS)) lazy(module.exports, name, () => LOCAL[key])
for (const [name, key] of Object.entries(NOT_EMULATED_CLIENTS)) {
  lazy(module.exports, name, () => notEmulatedClasses[key])
}
for (const name of ['LRUCache', 'DiskCache', 'LRUDiskCache', 'MultilayeredCache']) {
  lazy(module.exports, name, () => require('./caches')[name])
}
lazy(module.exports, 'HttpClient', () => require('./http').HttpClient)
// @vtex/api re-exports the real prom-client (its dependency, pinned in the runtime's package set).
lazy(module.exports, 'promclient', () => packages.loadForApp('prom-client'))

// Read when used: a standby host learns the app's identity and place only when it loads it.
for (const [name, read] of Object.entries({ ...constants.FROM_ENV, appPath: platform.appPath })) {
  Object.defineProperty(module.exports, name, { get: read, enumerable: true, configurable: true })
}
