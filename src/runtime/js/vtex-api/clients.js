'use strict'
// The client base classes apps extend, as @vtex/api builds them: IOClient (its `this.http` an
// HttpClient carrying VTEX's headers from the IOContext), ExternalClient, JanusClient (VTEX's
// API gateway), AppClient and InfraClient (VTEX IO apps and infra services), GraphQLClient and
// AppGraphQLClient; plus ctx.clients.events, through the host's socket. Every call to a VTEX
// host crosses ioctl's boundary (http.js → boundary.js): an app linked in the workspace, a local
// service, a fixture, the developer's account (--cloud), or an error saying how to answer it.
// The class hierarchy is @vtex/api's: JanusClient is an ExternalClient, AppGraphQLClient an
// IOGraphQLClient, so that `instanceof` checks apps make hold.

const hooks = require('./hooks')
const { messageOf } = require('./errors')
const { lazy } = require('./lazy')
const { limiterFor } = require('./limiter')
const { formatBindingHeaderValue, formatTenantHeaderValue } = require('./utils')

/**
 * Symbol on the options IOClients.getOrSet hands a client: its key in ctx.clients, which names
 * its calls across the boundary (`ctx.clients.tenant.info`). Enumerable, so that the usual
 * `super(context, { ...options, headers })` keeps it.
 */
const CLIENT_KEY = Symbol('ioctl.clientKey')

/** Loaded with the first client made (node:stream, retries, axios on first call; GraphQL errors). */
const parts = {}
lazy(parts, 'http', () => require('./http'))
lazy(parts, 'outbound', () => require('./outbound'))
lazy(parts, 'graphqlErrors', () => require('./graphql_client'))

/**
 * The headers @vtex/api's HttpClient sends from a client's IOContext (each only when the context
 * has the value), over the client's own `headers` option.
 */
function contextHeaders(context) {
  const c = context || {}
  const headers = { 'Accept-Encoding': 'gzip' }
  if (c.userAgent) headers['User-Agent'] = c.userAgent
  if (c.host) headers['x-forwarded-host'] = c.host
  if (c.tenant) headers['x-vtex-tenant'] = formatTenantHeaderValue(c.tenant)
  if (c.binding) headers['x-vtex-binding'] = formatBindingHeaderValue(c.binding)
  if (c.locale) headers['x-vtex-locale'] = c.locale
  if (c.operationId) headers['x-vtex-operation-id'] = c.operationId
  if (c.product) headers['x-vtex-product'] = c.product
  if (c.segmentToken) headers['x-vtex-segment'] = c.segmentToken
  if (c.sessionToken) headers['x-vtex-session'] = c.sessionToken
  return headers
}

/** `this.http` of `client`, as @vtex/api's IOClient makes it from the context and options. */
function httpFor(client, context, options) {
  const { HttpClient, RETRY_SETTINGS } = parts.http
  const headers = { ...options.headers, ...contextHeaders(context) }
  // AppClient and InfraClient authenticate as the app (`Authorization: bearer {authToken}`).
  if (options.authType && context && context.authToken)
    headers.Authorization = `${options.authType} ${context.authToken}`
  return new HttpClient({
    baseURL: options.baseURL,
    headers,
    params: options.params,
    timeout: options.timeout,
    ...Object.fromEntries(RETRY_SETTINGS.map((name) => [name, options[name]])),
    name: client.constructor.name || 'IOClient',
    limiter: limiterFor(options),
    owner: client,
    clientKey: options[CLIENT_KEY],
    app: options.app,
  })
}

/** Base of every client: what `getOrSet` constructs as `new Implementation(context, options)`. */
class IOClient {
  constructor(context, options = {}) {
    this.context = context
    this.options = options
    this.http = httpFor(this, context, options || {})
  }
}

const ABSOLUTE_URL = /^[a-z][a-z\d+\-.]*:\/\//i

class ExternalClient extends IOClient {
  constructor(baseURL, context, options = {}) {
    const url = ABSOLUTE_URL.test(baseURL || '') ? baseURL : baseURL && `http://${baseURL}`
    const headers = { ...(options && options.headers) }
    // On VTEX every external call carries the app's token for VTEX's outbound proxy, which
    // keeps it: a host outside VTEX never sees it, so locally only VTEX's hosts get it.
    if (url && parts.outbound.isVtexUrl(url) && context && context.authToken) {
      headers['Proxy-Authorization'] = context.authToken
    }
    super(context, { ...options, baseURL: url, headers })
    this.baseURL = baseURL
  }
}

/** VTEX's API gateway (`http://portal.vtexcommercestable.com.br`, `an={account}` on every call). */
class JanusClient extends ExternalClient {
  constructor(context, options = {}, environment) {
    const env = (context && context.janusEnv === 'beta') || environment === 'beta' ? 'beta' : 'stable'
    const params = { an: context && context.account, ...(options && options.params) }
    super(`http://portal.vtexcommerce${env}.com.br`, context, { ...options, params })
    this.environment = environment
  }
}

/** `{vendor, name, major}` of an app locator (`vendor.name@1.x`; major null without a version). */
function parseLocator(app, client) {
  const match = /^([\w-]+)\.([\w-]+)(?:@(\d+)(?:\.[^.]*)*)?$/.exec(String(app || ''))
  if (!match) {
    throw new TypeError(
      `${client}: the app must be 'vendor.name@major.x' (e.g. 'vtex.search-graphql@0.x'), got ${JSON.stringify(app)}`,
    )
  }
  return { vendor: match[1], name: match[2], major: match[3] === undefined ? null : match[3] }
}

/**
 * Where a VTEX IO app answers an app of `context`'s account and workspace:
 * `http://app.io.vtex.com/{vendor}.{name}/v{major}/{account}/{workspace}` (http, as inside
 * VTEX IO), or the old routing `http://{name}.{vendor}.{region}.vtex.io/{account}/{workspace}`
 * of a locator without a major.
 */
function appBaseURL(app, context, client) {
  const { vendor, name, major } = parseLocator(app, client)
  const account = (context && context.account) || process.env.VTEX_ACCOUNT
  const workspace = (context && context.workspace) || process.env.VTEX_WORKSPACE
  if (major === null) {
    const region = (context && context.region) || 'aws-us-east-1'
    return `http://${name}.${vendor}.${region}.vtex.io/${account}/${workspace}`
  }
  return `http://app.io.vtex.com/${vendor}.${name}/v${major}/${account}/${workspace}`
}

class AppClient extends IOClient {
  constructor(app, context, options = {}) {
    const baseURL = appBaseURL(app, context, new.target.name || 'AppClient')
    super(context, { ...options, authType: 'bearer', baseURL, app })
    this.app = app
  }
}

/** VTEX's infra services (`http://infra.io.vtex.com/{app}/v{major}/{account}/{workspace}`). */
class InfraClient extends IOClient {
  constructor(app, context, options = {}, isRoot = false) {
    const [name, version] = String(app).split('@')
    const c = context || {}
    const scope = isRoot ? '' : `/${c.account}/${c.workspace}`
    const baseURL = version
      ? `http://infra.io.vtex.com/${name}/v${version.split('.')[0]}${scope}`
      : `http://platform.io.vtex.com${scope}`
    super(context, { ...options, authType: 'bearer', baseURL })
    this.app = app
    this.isRoot = isRoot
  }
}

/**
 * GraphQL over an HttpClient: `{query, variables}` in a POST (@vtex/api sends queries as a GET
 * with a body; a POST carries the same, and every GraphQL server reads it), rejecting on
 * GraphQL errors unless `throwOnError: false`.
 */
class GraphQLClient {
  constructor(http) {
    this.http = http
    const settle = (throwOnError) => (response) => {
      if (throwOnError === false || !response || !Array.isArray(response.errors) || !response.errors.length) {
        return response
      }
      const { GraphQLErrors } = parts.graphqlErrors
      throw new GraphQLErrors((http && http.name) || 'GraphQLClient', http && http.app, response.errors)
    }
    this.query = ({ query, variables, extensions, throwOnError }, config = {}) =>
      this.http.post(config.url || '', { query, variables, extensions }, config).then(settle(throwOnError))
    this.mutate = ({ mutate, variables, throwOnError }, config = {}) =>
      this.http.post(config.url || '', { query: mutate, variables }, config).then(settle(throwOnError))
  }
}

class IOGraphQLClient extends IOClient {
  constructor(context, options = {}) {
    super(context, options)
    this.graphql = new GraphQLClient(this.http)
  }
}

/** Another VTEX IO app's GraphQL, at `{the app's base}/_v/graphql`: a linked app answers it locally. */
class AppGraphQLClient extends IOGraphQLClient {
  constructor(app, context, options = {}) {
    const baseURL = `${appBaseURL(app, context, new.target.name || 'AppGraphQLClient')}/_v/graphql`
    super(context, { ...options, authType: 'bearer', baseURL, app })
    this.app = app
  }
}

/** ctx.clients.events: the one built-in client ioctl emulates, through the host's socket. */
class Events extends InfraClient {
  constructor(context, options = {}) {
    super('courier@0.x', context, options)
  }

  sendEvent(subject, route, message) {
    // Created now so that a failure's stack points at the app's call site.
    const failure = new Error()
    Error.captureStackTrace(failure, Events.prototype.sendEvent)
    return hooks.sendEvent(subject, route, message).then(
      () => undefined,
      (reason) => {
        failure.message = `sendEvent('${subject}', '${route}') failed: ${messageOf(reason)}`
        throw failure
      },
    )
  }
}

module.exports = {
  IOClient,
  ExternalClient,
  JanusClient,
  AppClient,
  InfraClient,
  GraphQLClient,
  IOGraphQLClient,
  AppGraphQLClient,
  Events,
  CLIENT_KEY,
  contextHeaders,
  appBaseURL,
}
