'use strict'
// Logs: console.* and ctx.vtex.logger become `log` messages, attributed to the handler whose
// async context emitted them (an AsyncLocalStorage store of {handler, delivery, trace} set around
// each delivery and request: `trace` is the session's trace id of that request or attempt, which
// platform calls made in it carry back). Errors outside any handler are reported, and the
// process keeps running, as a VTEX worker does.

const util = require('node:util')
const { AsyncLocalStorage } = require('node:async_hooks')
const { formatLogMessage, holdsError } = require('../vtex-api/logger')
const messages = require('./messages')

/** Store of each delivery's or request's async context: {handler, delivery, trace}. */
const handlerContext = new AsyncLocalStorage()

/** Set by host.js: where log messages go (the transport's send). */
let sendMessage = () => {}

function setSink(send) {
  sendMessage = send
}

/** One log line, attributed to the current handler, if any. */
function log(level, message) {
  const store = handlerContext.getStore()
  sendMessage(messages.log(level, message, store ? store.handler : null, store ? store.delivery : null))
}

/** A log line that belongs to no handler, whatever async context it is emitted from. */
function logUnattributed(level, message) {
  sendMessage(messages.log(level, message, null, null))
}

const CONSOLE_LEVELS = { log: 'info', info: 'info', warn: 'warn', error: 'error', debug: 'debug' }

/**
 * console.* arguments as one line: errors, and objects holding errors, as the logger shows
 * them (message, status and stack, not util.inspect's dump of an axios error's request).
 */
function formatConsole(args) {
  const first = args.length > 0 && typeof args[0] === 'string' && args[0].includes('%') ? 1 : 0
  return util.format(...args.map((arg, i) => (i >= first && holdsError(arg) ? formatLogMessage(arg) : arg)))
}

/** console.* as log lines (Node's own console would write to stdout, unattributed). */
function captureConsole() {
  for (const [name, level] of Object.entries(CONSOLE_LEVELS)) {
    console[name] = function (...args) {
      log(level, formatConsole(args))
    }
  }
  console.trace = function trace(...args) {
    const trace = { name: 'Trace', message: util.format(...args) }
    Error.captureStackTrace(trace, console.trace)
    log('debug', trace.stack)
  }
}

/** Outside any handler, or left behind by one: reported, and the worker keeps running. */
function reportUncaught() {
  const report = (what, reason) => {
    const text = reason instanceof Error ? formatLogMessage(reason) : util.inspect(reason)
    logUnattributed('error', `${what}: ${text}`)
  }
  process.on('uncaughtException', (err) => report('Uncaught exception', err))
  process.on('unhandledRejection', (reason) => report('Unhandled promise rejection', reason))
}

/** The session's trace id of the request or delivery attempt running now (null outside one). */
function currentTrace() {
  const store = handlerContext.getStore()
  return store && store.trace != null ? store.trace : null
}

module.exports = {
  handlerContext,
  currentTrace,
  setSink,
  log,
  logUnattributed,
  formatConsole,
  captureConsole,
  reportUncaught,
}
