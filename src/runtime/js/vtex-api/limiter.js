'use strict'
// Concurrency limits: the Limiter (at most N operations at once, first come first served) and
// the one limiter per client name per Service that `concurrency` in clients.options sets.

/** At most `max` operations at once; the others wait their turn, first come first served. */
class Limiter {
  constructor(max) {
    this.max = max
    this.running = 0
    this.waiting = []
  }

  async run(operation) {
    if (this.running < this.max) this.running += 1
    else await new Promise((resolve) => this.waiting.push(resolve))
    try {
      return await operation()
    } finally {
      const next = this.waiting.shift()
      if (next)
        next() // the slot passes straight to the next in line
      else this.running -= 1
    }
  }
}

// IOClients is built afresh for every request and event delivery, so a limiter owned by one
// client instance would only see that request's calls and `concurrency` would limit nothing
// app-wide. IOClients.getOrSet therefore tags the options it hands a client with a key object
// that is the same for every IOClients built from the same `clients.options` object and client
// name: one limiter per client name per Service. The tag is an enumerable symbol so that the
// usual `super(url, context, { ...options, headers })` keeps it. A client constructed with
// hand-made options shares by the identity of that options object. The first `concurrency`
// seen for a key sets its limit. (@vtex/api keeps a limiter per HttpClient instance; sharing it
// is ioctl's choice, so that the limit a developer sets is one they can observe locally.)
const LIMITER_KEY = Symbol('ioctl.limiterKey')
const limiterKeys = new WeakMap() // clients.options object -> Map(client name -> key object)
const limiters = new WeakMap() // key object (or options object) -> Limiter

function limiterKeyFor(clientOptions, name) {
  let byName = limiterKeys.get(clientOptions)
  if (!byName) limiterKeys.set(clientOptions, (byName = new Map()))
  if (!byName.has(name)) byName.set(name, { client: name })
  return byName.get(name)
}

/** The shared Limiter for these options, or undefined without a positive `concurrency`. */
function limiterFor(options) {
  const max = Math.floor(Number(options && options.concurrency))
  if (!(max >= 1)) return undefined
  const key = options[LIMITER_KEY] || options
  let limiter = limiters.get(key)
  if (!limiter) limiters.set(key, (limiter = new Limiter(max)))
  return limiter
}

module.exports = { Limiter, LIMITER_KEY, limiterKeyFor, limiterFor }
