'use strict'
// Module resolution for the app: `@vtex/api` and `@vtex/clients`, from anywhere (the app's
// node_modules included), are ioctl's stand-ins; and a few packages apps use without declaring a copy ioctl could install
// (co-body) come from the runtime's package set when the app has no copy of its own. The app's
// own copy always wins, and ioctl's koa never leaks into the app's resolution. `graphql` and
// `graphql-tools` (with their subpaths) are always the runtime's copies, as in VTEX's runtime:
// graphql-js checks `instanceof` across its modules, so one process holds exactly one copy.

const Module = require('node:module')
const fs = require('node:fs')
const path = require('node:path')
const packages = require('../packages')
const preload = require('./preload')

// Real path: the redirected requests and the host's own require share one module instance.
const VTEX_API_FILE = fs.realpathSync(path.join(__dirname, '..', 'vtex-api', 'index.js'))
const VTEX_CLIENTS_FILE = fs.realpathSync(path.join(__dirname, '..', 'vtex-clients', 'index.js'))

/** Bare requests answered from the runtime's packages when the app's node_modules lack them. */
const FALLBACKS = new Set(['co-body'])

/**
 * Packages `@vtex/api` depends on: on VTEX an app that requires one without declaring it still
 * gets it (through @vtex/api's dependencies). Here it comes from the runtime's package set,
 * with one warning per package, since it works on VTEX only by that accident. prom-client is
 * one (@vtex/api 6.51.3 depends on ^14.2.0 and re-exports it as `promclient`): apps count
 * their own metrics with it.
 */
const BROUGHT_BY_VTEX_API = new Set([
  'axios',
  'bluebird',
  'fs-extra',
  'mime-types',
  'p-limit',
  'prom-client',
  'qs',
  'ramda',
  'semver',
  'uuid',
])

let warn = () => {}
const warned = new Set()

/** Where the warnings about undeclared packages go (the host's log, once it is set up). */
function onUndeclared(sink) {
  warn = sink
}

/** `ramda/src/map` → `ramda`, `@scope/pkg/x` → `@scope/pkg`. */
function packageName(request) {
  const parts = request.split('/')
  return request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

/** The dependencies node/package.json declares (none when it is missing or unreadable). */
function declared() {
  const root = process.env.IOCTL_APP_ROOT
  if (!root) return {}
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'node', 'package.json'), 'utf8'))
    return { ...(pkg.devDependencies || {}), ...(pkg.peerDependencies || {}), ...(pkg.dependencies || {}) }
  } catch {
    return {}
  }
}

function noticeUndeclared(name, parent) {
  // VTEX's own packages (the app's real @vtex/clients) get these through @vtex/api, their peer,
  // on VTEX too: nothing the app should declare.
  if (parent && parent.filename && parent.filename.includes(`${path.sep}node_modules${path.sep}@vtex${path.sep}`))
    return
  if (warned.has(name)) return
  warned.add(name)
  const root = process.env.IOCTL_APP_ROOT || ''
  const from = parent && parent.filename ? path.relative(root, parent.filename) : 'the app'
  const text = Object.prototype.hasOwnProperty.call(declared(), name)
    ? `${from} imports ${name}, which node/package.json declares but node/node_modules lacks: using ioctl's copy — run \`npm install\` in node/`
    : `${from} imports ${name}, which node/package.json does not declare; it resolves on VTEX only through @vtex/api — add it to dependencies`
  warn(text)
}

/** Packages the app always gets from the runtime's set (the schema is built with these). */
const SHARED = ['graphql', 'graphql-tools']

function sharedPackage(request) {
  return SHARED.find((name) => request === name || request.startsWith(`${name}/`))
}

function install() {
  const resolveFilename = Module._resolveFilename
  const appRoot = process.env.IOCTL_APP_ROOT
  Module._resolveFilename = function resolveForApp(request, ...rest) {
    const resolved = resolveRequest.call(this, request, rest)
    preload.noteRequest(request, rest[0], resolved, appRoot)
    return resolved
  }

  function resolveRequest(request, rest) {
    if (request === '@vtex/api' || request.startsWith('@vtex/api/')) return VTEX_API_FILE
    if (request === '@vtex/clients' || request.startsWith('@vtex/clients/')) return VTEX_CLIENTS_FILE
    if (sharedPackage(request)) return packages.resolve(request)
    try {
      return resolveFilename.call(this, request, ...rest)
    } catch (err) {
      if (err && err.code === 'MODULE_NOT_FOUND') {
        const name = packageName(request)
        if (FALLBACKS.has(name)) return packages.resolve(request)
        if (BROUGHT_BY_VTEX_API.has(name)) {
          const resolved = packages.resolve(request)
          noticeUndeclared(name, rest[0])
          return resolved
        }
      }
      throw err
    }
  }
}

module.exports = { install, onUndeclared, packageName, BROUGHT_BY_VTEX_API, VTEX_API_FILE, VTEX_CLIENTS_FILE }
