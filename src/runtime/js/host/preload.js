'use strict'
// Dependencies a warm standby loads before its app does. A host notes the packages its app
// requires by name (and the runtime's own lazily loaded parts it used: GraphQL, Koa); ioctl
// hands that list to the next standby, which requires each file while it waits, so a relink
// loads only the app's own modules. Only package entry points are noted, in the order the app
// first asked for them: a package loads exactly as the app's `require` would load it, only
// earlier, in a process that has run nothing else. The app's own files are never preloaded.
// The runtime packages the @vtex/api stand-in loaded for the app (packages.loadForApp: lru-cache
// for an LRUCache made at load, say) follow them.

const path = require('node:path')
const packages = require('../packages')

/** Files to preload, in the order they were first required. */
const noted = new Set()

/** `./x`, `../x`, `/abs` and `node:fs` are not packages. */
function isPackageRequest(request) {
  return !(request.startsWith('.') || path.isAbsolute(request) || request.startsWith('node:'))
}

/** The runtime's own folder (in ioctl's cache): its modules may export a `warmUp()`. */
const RUNTIME_DIR = path.dirname(__dirname)

function isRuntimeFile(filename) {
  return filename.startsWith(RUNTIME_DIR + path.sep)
}

/** Whether `filename` is one of the app's own files (not the runtime's, nor in node_modules). */
function isAppFile(filename, appRoot) {
  if (!appRoot || !filename || isRuntimeFile(filename)) return false
  const root = appRoot.endsWith(path.sep) ? appRoot : appRoot + path.sep
  return filename.startsWith(root) && !filename.includes(`${path.sep}node_modules${path.sep}`)
}

/**
 * Called for every resolved request: notes `resolved` when the app itself asked for a package
 * (a builtin such as `fs` resolves to its bare name and is skipped).
 */
function noteRequest(request, parent, resolved, appRoot) {
  if (!isPackageRequest(request) || !path.isAbsolute(resolved)) return
  if (parent && !noted.has(resolved) && isAppFile(parent.filename, appRoot)) noted.add(resolved)
}

/** Notes a file of the runtime that the app made the host load (its GraphQL, Koa). */
function note(filename) {
  noted.add(filename)
}

function list() {
  return [...new Set([...noted, ...packages.loadedForApp()])]
}

/**
 * In a standby: requires each file of `files` (a JSON array) that is not an app file, and runs
 * the `warmUp()` of the runtime's modules among them (the GraphQL schema builder's). A file
 * that fails is left for the app's own `require` to fail on and report. Returns how many loaded.
 */
function preload(files, appRoot) {
  let count = 0
  let parsed
  try {
    parsed = JSON.parse(files || '[]')
  } catch {
    return 0
  }
  if (!Array.isArray(parsed)) return 0
  for (const file of parsed) {
    if (typeof file !== 'string' || !path.isAbsolute(file) || isAppFile(file, appRoot)) continue
    try {
      const exported = require(file)
      count += 1
      if (isRuntimeFile(file) && typeof exported.warmUp === 'function') exported.warmUp()
    } catch {
      // Reported when the app requires it.
    }
  }
  return count
}

module.exports = { noteRequest, note, list, preload, isAppFile, isPackageRequest }
