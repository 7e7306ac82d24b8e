'use strict'
// Stacks on the app's .ts lines, with source maps read when a stack needs them rather than
// while the module loads. Node's --enable-source-maps decodes and parses the map of every module
// as it compiles it (an inline map of a built module: base64, JSON, the lengths of each line),
// most of the time it takes to load the app's modules. Here the .ts loader registers each built
// module's map as read from the build (a relink may overwrite the file: the bytes kept are
// this version's), the dependencies' code cache registers a package's own `sourceMappingURL`,
// and `Error.prepareStackTrace` parses a map (node:module's SourceMap) the first time a frame
// of its module is formatted, then hands the stack to Node's own formatter. Frames of other
// files read as Node writes them.
//
// Not used under `link --inspect`: a debugger reads the inline maps Node is given then.

const fs = require('node:fs')
const { SourceMap } = require('node:module')
const path = require('node:path')
const { fileURLToPath } = require('node:url')

/** filename → the map's JSON (Buffer), or a function reading it; replaced by its SourceMap (or null) once parsed. */
const maps = new Map()
const parsed = new Map()

/** Notes `filename`'s map (its JSON bytes, or a function returning them) for later stacks. */
function register(filename, json) {
  maps.set(filename, json)
  parsed.delete(filename)
}

/** A package module's own `//# sourceMappingURL` (relative to it, or a data URL), read if a stack needs it. */
function registerUrl(filename, url) {
  if (!url) return
  register(filename, () => {
    if (url.startsWith('data:')) {
      const comma = url.indexOf(',')
      const payload = url.slice(comma + 1)
      return url.slice(0, comma).endsWith(';base64') ? Buffer.from(payload, 'base64') : decodeURIComponent(payload)
    }
    const file = url.startsWith('file:') ? fileURLToPath(url) : path.resolve(path.dirname(filename), url)
    return fs.readFileSync(file)
  })
}

function mapOf(filename) {
  if (parsed.has(filename)) return parsed.get(filename)
  let json = maps.get(filename)
  if (json === undefined) return null
  let map = null
  try {
    if (typeof json === 'function') json = json()
    map = new SourceMap(JSON.parse(json))
  } catch {
    // An unreadable map: the frame keeps its generated position.
  }
  parsed.set(filename, map)
  return map
}

/** `file:line:col` of a frame, through its module's map when it has one. */
function mapped(site) {
  const file = site.getFileName()
  const line = site.getLineNumber()
  const column = site.getColumnNumber()
  if (!file || line === null || column === null) return null
  const map = mapOf(file)
  if (!map) return null
  const entry = map.findEntry(line - 1, column - 1)
  if (!entry || entry.originalSource === undefined || entry.originalLine === undefined) return null
  const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource
  return { from: `${file}:${line}:${column}`, to: `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}` }
}

/** `site` as Node formats it, but read at the mapped position (its other methods as they are). */
function mappedSite(site) {
  let m = null
  try {
    m = mapped(site)
  } catch {
    // Formatting a stack never throws.
  }
  if (m === null) return site
  const text = String(site)
  const at = text.lastIndexOf(m.from)
  if (at === -1) return site
  const shown = `${text.slice(0, at)}${m.to}${text.slice(at + m.from.length)}`
  return new Proxy(site, {
    get(target, prop) {
      if (prop === 'toString') return () => shown
      const value = target[prop]
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** V8's format, where Node has no `Error.prepareStackTrace` of its own to hand a stack to (before 20.?). */
function v8Format(error, trace) {
  let head
  try {
    head = Error.prototype.toString.call(error)
  } catch {
    head = '<error>'
  }
  return trace.length === 0 ? head : `${head}\n    at ${trace.join('\n    at ')}`
}

let formatter = v8Format

/** The registered modules' frames mapped, the stack then written by Node's own formatter. */
function prepareStackTrace(error, trace) {
  const sites = maps.size === 0 ? trace : trace.map((site) => (maps.has(site.getFileName()) ? mappedSite(site) : site))
  return formatter(error, sites)
}

/**
 * Formats stacks through the registered maps, handing them to the formatter in place (Node's
 * own `Error.prepareStackTrace` in a host, which also maps the files Node has maps of and
 * writes its errors' codes; V8's format where Node has none).
 */
function install() {
  const current = Error.prepareStackTrace
  if (current === prepareStackTrace) return true
  if (typeof current === 'function') formatter = current
  Error.prepareStackTrace = prepareStackTrace
  return true
}

module.exports = { install, register, registerUrl, prepareStackTrace }
