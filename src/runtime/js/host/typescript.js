'use strict'
// The app's TypeScript runs from where it was written: requiring `node/x.ts` (or
// `../common/y.ts`) compiles ioctl's build of that file under the source's own filename, so
// `__dirname`, relative imports, `require.resolve`, JSON imports and assets next to the code
// behave as the app's own tsc output would run in place. The build (IOCTL_BUILD_DIR) mirrors
// the app folder (IOCTL_APP_ROOT) and carries source maps, so stacks point at the .ts lines:
// kept as read and parsed when a stack needs one (source_maps.js), the module compiled from V8's
// code cache of its last build when its code is unchanged (code_cache.js). Under `link
// --inspect`, the map is inlined instead, for Node and the debugger to read, as a debugger
// needs it at load.

const Module = require('node:module')
const fs = require('node:fs')
const path = require('node:path')
const codeCache = require('./code_cache')
const sourceMaps = require('./source_maps')

/** `node/x.ts` → its build, `{out, code}`, or an error saying why there is none. */
function readBuilt(filename, appRoot, buildDir) {
  const rel = path.relative(appRoot, filename)
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(
      `${filename} is TypeScript outside the app folder (${appRoot}); ioctl builds only the app's own files`,
    )
  }
  const out = path.join(buildDir, rel.replace(/\.tsx?$/, '.js'))
  try {
    return { out, code: fs.readFileSync(out, 'utf8') }
  } catch (err) {
    if (err && err.code === 'ENOENT') {
      throw new Error(
        `${rel} was not built: ioctl builds node/**/*.ts and the .ts files they import by a relative path`,
      )
    }
    throw err
  }
}

/** The built JavaScript of `filename` with its source map inlined (as Node and a debugger read it). */
function builtCode(filename, appRoot, buildDir) {
  const { out, code } = readBuilt(filename, appRoot, buildDir)
  return withInlineMap(code, `${out}.map`)
}

const MAP_COMMENT = /\/\/# sourceMappingURL=[^\n]*\n?$/

/**
 * The built JavaScript of `filename` without its `sourceMappingURL` (which names a file beside
 * the build, not beside the .ts), its map registered for stacks.
 */
function builtCodeLazyMap(filename, appRoot, buildDir) {
  const { out, code } = readBuilt(filename, appRoot, buildDir)
  try {
    sourceMaps.register(filename, fs.readFileSync(`${out}.map`))
  } catch {
    // No map: frames keep the built positions.
  }
  return code.replace(MAP_COMMENT, '')
}

/**
 * The build's source map inlined: Node maps a module compiled under another filename (the
 * .ts) only from an inline map.
 */
function withInlineMap(code, mapFile) {
  let map
  try {
    map = fs.readFileSync(mapFile)
  } catch {
    return code
  }
  const inline = `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${map.toString('base64')}\n`
  return MAP_COMMENT.test(code) ? code.replace(MAP_COMMENT, inline) : `${code}\n${inline}`
}

/**
 * Registers `.ts` and `.tsx` with Node's module loader (before `.js` is tried for them);
 * `inspecting`: a debugger may attach (maps inlined, no code cache).
 */
function install({ appRoot, buildDir, inspecting = false }) {
  if (!appRoot || !buildDir) return false
  const app = inspecting ? null : codeCache.caches.app
  if (!inspecting) sourceMaps.install()
  const load = function loadTypeScript(module, filename) {
    if (inspecting) return module._compile(builtCode(filename, appRoot, buildDir), filename)
    const code = builtCodeLazyMap(filename, appRoot, buildDir)
    return app === null ? module._compile(code, filename) : app.load(module, code, filename)
  }
  Module._extensions['.ts'] = load
  Module._extensions['.tsx'] = load
  return true
}

module.exports = { install, builtCode }
