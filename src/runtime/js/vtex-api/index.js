'use strict'
// ioctl's stand-in for the `@vtex/api` npm package, loaded by every `require('@vtex/api')` of a
// service run by ioctl (host/modules.js redirects the resolution here). It owns the runtime
// values apps import; one file per part: errors, constants, service (Service, method), logger,
// lru_cache, limiter, http (ExternalClient's HTTP with retries), clients, not_emulated, the local
// platform clients (platform, apps, vbase, masterdata), io_clients.

const constants = require('./constants')
const errors = require('./errors')
const hooks = require('./hooks')
const { Service, compose, method } = require('./service')
const { Logger, MetricsAccumulator } = require('./logger')
const { LRUCache } = require('./lru_cache')
const { HttpClient } = require('./http')
const clients = require('./clients')
const { notEmulatedClasses } = require('./not_emulated')
const { IOClients, LOCAL } = require('./io_clients')

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
  HttpClient,
  Events: clients.Events,
  Apps: LOCAL.apps,
  Assets: notEmulatedClasses.assets,
  Billing: notEmulatedClasses.billing,
  BillingMetrics: notEmulatedClasses.billingMetrics,
  Builder: notEmulatedClasses.builder,
  ID: notEmulatedClasses.id,
  LicenseManager: notEmulatedClasses.licenseManager,
  MasterData: LOCAL.masterdata,
  MessagesGraphQL: notEmulatedClasses.messagesGraphQL,
  Metadata: notEmulatedClasses.metadata,
  Registry: notEmulatedClasses.registry,
  Router: notEmulatedClasses.router,
  Segment: notEmulatedClasses.segment,
  Session: notEmulatedClasses.session,
  Settings: notEmulatedClasses.settings,
  TenantClient: notEmulatedClasses.tenant,
  VBase: LOCAL.vbase,
  Workspaces: notEmulatedClasses.workspaces,
  CatalogGraphQL: notEmulatedClasses.catalogGraphQL,
  // Caching, logging, metrics
  LRUCache,
  Logger,
  LogLevel: constants.LogLevel,
  MetricsAccumulator,
  AuthType: constants.AuthType,
  CacheType: constants.CacheType,
  // Errors
  ResolverError: errors.ResolverError,
  UserInputError: errors.UserInputError,
  AuthenticationError: errors.AuthenticationError,
  ForbiddenError: errors.ForbiddenError,
  NotFoundError: errors.NotFoundError,
  TooManyRequestsError: errors.TooManyRequestsError,
  RequestCancelledError: errors.RequestCancelledError,
  // Constants
  APP: constants.APP,
  LINKED: constants.LINKED,
  PRODUCTION: constants.PRODUCTION,
  REGION: constants.REGION,
  // Not part of @vtex/api: the host fills in `log`, `sendEvent` and `platform`, and composes with `compose`.
  __ioctl: Object.assign(hooks, { compose }),
}
