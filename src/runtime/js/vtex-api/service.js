'use strict'
// The Service declaration, and method(): a route middleware dispatching on the HTTP verb.
// Middleware chains are composed with koa-compose, as @vtex/api does.

const util = require('node:util')
const koaCompose = require('../packages').load('koa-compose')

class Service {
  constructor(config = {}) {
    this.config = config
  }
}

/**
 * One handler or an array of them, as a single Koa middleware. `label` names the chain in the
 * TypeError raised for an entry that is not a function (koa-compose's own message names none).
 */
function compose(middleware, label = 'middleware') {
  const chain = Array.isArray(middleware) ? middleware : [middleware]
  chain.forEach((fn, i) => {
    if (typeof fn !== 'function') {
      const where = chain.length > 1 ? `${label}[${i}]` : label
      throw new TypeError(`${where} must be a function, got ${util.inspect(fn, { depth: 0 })}`)
    }
  })
  return koaCompose(chain)
}

/** `method({GET: [...], POST: fn})`: runs the chain of the request's verb; 405 otherwise. */
function method(handlers) {
  const byVerb = {}
  for (const [verb, chain] of Object.entries(handlers || {})) {
    byVerb[verb.toUpperCase()] = compose(chain, `method().${verb.toUpperCase()}`)
  }
  return async function methodMiddleware(ctx, next) {
    const verb = String(ctx.method || '').toUpperCase()
    const handler = Object.prototype.hasOwnProperty.call(byVerb, verb) ? byVerb[verb] : undefined
    if (handler) {
      await handler(ctx, next)
      return
    }
    ctx.status = 405
    if (typeof ctx.set === 'function') ctx.set('Allow', Object.keys(byVerb).join(', '))
  }
}

module.exports = { Service, compose, method }
