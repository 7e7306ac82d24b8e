'use strict'
// AppGraphQLClient's `graphql`: calls another app's GraphQL. Locally the other app is one
// linked into the same session: the request goes to the session (IOCTL_SESSION_URL, with its
// token: the endpoint is private, as on VTEX) at the path apps use on VTEX,
// /{vendor}.{name}/v{major}/{account}/{workspace}/_v/graphql.

const { messageOf } = require('./errors')

/** 'vendor.name@1.x' -> { id: 'vendor.name', major: '1' }. */
function parseAppLocator(app) {
  const match = /^([\w-]+\.[\w-]+)@(\d+)(?:\.|$)/.exec(String(app || ''))
  if (!match) {
    throw new TypeError(
      `AppGraphQLClient: app must be 'vendor.name@major.x' (e.g. 'vtex.store-graphql@2.x'), got ${JSON.stringify(app)}`,
    )
  }
  return { id: match[1], major: match[2] }
}

/** A response with GraphQL errors, as @vtex/api throws it unless `throwOnError: false`. */
class GraphQLErrors extends Error {
  constructor(client, app, errors) {
    super(`${client}: GraphQL errors from ${app}: ${errors.map((e) => messageOf(e)).join('; ')}`)
    this.name = 'GraphQLErrors'
    this.graphQLErrors = errors
  }
}

class LocalGraphQLClient {
  constructor(app, context = {}, options = {}, clientName = 'AppGraphQLClient') {
    this.app = app
    this.context = context
    this.options = options
    this.clientName = clientName
  }

  /** The session URL of the app's endpoint. */
  url() {
    const session = process.env.IOCTL_SESSION_URL
    if (!session) {
      throw new Error(
        `${this.clientName}: GraphQL calls to ${this.app} reach apps linked with ioctl; this process is not under an ioctl session`,
      )
    }
    const { id, major } = parseAppLocator(this.app)
    const account = this.context.account || process.env.VTEX_ACCOUNT
    const workspace = this.context.workspace || process.env.VTEX_WORKSPACE
    return `${session}/${id}/v${major}/${account}/${workspace}/_v/graphql`
  }

  query(options = {}, config = {}) {
    return this.request(options, config)
  }

  mutate(options = {}, config = {}) {
    const { mutate, ...rest } = options
    return this.request({ ...rest, query: options.query || mutate }, config)
  }

  async request({ query, variables, extensions, throwOnError }, config = {}) {
    const url = this.url()
    const timeout = config.timeout || this.options.timeout
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      Authorization: `Bearer ${process.env.IOCTL_SESSION_TOKEN || ''}`,
      ...(this.options.headers || {}),
      ...(config.headers || {}),
    }
    let res
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables, extensions }),
        signal: timeout ? AbortSignal.timeout(timeout) : undefined,
      })
    } catch (err) {
      throw new Error(`${this.clientName}: GraphQL request to ${this.app} failed: ${messageOf(err.cause || err)}`)
    }
    const text = await res.text()
    let body
    try {
      body = JSON.parse(text)
    } catch {
      const err = new Error(`${this.clientName}: ${this.app} answered ${res.status}: ${text.trim()}`)
      err.response = { status: res.status, data: text }
      throw err
    }
    const errors = Array.isArray(body.errors) ? body.errors : []
    if (errors.length > 0 && throwOnError !== false) throw new GraphQLErrors(this.clientName, this.app, errors)
    return body
  }
}

module.exports = { LocalGraphQLClient, GraphQLErrors, parseAppLocator }
