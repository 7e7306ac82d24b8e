'use strict'
// Module resolution for the app: `@vtex/api`, from anywhere (the app's node_modules included),
// is ioctl's stand-in; and a few packages apps use without declaring a copy ioctl could install
// (co-body) come from the runtime's package set when the app has no copy of its own. The app's
// own copy always wins, and ioctl's koa never leaks into the app's resolution. `graphql` and
// `graphql-tools` (with their subpaths) are always the runtime's copies, as in VTEX's runtime:
// graphql-js checks `instanceof` across its modules, so one process holds exactly one copy.

const Module = require('node:module')
const fs = require('node:fs')
const path = require('node:path')
const packages = require('../packages')

// Real path: the redirected requests and the host's own require share one module instance.
const VTEX_API_FILE = fs.realpathSync(path.join(__dirname, '..', 'vtex-api', 'index.js'))

/** Bare requests answered from the runtime's packages when the app's node_modules lack them. */
const FALLBACKS = new Set(['co-body'])

/** Packages the app always gets from the runtime's set (the schema is built with these). */
const SHARED = ['graphql', 'graphql-tools']

function sharedPackage(request) {
  return SHARED.find((name) => request === name || request.startsWith(`${name}/`))
}

function install() {
  const resolveFilename = Module._resolveFilename
  Module._resolveFilename = function resolveForApp(request, ...rest) {
    if (request === '@vtex/api' || request.startsWith('@vtex/api/')) return VTEX_API_FILE
    if (sharedPackage(request)) return packages.resolve(request)
    try {
      return resolveFilename.call(this, request, ...rest)
    } catch (err) {
      if (err && err.code === 'MODULE_NOT_FOUND' && FALLBACKS.has(request)) return packages.resolve(request)
      throw err
    }
  }
}

module.exports = { install, VTEX_API_FILE }
