'use strict'
// @vtex/api's constants and enums. APP is read when used: a standby host learns the app's
// identity only when it loads the app.

const env = process.env

const APP = Object.freeze({
  get ID() {
    return env.VTEX_APP_ID || ''
  },
  get MAJOR() {
    return (env.VTEX_APP_VERSION || '').split('.')[0]
  },
  get NAME() {
    return env.VTEX_APP_NAME || ''
  },
  get VENDOR() {
    return env.VTEX_APP_VENDOR || ''
  },
  get VERSION() {
    return env.VTEX_APP_VERSION || ''
  },
  IS_THIRD_PARTY() {
    return this.VENDOR !== 'vtex' && this.VENDOR !== 'gocommerce'
  },
})
const LINKED = true
const PRODUCTION = false
const REGION = env.VTEX_REGION || 'local'

// The names of the headers VTEX's routers and runtime exchange, and other fixed values.
const HEADERS = {
  CACHE_CONTROL_HEADER: 'cache-control',
  SEGMENT_HEADER: 'x-vtex-segment',
  SESSION_HEADER: 'x-vtex-session',
  PRODUCT_HEADER: 'x-vtex-product',
  LOCALE_HEADER: 'x-vtex-locale',
  FORWARDED_HOST_HEADER: 'x-forwarded-host',
  TENANT_HEADER: 'x-vtex-tenant',
  BINDING_HEADER: 'x-vtex-binding',
  META_HEADER: 'x-vtex-meta',
  META_HEADER_BUCKET: 'x-vtex-meta-bucket',
  ETAG_HEADER: 'etag',
  ACCOUNT_HEADER: 'x-vtex-account',
  CREDENTIAL_HEADER: 'x-vtex-credential',
  REQUEST_ID_HEADER: 'x-request-id',
  ROUTER_CACHE_HEADER: 'x-router-cache',
  OPERATION_ID_HEADER: 'x-vtex-operation-id',
  PLATFORM_HEADER: 'x-vtex-platform',
  WORKSPACE_IS_PRODUCTION_HEADER: 'x-vtex-workspace-is-production',
  WORKSPACE_HEADER: 'x-vtex-workspace',
  EVENT_KEY_HEADER: 'x-event-key',
  EVENT_SENDER_HEADER: 'x-event-sender',
  EVENT_SUBJECT_HEADER: 'x-event-subject',
  EVENT_HANDLER_ID_HEADER: 'x-event-handler-id',
  COLOSSUS_ROUTE_DECLARER_HEADER: 'x-colossus-route-declarer',
  COLOSSUS_ROUTE_ID_HEADER: 'x-colossus-route-id',
  COLOSSUS_PARAMS_HEADER: 'x-colossus-params',
  TRACE_ID_HEADER: 'x-trace-id',
  PROVIDER_HEADER: 'x-vtex-provider',
}
const VALUES = {
  ...HEADERS,
  // The @vtex/api version the stand-in answers for.
  NODE_VTEX_API_VERSION: '6.51.3',
  DEFAULT_WORKSPACE: 'master',
  PID: process.pid,
  BODY_HASH: '__graphqlBodyHash',
  UP_SIGNAL: 'UP',
  MAX_AGE: Object.freeze({ LONG: 86400, MEDIUM: 3600, SHORT: 120 }),
  HTTP_SERVER_PORT: 5050,
  MAX_WORKERS: 4,
  PUBLIC_ENDPOINT: env.VTEX_PUBLIC_ENDPOINT || 'myvtex.com',
  INSPECT_DEBUGGER_PORT: 5858,
  cancellableMethods: new Set(['GET', 'OPTIONS', 'HEAD']),
  LOG_CLIENT_INIT_TIMEOUT_MS: 5000,
  TIMEOUT_CODE: 'ProxyTimeout',
  LOG_ONCE: 'logOnce',
  PICKED_AXIOS_PROPS: [
    'baseURL',
    'cacheable',
    'data',
    'finished',
    'headers',
    'method',
    'timeout',
    'status',
    'path',
    'url',
    'metric',
    'inflightKey',
    'forceMaxAge',
    'params',
    'responseType',
  ],
  SENSITIVE_EXCEPTION_FIELDS: ['config', 'request', 'stack'],
}
VALUES.PUBLIC_DOMAINS = [...new Set([VALUES.PUBLIC_ENDPOINT, 'myvtex.com', 'mygocommerce.com', 'vtexsmb.com'])]

/**
 * Values @vtex/api reads from the environment when it loads; getters here, since a standby
 * host learns the app's account and workspace only when it loads the app.
 */
const FROM_ENV = {
  ACCOUNT: () => env.VTEX_ACCOUNT,
  WORKSPACE: () => env.VTEX_WORKSPACE,
  NODE_ENV: () => env.NODE_ENV,
  IS_IO: () => env.VTEX_IO,
}

const LogLevel = Object.freeze({ Debug: 'debug', Info: 'info', Warn: 'warn', Error: 'error' })
const AuthType = Object.freeze({ basic: 'basic', bearer: 'bearer' })
const CacheType = Object.freeze({ None: 0, Memory: 1, Disk: 2, Any: 3 })
const BILLING_TYPE = Object.freeze({ FREE: 'free', BILLABLE: 'billable', SPONSORED: 'sponsored' })
const ContractStatus = Object.freeze({
  ACTIVE: 'active_contract',
  INACTIVE: 'inactive_contract',
  NO_CONTRACT: 'no_contract',
})

module.exports = {
  APP,
  LINKED,
  PRODUCTION,
  REGION,
  LogLevel,
  AuthType,
  CacheType,
  BILLING_TYPE,
  ContractStatus,
  VALUES,
  FROM_ENV,
}
