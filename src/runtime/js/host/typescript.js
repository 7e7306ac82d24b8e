'use strict'
// The app's TypeScript runs from where it was written: requiring `node/x.ts` (or
// `../common/y.ts`) compiles ioctl's build of that file under the source's own filename, so
// `__dirname`, relative imports, `require.resolve`, JSON imports and assets next to the code
// behave as the app's own tsc output would run in place. The build (IOCTL_BUILD_DIR) mirrors
// the app folder (IOCTL_APP_ROOT) and carries source maps, so stacks point at the .ts lines.

const Module = require('node:module')
const fs = require('node:fs')
const path = require('node:path')

/** The built JavaScript of `filename`, or an error saying why there is none. */
function builtCode(filename, appRoot, buildDir) {
  const rel = path.relative(appRoot, filename)
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(
      `${filename} is TypeScript outside the app folder (${appRoot}); ioctl builds only the app's own files`,
    )
  }
  const out = path.join(buildDir, rel.replace(/\.tsx?$/, '.js'))
  try {
    return withInlineMap(fs.readFileSync(out, 'utf8'), `${out}.map`)
  } catch (err) {
    if (err && err.code === 'ENOENT') {
      throw new Error(
        `${rel} was not built: ioctl builds node/**/*.ts and the .ts files they import by a relative path`,
      )
    }
    throw err
  }
}

const MAP_COMMENT = /\/\/# sourceMappingURL=[^\n]*\n?$/

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

/** Registers `.ts` and `.tsx` with Node's module loader (before `.js` is tried for them). */
function install({ appRoot, buildDir }) {
  if (!appRoot || !buildDir) return false
  const load = function loadTypeScript(module, filename) {
    module._compile(builtCode(filename, appRoot, buildDir), filename)
  }
  Module._extensions['.ts'] = load
  Module._extensions['.tsx'] = load
  return true
}

module.exports = { install, builtCode }
