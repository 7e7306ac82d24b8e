'use strict'
// The client base classes apps extend: IOClient, ExternalClient (real HTTP), GraphQLClient, and
// the clients of VTEX's own services (Janus, apps, infra), whose calls fail saying why;
// AppGraphQLClient, which reaches the GraphQL of another app linked into the same session; plus
// ctx.clients.events, the one built-in client ioctl emulates, through the host's socket.
// The class hierarchy is @vtex/api's: JanusClient is an ExternalClient, AppGraphQLClient an
// IOGraphQLClient, so that `instanceof` checks apps make hold.

const hooks = require('./hooks')
const { messageOf } = require('./errors')
const { lazy } = require('./lazy')
const { limiterFor } = require('./limiter')

/** Loaded with the first client that needs them (node:stream, timers, retries; GraphQL). */
const parts = {}
lazy(parts, 'http', () => require('./http'))
lazy(parts, 'graphqlClient', () => require('./graphql_client'))

/** `this.http` of clients that would call VTEX's own services: every call rejects with why. */
class UnreachableHttpClient {
  constructor(owner, target) {
    const fail = (verb) => (url) =>
      Promise.reject(
        new Error(
          `${owner}: ${verb} ${url} goes to ${target}, which is part of VTEX's cloud ` +
            'and not reachable when ioctl runs the service locally',
        ),
      )
    const methods = ['get', 'getRaw', 'getBuffer', 'getStream', 'getWithBody', 'post', 'postRaw']
    for (const name of [...methods, 'put', 'putRaw', 'patch', 'head', 'delete']) {
      this[name] = fail(name.replace(/Raw|Buffer|Stream|WithBody/, '').toUpperCase())
    }
    this.request = (config = {}) => fail(String(config.method || 'get').toUpperCase())(config.url)
  }
}

/** Base of every client: what `getOrSet` constructs as `new Implementation(context, options)`. */
class IOClient {
  constructor(context, options = {}) {
    this.context = context
    this.options = options
  }
}

class ExternalClient extends IOClient {
  constructor(baseURL, context, options = {}) {
    super(context, options)
    this.baseURL = baseURL
    const { HttpClient, RETRY_SETTINGS } = parts.http
    this.http = new HttpClient({
      baseURL: /^[a-z][a-z\d+\-.]*:\/\//i.test(baseURL || '') ? baseURL : baseURL && `http://${baseURL}`,
      headers: options.headers,
      params: options.params,
      timeout: options.timeout,
      ...Object.fromEntries(RETRY_SETTINGS.map((name) => [name, options[name]])),
      userAgent: context && context.userAgent,
      name: this.constructor.name || 'ExternalClient',
      limiter: limiterFor(options),
    })
  }
}

class JanusClient extends ExternalClient {
  constructor(context, options = {}, environment) {
    super(`http://portal.vtexcommerce${environment || 'stable'}.com.br`, context, options)
    this.environment = environment
    this.http = new UnreachableHttpClient(this.constructor.name, "VTEX's Janus API gateway")
  }
}

class AppClient extends IOClient {
  constructor(app, context, options = {}) {
    super(context, options)
    this.app = app
    this.http = new UnreachableHttpClient(this.constructor.name, `the VTEX IO app ${app}`)
  }
}

class InfraClient extends IOClient {
  constructor(app, context, options = {}, isRoot = false) {
    super(context, options)
    this.app = app
    this.isRoot = isRoot
    this.http = new UnreachableHttpClient(this.constructor.name, `the VTEX infra service ${app}`)
  }
}

/** GraphQL over an HttpClient: POSTs `{query, variables}`, rejecting on GraphQL errors. */
class GraphQLClient {
  constructor(http) {
    this.http = http
    const settle = (throwOnError) => (response) => {
      if (throwOnError === false || !response || !Array.isArray(response.errors) || !response.errors.length) {
        return response
      }
      const err = new Error(`${(http && http.name) || 'GraphQLClient'}: ${response.errors[0].message}`)
      err.graphQLErrors = response.errors
      throw err
    }
    // @vtex/api sends queries as GET with a body, which fetch cannot send: POST carries the same.
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

class AppGraphQLClient extends IOGraphQLClient {
  constructor(app, context, options = {}) {
    super(context, options)
    this.app = app
    this.http = new UnreachableHttpClient(this.constructor.name, `the VTEX IO app ${app}`)
    const { LocalGraphQLClient } = parts.graphqlClient
    this.graphql = new LocalGraphQLClient(app, context, options, this.constructor.name)
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
  UnreachableHttpClient,
  Events,
}
