'use strict'
// The host's module loader. bundle.js (written by ioctl beside the runtime's files) carries the
// sources of every runtime module and starts host.js through `run`: one file read instead of
// ~40 module resolutions (each a handful of stat calls and package.json lookups). Each module
// is still compiled under its own file name, so stacks name the real file and line, and is
// registered in require's cache under that name, so a `require` by path (the app's
// `@vtex/api`, a preloaded part) gets the same instance. V8's code cache makes later hosts skip
// compiling the runtime: the first host of a Node version writes it once its app has loaded
// (so the functions loading compiled are in it), beside the sources; V8 checks it belongs to
// this V8 and these flags, and the folder's name is the hash of the sources.

const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const vm = require('node:vm')

const PARAMS = '(function (exports, require, module, __filename, __dirname) { '

/** What the loader did, for `saveCodeCache` and the tests. */
const state = {
  cacheFile: null,
  /** Runtime-relative path → its vm.Script (to write its code cache from). */
  scripts: new Map(),
  /** The code cache read at start: runtime-relative path → V8's data. */
  cached: new Map(),
  /** Modules whose cached code V8 took, and how many it refused (another V8, other flags). */
  accepted: new Set(),
  rejected: 0,
  saved: false,
}

/** The code cache of this Node version in `dir` (V8's format changes with V8). */
function cacheFileIn(dir) {
  return path.join(dir, `code-cache-${process.version}-${process.arch}.bin`)
}

/** `{path: Buffer}` from a code cache file: a JSON index line, then the modules' data. */
function readCodeCache(file) {
  let bytes
  try {
    bytes = fs.readFileSync(file)
  } catch {
    return new Map()
  }
  const newline = bytes.indexOf(10)
  const entries = new Map()
  try {
    let offset = newline + 1
    for (const [rel, length] of JSON.parse(bytes.subarray(0, newline).toString('utf8'))) {
      entries.set(rel, bytes.subarray(offset, offset + length))
      offset += length
    }
  } catch {
    return new Map()
  }
  return entries
}

/** `./x` or `../x` from `from` → the runtime-relative path among `sources`, else null. */
function resolveInBundle(sources, from, request) {
  const base = path.posix.join(path.posix.dirname(from), request)
  for (const candidate of [base, `${base}.js`, `${base}/index.js`]) {
    if (Object.prototype.hasOwnProperty.call(sources, candidate)) return candidate
  }
  return null
}

/**
 * Runs `entry` (a path relative to the bundle's folder) from `sources`; `main` is the bundle's
 * own module (its folder is the runtime's).
 */
function run(main, sources, entry = 'host.js') {
  const dir = path.dirname(main.filename)
  state.cacheFile = cacheFileIn(dir)
  const cached = readCodeCache(state.cacheFile)
  state.cached = cached

  function load(rel, parent) {
    const filename = path.join(dir, rel)
    const existing = Module._cache[filename]
    if (existing) return existing.exports
    const mod = new Module(filename, parent)
    mod.filename = filename
    mod.paths = Module._nodeModulePaths(path.dirname(filename))
    Module._cache[filename] = mod
    const script = new vm.Script(`${PARAMS}${sources[rel]}\n})`, { filename, cachedData: cached.get(rel) })
    if (cached.has(rel) && script.cachedDataRejected) state.rejected += 1
    else if (cached.has(rel)) state.accepted.add(rel)
    state.scripts.set(rel, script)
    const localRequire = (request) => {
      const inBundle = request.startsWith('.') ? resolveInBundle(sources, rel, request) : null
      return inBundle === null ? mod.require(request) : load(inBundle, mod)
    }
    localRequire.resolve = (request, options) => Module._resolveFilename(request, mod, false, options)
    localRequire.cache = Module._cache
    localRequire.main = main
    try {
      script.runInThisContext().call(mod.exports, mod.exports, localRequire, mod, filename, path.dirname(filename))
    } catch (err) {
      delete Module._cache[filename]
      throw err
    }
    mod.loaded = true
    return mod.exports
  }

  return load(entry, main)
}

/**
 * Writes the code cache of what has run so far (and keeps what the file had of modules this
 * host did not load), unless V8 took a cache of every module that ran. Once per process; atomic
 * (another host may be reading it); the file only the user's.
 */
function saveCodeCache() {
  if (state.saved || state.scripts.size === 0) return false
  if ([...state.scripts.keys()].every((rel) => state.accepted.has(rel))) return false
  state.saved = true
  const entries = new Map(state.cached)
  for (const [rel, script] of state.scripts) entries.set(rel, script.createCachedData())
  const index = [...entries].map(([rel, data]) => [rel, data.length])
  const parts = [...entries.values()]
  const tmp = `${state.cacheFile}.${process.pid}.tmp`
  // A new file, never one that is there (a link planted at the name is not followed).
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants
  try {
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
    try {
      fs.writeSync(fd, Buffer.concat([Buffer.from(`${JSON.stringify(index)}\n`), ...parts]))
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, state.cacheFile)
  } catch {
    // A read-only cache only costs later hosts the compile this one paid.
    fs.rmSync(tmp, { force: true })
    return false
  }
  return true
}

/** How the code cache went: modules whose cache V8 took or refused, and whether one was saved. */
function stats() {
  return { modules: state.scripts.size, accepted: state.accepted.size, rejected: state.rejected, saved: state.saved }
}

module.exports = { run, saveCodeCache, stats }
