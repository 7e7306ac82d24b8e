'use strict'
// The client base classes apps extend: IOClient, ExternalClient (real HTTP), and the clients of
// VTEX's own services (Janus, apps, infra), whose calls fail saying why; AppGraphQLClient,
// which reaches the GraphQL of another app linked into the same session; plus
// ctx.clients.events, the one built-in client ioctl emulates, through the host's socket.

const hooks = require('./hooks')
const { messageOf } = require('./errors')
const { HttpClient, RETRY_SETTINGS } = require('./http')
const { limiterFor } = require('./limiter')
const { LocalGraphQLClient } = require('./graphql_client')

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

class JanusClient extends IOClient {
  constructor(context, options = {}, environment) {
    super(context, options)
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

class AppGraphQLClient extends AppClient {
  constructor(app, context, options = {}) {
    super(app, context, options)
    this.graphql = new LocalGraphQLClient(app, context, options, this.constructor.name)
  }
}

/** ctx.clients.events: the one built-in client ioctl emulates, through the host's socket. */
class Events extends IOClient {
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
  AppGraphQLClient,
  UnreachableHttpClient,
  Events,
}
