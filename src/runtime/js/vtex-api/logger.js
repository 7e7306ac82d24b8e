'use strict'
// ctx.vtex.logger, and the global `metrics` object of a VTEX worker.

const util = require('node:util')
const hooks = require('./hooks')
const { LogLevel } = require('./constants')

/** What one logger call prints: strings as they are, errors by their stack, objects as JSON. */
function formatLogMessage(message) {
  if (typeof message === 'string') return message
  if (message instanceof Error) return message.stack || String(message)
  if (message === undefined || message === null || typeof message !== 'object') return String(message)
  try {
    return JSON.stringify(message)
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

module.exports = { formatLogMessage, Logger, MetricsAccumulator }
