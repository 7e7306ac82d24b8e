'use strict'
// The npm packages of ioctl's runtime (koa and its companions, pinned by package.json and
// package-lock.json beside this file). ioctl installs them once into its cache and points
// IOCTL_RUNTIME_MODULES at that node_modules; they are required by absolute path from there, so
// an app's own node_modules (another koa, say) can neither shadow them nor be shadowed by them.
// Without IOCTL_RUNTIME_MODULES (the unit tests) they come from ./node_modules (`npm ci` here).

const path = require('node:path')

const MODULES = process.env.IOCTL_RUNTIME_MODULES || path.join(__dirname, 'node_modules')

/** The file `require(name)` of one of the runtime's packages loads. */
function resolve(name) {
  return require.resolve(path.join(MODULES, name))
}

/** One of the runtime's packages (koa, koa-compose, cookies, co-body). */
function load(name) {
  return require(resolve(name))
}

/** Package name -> its file, for each package loaded by `loadForApp`, in the order first loaded. */
const forApp = new Map()

/**
 * One of the runtime's packages needed only once the app uses what is built on it (lru-cache for
 * an LRUCache, semver for `satisfies`, p-limit for a client's `concurrency` or a first sendEvent):
 * loaded on that first use, and remembered so that the next standby preloads it (host/preload.js).
 */
function loadForApp(name) {
  let file = forApp.get(name)
  if (!file) forApp.set(name, (file = resolve(name)))
  return require(file)
}

/** The files `loadForApp` has loaded so far. */
function loadedForApp() {
  return [...forApp.values()]
}

module.exports = { MODULES, resolve, load, loadForApp, loadedForApp }
