'use strict'
// V8 code caches for what the host compiles through require (loader.js caches the runtime's own
// JavaScript): the app's dependencies (its node_modules and the runtime's package set) and the
// app's own built modules. Node 20 has no compile cache of its own (module.enableCompileCache
// is 22.1+), so dependencies are compiled here, as Node would (the same wrapper, a vm.Script
// with V8's cached data), and only what Node's loader is sure to do alike is taken over.
//
// - Dependencies: one pack file per app (its node_modules folder, this Node, its flags): each
//   module's source, V8's code for it and the file's stat (size, mtime, ctime, inode), plus the
//   requests the app's packages made and the file each resolved to. A later host reads the pack
//   once, checks each file by one `stat` (a changed file is read and compiled afresh), takes the
//   source from the pack instead of reading it, and the resolution. None of it is used once an
//   install changed node/ (the manifests' and lockfiles' content, node_modules' markers). Node's
//   own resolution, file reads and compiling of ~800 modules is what a plain `node` pays on
//   every start.
// - The app's modules: one pack per app (vendor and name), by the hash of each file's path and
//   built code, so a relink compiles only the files the save changed; each module is still
//   evaluated afresh.
//
// Files go in IOCTL_CODE_CACHE (0700; ioctl makes it), 0600, checked by a CRC-32, written to a
// temporary file and renamed (two hosts may write one at once: the last whole file wins), and
// let go once saved (not held for the process's life). The folder is kept
// under MAX_BYTES by removing the packs written longest ago. V8 refuses cached data of another
// V8, other flags or another source length (counted as `rejected`; the module compiles afresh).

const crypto = require('node:crypto')
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const vm = require('node:vm')
const zlib = require('node:zlib')
const sourceMaps = require('./source_maps')

/** The folder's bound: the packs written longest ago go first. */
const MAX_BYTES = 256 * 1024 * 1024
const FORMAT = 1
const PARAMS = '(function (exports, require, module, __filename, __dirname) { '
const END = '\n});'
const IMPORT = vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
// zlib.crc32: Node 20.15+ and 22.2+; before them the caches are not used (always compiled).
const crc32 = typeof zlib.crc32 === 'function' ? zlib.crc32 : null

/** What changes V8's code, or the meaning of a pack: in every pack's name. */
function keyOf(...parts) {
  // Node's flags (not `-e`'s script, which follows its flag).
  const flags = process.execArgv.filter((arg) => arg.startsWith('--'))
  const salt = [FORMAT, process.version, process.arch, flags, process.versions.v8]
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([salt, ...parts]))
    .digest('hex')
    .slice(0, 20)
}

/**
 * `{header, entries}` of a pack: the CRC-32 of the rest, a JSON header line listing the blobs,
 * then the blobs in order. Null when it cannot be read, or is not whole and as written.
 */
function readPack(file) {
  let bytes
  try {
    bytes = fs.readFileSync(file)
  } catch {
    return null
  }
  try {
    const first = bytes.indexOf(10)
    // A damaged byte anywhere (a source, a resolution) must not run: the whole pack is checked.
    if (first === -1 || Number(bytes.toString('latin1', 0, first)) !== crc32(bytes.subarray(first + 1))) return null
    const newline = bytes.indexOf(10, first + 1)
    const header = JSON.parse(bytes.toString('utf8', first + 1, newline))
    if (header.format !== FORMAT || !Array.isArray(header.entries)) return null
    let offset = newline + 1
    const entries = new Map()
    for (const [key, meta, sourceLength, codeLength] of header.entries) {
      const end = offset + sourceLength + codeLength
      if (end > bytes.length) return null
      entries.set(key, { meta, bytes, offset, sourceLength, codeLength, source: null })
      offset = end
    }
    return { header, entries }
  } catch {
    return null
  }
}

/** The entry's source, decoded once. */
function sourceOf(entry) {
  if (entry.source === null)
    entry.source = entry.bytes.toString('utf8', entry.offset, entry.offset + entry.sourceLength)
  return entry.source
}

function codeOf(entry) {
  const start = entry.offset + entry.sourceLength
  return entry.bytes.subarray(start, start + entry.codeLength)
}

/**
 * Writes a pack: `entries` is [key, meta, source (string or null), code (Buffer)]. A new file,
 * never one that is there (a link planted at its name is not followed), then renamed over.
 */
function writePack(file, extra, entries) {
  const index = []
  const parts = []
  for (const [key, meta, source, code] of entries) {
    const src = source === null ? Buffer.alloc(0) : Buffer.from(source, 'utf8')
    index.push([key, meta, src.length, code.length])
    parts.push(src, code)
  }
  const header = Buffer.from(`${JSON.stringify({ format: FORMAT, ...extra, entries: index })}\n`)
  let crc = crc32(header)
  for (const part of parts) crc = crc32(part, crc)
  const tmp = `${file}.${process.pid}.tmp`
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants
  try {
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
    try {
      fs.writevSync(fd, [Buffer.from(`${crc}\n`), header, ...parts])
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
    return true
  } catch {
    // A read-only or full cache only costs the next host the compile this one paid.
    fs.rmSync(tmp, { force: true })
    return false
  }
}

/** Removes the packs written longest ago until the folder holds at most `max` bytes. */
function bound(dir, max = MAX_BYTES) {
  let files
  try {
    files = fs.readdirSync(dir).map((name) => {
      const file = path.join(dir, name)
      const stat = fs.lstatSync(file)
      return { file, size: stat.size, mtime: stat.mtimeMs, isFile: stat.isFile() }
    })
  } catch {
    return 0
  }
  files = files.filter((f) => f.isFile).sort((a, b) => a.mtime - b.mtime)
  let total = files.reduce((sum, f) => sum + f.size, 0)
  let removed = 0
  for (const f of files) {
    if (total <= max) break
    fs.rmSync(f.file, { force: true })
    total -= f.size
    removed += 1
  }
  return removed
}

/** A file's identity as the dependencies' pack checks it. */
function statOf(filename) {
  const s = fs.statSync(filename, { throwIfNoEntry: false })
  return s ? [s.size, s.mtimeMs, s.ctimeMs, s.ino] : null
}

function sameStat(a, b) {
  return a !== null && b !== null && a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3]
}

/**
 * What an install changes under node/ (the files src/runtime/deps.rs watches): the manifests'
 * and lockfiles' content (a copy of the app, or a save that changed nothing, keeps the pack),
 * and node_modules' and its npm/yarn/pnpm markers' size and mtime.
 */
function depsStamp(nodeDir) {
  const hash = crypto.createHash('sha1')
  for (const name of ['package.json', 'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml']) {
    try {
      hash.update(fs.readFileSync(path.join(nodeDir, name)))
    } catch {
      hash.update('-')
    }
    hash.update('\0')
  }
  const markers = ['.', '.package-lock.json', '.yarn-integrity', '.modules.yaml'].map((m) => {
    const s = fs.statSync(path.join(nodeDir, 'node_modules', m), { throwIfNoEntry: false })
    return s ? [s.size, s.mtimeMs] : null
  })
  return [hash.digest('base64'), markers]
}

const isDependency = (filename) => filename.includes(`${path.sep}node_modules${path.sep}`)
const isBare = (request) => !(request.startsWith('.') || path.isAbsolute(request) || request.startsWith('node:'))

/** Compiles `content` as Node's CommonJS wrapper would, with V8's `cachedData` when given. */
function compile(content, filename, cachedData) {
  return new vm.Script(`${PARAMS}${content}${END}`, {
    filename,
    // The wrapper shares the module's first line: columns there stay the file's own.
    columnOffset: -PARAMS.length,
    cachedData,
    importModuleDynamically: IMPORT,
  })
}

/** Runs a compiled module wrapper as Module.prototype._compile would. */
function run(module, script, filename) {
  const require = (id) => module.require(id)
  require.resolve = (request, options) => Module._resolveFilename(request, module, false, options)
  require.resolve.paths = (request) => Module._resolveLookupPaths(request, module)
  require.main = process.mainModule
  require.extensions = Module._extensions
  require.cache = Module._cache
  const dirname = path.dirname(filename)
  return script.runInThisContext().call(module.exports, module.exports, require, module, filename, dirname)
}

/** Counts for the `loaded` timings and the tests. */
function newCounts() {
  return { compiled: 0, cached: 0, rejected: 0 }
}

/** The dependencies' pack of one app, and the hooks that use and fill it. */
class DependencyCache {
  constructor(file, nodeDir, modules) {
    this.file = file
    this.nodeDir = nodeDir
    /** The node_modules folder (real path) it is of, named in the pack (for a look at it). */
    this.modules = modules
    this.stamp = depsStamp(nodeDir)
    // Nothing of it is used once an install changed node/ (a package's "type", a new copy
    // closer to the app: what a stat of each file would not show); this host writes a new one.
    const pack = readPack(file)
    this.pack = pack !== null && JSON.stringify(pack.header.stamp) === JSON.stringify(this.stamp) ? pack : null
    this.resolved = new Map(this.pack === null ? [] : this.pack.header.resolved)
    this.newResolved = new Map()
    /** filename → the pack's entry when the file is as the pack saw it, else null. */
    this.checked = new Map()
    /** filename → {stat, source, script, code}: what this host compiled, for `save`. */
    this.compiled = new Map()
    this.counts = newCounts()
    this.pending = null
    this.saved = false
  }

  /** The pack's entry for `filename` if the file has not changed since. */
  entry(filename) {
    let entry = this.checked.get(filename)
    if (entry !== undefined) return entry
    entry = (this.pack && this.pack.entries.get(filename)) || null
    if (entry !== null && !sameStat(entry.meta, statOf(filename))) entry = null
    this.checked.set(filename, entry)
    return entry
  }

  install() {
    const cache = this
    const resolveFilename = Module._resolveFilename
    Module._resolveFilename = function resolveCached(request, parent, isMain, options) {
      if (isMain || options !== undefined || !parent || typeof parent.filename !== 'string') {
        return resolveFilename.apply(this, arguments)
      }
      const key = `${path.dirname(parent.filename)}\0${request}`
      const known = cache.resolved.get(key)
      if (known !== undefined && cache.entry(known) !== null) return known
      const resolved = resolveFilename.call(this, request, parent, isMain)
      if (path.isAbsolute(resolved) && isDependency(resolved) && (isBare(request) || isDependency(parent.filename))) {
        cache.newResolved.set(key, resolved)
      }
      return resolved
    }
    const loadJs = Module._extensions['.js']
    Module._extensions['.js'] = function loadCachedJs(module, filename) {
      const entry = isDependency(filename) ? cache.entry(filename) : null
      if (entry === null) return loadJs.call(this, module, filename)
      // The pack's copy of the file (its stat says it is the file's content): one read less.
      cache.pending = { filename, entry }
      return module._compile(sourceOf(entry), filename, 'commonjs')
    }
    const compileModule = Module.prototype._compile
    Module.prototype._compile = function compileCached(content, filename, format) {
      if (format === 'module' || typeof content !== 'string' || !isDependency(filename)) {
        return compileModule.apply(this, arguments)
      }
      const pending = cache.pending
      cache.pending = null
      const entry =
        pending !== null && pending.filename === filename && sourceOf(pending.entry) === content ? pending.entry : null
      let script
      try {
        script = compile(content, filename, entry === null ? undefined : codeOf(entry))
      } catch {
        // Node's own compile says what is wrong with it (or loads it as an ES module).
        return compileModule.apply(this, arguments)
      }
      const taken = entry !== null && !script.cachedDataRejected
      if (entry !== null && !taken) cache.counts.rejected += 1
      if (taken) cache.counts.cached += 1
      else cache.counts.compiled += 1
      // Its own map (a package's `sourceMappingURL`), for stacks: Node never saw this compile.
      sourceMaps.registerUrl(filename, script.sourceMapURL)
      if (!cache.saved) {
        const stat = entry !== null ? entry.meta : statOf(filename)
        cache.compiled.set(filename, { stat, source: content, script, code: taken ? codeOf(entry) : null })
      }
      return run(this, script, filename)
    }
  }

  /**
   * Writes the pack when this host compiled what it lacked (V8's code now holds the functions
   * loading ran): its modules, and the old pack's others that are still as it saw them.
   */
  save() {
    if (this.saved) return false
    try {
      return this.write()
    } finally {
      // Once: what loads later (a package a request needs) is compiled without the pack, and
      // the pack's bytes and this host's sources are not held for the process's life.
      this.saved = true
      this.pack = null
      this.checked.clear()
      this.compiled.clear()
      this.resolved.clear()
      this.newResolved.clear()
    }
  }

  write() {
    // filename → its entry, made only if the pack is written (V8's code is made then).
    const entries = new Map()
    for (const [filename, c] of this.compiled) {
      if (c.stat === null) continue
      const code = () => (c.code === null ? c.script.createCachedData() : c.code)
      entries.set(filename, () => [filename, c.stat, c.source, code()])
    }
    if (this.pack !== null) {
      for (const [filename, entry] of this.pack.entries) {
        if (entries.has(filename) || this.checked.get(filename) === null) continue
        entries.set(filename, () => [filename, entry.meta, sourceOf(entry), codeOf(entry)])
      }
    }
    // Resolutions to the pack's files only (a JSON file, say, Node resolves each time).
    const learnt = [...this.newResolved].some(([key, file]) => entries.has(file) && this.resolved.get(key) !== file)
    if (this.counts.compiled === 0 && !learnt) return false
    const resolved = [...new Map([...this.resolved, ...this.newResolved])].filter(([, file]) => entries.has(file))
    const made = [...entries.values()].map((make) => make())
    const written = writePack(this.file, { modules: this.modules, stamp: this.stamp, resolved }, made)
    if (written) bound(path.dirname(this.file))
    return written
  }
}

/** The app's built modules' pack: V8's code by the built code's hash. */
class AppCache {
  constructor(file, appRoot) {
    this.file = file
    this.appRoot = appRoot
    this.pack = readPack(file)
    this.used = []
    this.counts = newCounts()
    this.saved = false
  }

  /** Compiles and runs an app module (`content`: its built code, `filename`: its .ts). */
  load(module, content, filename) {
    // The file's path too: V8's code names the script it was made from, and a stack through
    // code cached from a copy of the app elsewhere would name that copy's file.
    const key = crypto.createHash('sha1').update(filename).update('\0').update(content).digest('base64')
    const entry = (this.pack && this.pack.entries.get(key)) || null
    const script = compile(content, filename, entry === null ? undefined : codeOf(entry))
    const taken = entry !== null && !script.cachedDataRejected
    if (entry !== null && !taken) this.counts.rejected += 1
    if (taken) this.counts.cached += 1
    else this.counts.compiled += 1
    if (!this.saved) this.used.push({ key, script, code: taken ? codeOf(entry) : null })
    return run(module, script, filename)
  }

  /** Writes the pack of this version's modules when one of them was compiled afresh. */
  save() {
    if (this.saved) return false
    try {
      return this.counts.compiled > 0 && this.write()
    } finally {
      this.saved = true
      this.pack = null
      this.used = []
    }
  }

  write() {
    const seen = new Set()
    const entries = []
    for (const u of this.used) {
      if (seen.has(u.key)) continue
      seen.add(u.key)
      entries.push([u.key, null, null, u.code === null ? u.script.createCachedData() : u.code])
    }
    return writePack(this.file, { app: this.appRoot }, entries)
  }
}

/** The caches of this host (null when IOCTL_CODE_CACHE is not set). */
const caches = { deps: null, app: null }

/**
 * Sets up both caches for the app at `appRoot` in `dir` and hooks the dependencies' compiling;
 * before host/modules.js installs its resolution (whose answers stay its own).
 */
function install({ dir, appRoot }) {
  if (!dir || !appRoot || !path.isAbsolute(dir) || crc32 === null) return false
  const nodeDir = path.join(appRoot, 'node')
  let modules
  try {
    modules = fs.realpathSync(path.join(nodeDir, 'node_modules'))
  } catch {
    modules = nodeDir
  }
  caches.deps = new DependencyCache(path.join(dir, `deps-${keyOf(modules)}.bin`), nodeDir, modules)
  caches.deps.install()
  // By the app's name, not its folder: a copy of the app (a new clone) starts from it too,
  // entries being by content.
  const { VTEX_APP_VENDOR: vendor, VTEX_APP_NAME: name } = process.env
  const app = vendor && name ? `${vendor}.${name}` : appRoot
  caches.app = new AppCache(path.join(dir, `app-${keyOf(app)}.bin`), appRoot)
  return true
}

/** Writes what this host compiled (once its app has loaded: off the way to `ready`). */
function save() {
  const deps = caches.deps !== null && caches.deps.save()
  const app = caches.app !== null && caches.app.save()
  return { deps, app }
}

/** How the caches went: modules compiled, taken from a cache, and refused by V8. */
function stats() {
  return {
    deps: caches.deps === null ? null : { ...caches.deps.counts },
    app: caches.app === null ? null : { ...caches.app.counts },
  }
}

module.exports = { install, save, stats, caches, bound, readPack, writePack, MAX_BYTES }
