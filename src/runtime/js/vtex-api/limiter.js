'use strict'
// `concurrency` in clients.options: the p-limit (the package @vtex/api limits each HttpClient
// with) shared by every client of one name in a Service.

const packages = require('../packages')

// IOClients is built afresh for every request and event delivery, so a limit owned by one
// client instance would only see that request's calls and `concurrency` would limit nothing
// app-wide. IOClients.getOrSet therefore tags the options it hands a client with a key object
// that is the same for every IOClients built from the same `clients.options` object and client
// name: one limit per client name per Service. The tag is an enumerable symbol so that the
// usual `super(url, context, { ...options, headers })` keeps it. A client constructed with
// hand-made options shares by the identity of that options object. The first `concurrency`
// seen for a key sets its limit. (@vtex/api keeps a limit per HttpClient instance; sharing it
// is ioctl's choice, so that the limit a developer sets is one they can observe locally.)
const LIMITER_KEY = Symbol('ioctl.limiterKey')
const limiterKeys = new WeakMap() // clients.options object -> Map(client name -> key object)
const limiters = new WeakMap() // key object (or options object) -> p-limit's `limit`

function limiterKeyFor(clientOptions, name) {
  let byName = limiterKeys.get(clientOptions)
  if (!byName) limiterKeys.set(clientOptions, (byName = new Map()))
  if (!byName.has(name)) byName.set(name, { client: name })
  return byName.get(name)
}

/**
 * The shared p-limit `limit(operation)` for these options (at most `concurrency` operations at
 * once, the others in arrival order), or undefined without a `concurrency` of 1 or more.
 */
function limiterFor(options) {
  const max = Math.floor(Number(options && options.concurrency))
  if (!(max >= 1)) return undefined
  const key = options[LIMITER_KEY] || options
  let limit = limiters.get(key)
  if (!limit) limiters.set(key, (limit = packages.loadForApp('p-limit')(max)))
  return limit
}

module.exports = { LIMITER_KEY, limiterKeyFor, limiterFor }
