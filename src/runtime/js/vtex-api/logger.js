'use strict'
// ctx.vtex.logger, and the global `metrics` object of a VTEX worker.

const util = require('node:util')
const hooks = require('./hooks')
const { LogLevel } = require('./constants')

/** The HTTP status an error carries: an axios-like `response.status`, else `status`/`statusCode`. */
function errorStatus(err) {
  const status = (err.response && err.response.status) || err.status || err.statusCode
  return typeof status === 'number' || typeof status === 'string' ? status : undefined
}

const MAX_BODY = 500

/**
 * An error as a log shows it: its stack (source-mapped: node runs with --enable-source-maps)
 * with the status in its first line, and the body of the answer that failed, if any.
 */
function describeError(err) {
  const header = `${err.name || 'Error'}: ${err.message}`
  let text = typeof err.stack === 'string' && err.stack ? err.stack : header
  const status = errorStatus(err)
  if (status !== undefined) {
    text = text.startsWith(header)
      ? `${header} (status ${status})${text.slice(header.length)}`
      : `${text}\n    status: ${status}`
  }
  const data = err.response && err.response.data
  if (data !== undefined && data !== null && data !== '' && typeof data.pipe !== 'function') {
    let body = typeof data === 'string' ? data : util.inspect(data, { depth: 3, breakLength: Infinity })
    if (body.length > MAX_BODY) body = `${body.slice(0, MAX_BODY)}… (${body.length} characters)`
    text += `\n    response body: ${body}`
  }
  return text
}

/** Whether `value` is an Error, or an object holding one within a few levels. */
function holdsError(value, depth = 3, seen = new Set()) {
  if (value instanceof Error) return true
  if (depth === 0 || value === null || typeof value !== 'object' || seen.has(value)) return false
  seen.add(value)
  return Object.values(value).some((v) => holdsError(v, depth - 1, seen))
}

/**
 * An object as JSON, each error in it as `{name, message, status}`, their stacks after it:
 * `{"content":{"name":"Error","message":"boom","status":404}}` then `Error: boom (status 404)...`.
 * (JSON.stringify alone prints an error as `{}`.)
 */
function stringifyWithErrors(message) {
  const errors = []
  const json = JSON.stringify(message, function replace(_key, value) {
    if (!(value instanceof Error)) return value
    if (!errors.includes(value)) errors.push(value)
    const { name, message: text } = value
    const fields = { name: name || 'Error', message: text, status: errorStatus(value) }
    // Own fields the app set (code, details...), but not what the stack already shows.
    for (const [k, v] of Object.entries(value)) {
      if (!(k in fields) && !['response', 'config', 'request', 'stack'].includes(k)) fields[k] = v
    }
    return fields
  })
  return [json, ...errors.map(describeError)].join('\n')
}

/** What one logger call prints: strings as they are, errors by their stack, objects as JSON. */
function formatLogMessage(message) {
  if (typeof message === 'string') return message
  if (message instanceof Error) return describeError(message)
  if (message === undefined || message === null || typeof message !== 'object') return String(message)
  try {
    return holdsError(message) ? stringifyWithErrors(message) : JSON.stringify(message)
  } catch {
    // Circular structures, BigInt: fall back to what console would print.
    return util.inspect(message, { depth: 4, breakLength: Infinity })
  }
}

/** Each call becomes one log line for ioctl. Methods are bound (apps destructure them). */
class Logger {
  constructor(ctx) {
    this.ctx = ctx
    this.debug = (message) => this.log(message, LogLevel.Debug)
    this.info = (message) => this.log(message, LogLevel.Info)
    this.warn = (message) => this.log(message, LogLevel.Warn)
    this.error = (message) => this.log(message, LogLevel.Error)
  }

  log(message, level = LogLevel.Info) {
    hooks.log(level, formatLogMessage(message))
  }
}

/** Nothing is exported locally; caches are only remembered. */
class MetricsAccumulator {
  constructor() {
    this.caches = new Map()
    this.onFlush = []
  }
  trackCache(name, cache) {
    this.caches.set(name, cache)
  }
  batch() {}
  batchMetric() {}
  addOnFlushMetric(fn) {
    if (typeof fn === 'function') this.onFlush.push(fn)
  }
  statusTrack() {
    return []
  }
}

module.exports = { formatLogMessage, describeError, holdsError, Logger, MetricsAccumulator }
