'use strict'
// Event deliveries: run the Service's handler for one `deliver` message, inside the handler's
// log attribution and its attempt's trace (platform calls made in it carry it), and answer
// with a `result` (ok, elapsed time, or the error).

const vtexApi = require('../vtex-api')
const { createClients, ioContext, randomId } = require('./context')
const { errorInfo } = require('./errors')
const { handlerContext } = require('./logging')
const messages = require('./messages')
const { loaded } = require('./service')
const { fillSettings } = require('./settings')

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key)

/** The ctx an event handler gets. */
function eventContext(service, handler, event) {
  const vtex = ioContext({ id: handler, type: 'event', params: {} }, randomId())
  vtex.eventInfo = { id: event.id, key: event.key, sender: event.sender, subject: event.subject }
  return {
    body: event.body,
    key: event.key,
    sender: event.sender,
    subject: event.subject,
    clients: createClients(service, vtex),
    state: {},
    vtex,
    timings: {},
    metrics: {},
  }
}

async function runHandler(service, handler, event) {
  const events = service.config.events || {}
  if (!hasOwn(events, handler)) {
    const known = Object.keys(events).join(', ') || 'none'
    const err = new Error(`no event handler "${handler}" in the Service's events (it declares ${known})`)
    // ioctl's own frames would only mislead: the cause is the app's declaration.
    err.stack = `Error: ${err.message}`
    throw err
  }
  const chain = eventChain(events, handler)
  const ctx = eventContext(service, handler, event || {})
  const filling = fillSettings('events', handler, ctx)
  if (filling !== null) await filling
  await chain(ctx)
}

/** handler id -> its composed middleware, made on first delivery (a process loads one Service). */
const eventChains = new Map()

function eventChain(events, handler) {
  let chain = eventChains.get(handler)
  if (!chain) {
    chain = vtexApi.__ioctl.compose(events[handler], `events.${handler}`)
    eventChains.set(handler, chain)
  }
  return chain
}

/** Answers one `deliver` message with its `result` through `send`. */
async function deliver({ delivery, handler, event, trace }, send) {
  if (!loaded.service || loaded.state !== 'loaded') {
    // ioctl only delivers after `loaded`: still answer, so it never waits.
    const why = loaded.state === 'failed' ? 'the service failed to load' : 'the service is not loaded yet'
    send(messages.result(delivery, 0, errorInfo(new Error(why))))
    return
  }
  const started = performance.now()
  let failure = null
  try {
    await handlerContext.run({ handler, delivery, trace: trace == null ? null : trace }, () =>
      runHandler(loaded.service, handler, event),
    )
  } catch (err) {
    failure = errorInfo(err)
  }
  send(messages.result(delivery, Math.round((performance.now() - started) * 1000) / 1000, failure))
}

module.exports = { deliver }
