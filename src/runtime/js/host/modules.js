'use strict'
// Module resolution for the app: `@vtex/api` and `@vtex/clients`, from anywhere (the app's
// node_modules included), are ioctl's stand-ins; and a few packages apps use without declaring a copy ioctl could install
// (co-body) come from the runtime's package set when the app has no copy of its own. The app's
// own copy always wins, and ioctl's koa never leaks into the app's resolution.

const Module = require('node:module')
const fs = require('node:fs')
const path = require('node:path')
const packages = require('../packages')

// Real path: the redirected requests and the host's own require share one module instance.
const VTEX_API_FILE = fs.realpathSync(path.join(__dirname, '..', 'vtex-api', 'index.js'))
const VTEX_CLIENTS_FILE = fs.realpathSync(path.join(__dirname, '..', 'vtex-clients', 'index.js'))

/** Bare requests answered from the runtime's packages when the app's node_modules lack them. */
const FALLBACKS = new Set(['co-body'])

function install() {
  const resolveFilename = Module._resolveFilename
  Module._resolveFilename = function resolveForApp(request, ...rest) {
    if (request === '@vtex/api' || request.startsWith('@vtex/api/')) return VTEX_API_FILE
    if (request === '@vtex/clients' || request.startsWith('@vtex/clients/')) return VTEX_CLIENTS_FILE
    try {
      return resolveFilename.call(this, request, ...rest)
    } catch (err) {
      if (err && err.code === 'MODULE_NOT_FOUND' && FALLBACKS.has(request)) return packages.resolve(request)
      throw err
    }
  }
}

module.exports = { install, VTEX_API_FILE, VTEX_CLIENTS_FILE }
