'use strict'
// loader.js runs the runtime from bundle.js's sources: modules share require's cache with
// requires by path, stacks name each module's own file and line, packages and builtins resolve
// as Node's require would, and the code cache the first process writes serves the next one.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const LOADER = path.join(__dirname, '..', 'loader.js')

const SOURCES = {
  'main.js': [
    "'use strict'",
    "const lib = require('./lib')",
    "const viaIndex = require('./pkg')",
    "const util = require('node:util')",
    'let stack = null',
    'try {',
    '  lib.fail()',
    '} catch (err) {',
    '  stack = err.stack',
    '}',
    'module.exports = { lib, viaIndex, util: typeof util.inspect, stack, dir: __dirname, file: __filename }',
  ].join('\n'),
  'lib.js': ["'use strict'", 'exports.count = 0', 'exports.fail = () => {', "  throw new Error('boom')", '}'].join(
    '\n',
  ),
  'pkg/index.js': "'use strict'\nmodule.exports = { from: 'pkg/index.js', lib: require('../lib') }",
}

/** A runtime folder holding the sources (as ioctl writes them) and a bundle.js that runs main.js. */
function runtimeDir() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-loader-')))
  for (const [rel, text] of Object.entries(SOURCES)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    fs.writeFileSync(path.join(dir, rel), text)
  }
  fs.copyFileSync(LOADER, path.join(dir, 'loader.js'))
  fs.writeFileSync(
    path.join(dir, 'bundle.js'),
    `'use strict'\nrequire('./loader').run(module, ${JSON.stringify(SOURCES)}, 'main.js')\n`,
  )
  return dir
}

/** Runs bundle.js in a fresh Node process, then `after` (with `main`, `loader`, `dir` in scope). */
function runBundle(dir, after) {
  const script = `
    const path = require('node:path')
    const dir = ${JSON.stringify(dir)}
    require(path.join(dir, 'bundle.js'))
    const main = require.cache[path.join(dir, 'main.js')].exports
    const loader = require(path.join(dir, 'loader.js'))
    ${after}
  `
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
}

test('modules run from the bundle are the ones a require by path gets', () => {
  const dir = runtimeDir()
  const out = runBundle(
    dir,
    `
    const lib = require(path.join(dir, 'lib.js'))
    lib.count += 1
    console.log(JSON.stringify({
      same: lib === main.lib && main.viaIndex.lib === lib,
      count: main.lib.count,
      viaIndex: main.viaIndex.from,
      util: main.util,
      dir: main.dir === dir,
      file: main.file === path.join(dir, 'main.js'),
    }))
  `,
  )
  assert.deepEqual(out, { same: true, count: 1, viaIndex: 'pkg/index.js', util: 'function', dir: true, file: true })
})

test("a stack names the module's own file and line, not bundle.js", () => {
  const dir = runtimeDir()
  const { stack } = runBundle(dir, 'console.log(JSON.stringify({ stack: main.stack }))')
  const [thrower, caller] = stack.split('\n').slice(1)
  assert.ok(thrower.endsWith(`(${path.join(dir, 'lib.js')}:4:9)`), stack)
  assert.ok(caller.endsWith(`(${path.join(dir, 'main.js')}:7:7)`), stack)
})

test('the first process writes the code cache and the next one is served from it', () => {
  const dir = runtimeDir()
  const report = 'console.log(JSON.stringify({ saved: loader.saveCodeCache(), ...loader.stats() }))'
  const first = runBundle(dir, report)
  assert.deepEqual(first, { saved: true, modules: 3, accepted: 0, rejected: 0 })
  const file = path.join(dir, `code-cache-${process.version}-${process.arch}.bin`)
  assert.equal(fs.statSync(file).mode & 0o777, 0o600)
  const second = runBundle(dir, report)
  assert.deepEqual(second, { saved: false, modules: 3, accepted: 3, rejected: 0 })
})

test('a damaged code cache is ignored and rewritten', () => {
  const dir = runtimeDir()
  const report = 'console.log(JSON.stringify({ saved: loader.saveCodeCache(), ...loader.stats() }))'
  runBundle(dir, report)
  const file = path.join(dir, `code-cache-${process.version}-${process.arch}.bin`)
  const bytes = fs.readFileSync(file)
  const newline = bytes.indexOf(10)
  // The index intact, every module's data flipped: V8 refuses each one.
  for (let i = newline + 1; i < bytes.length; i++) bytes[i] ^= 0xff
  fs.writeFileSync(file, bytes)
  const damaged = runBundle(dir, report)
  assert.deepEqual(damaged, { saved: true, modules: 3, accepted: 0, rejected: 3 })
  fs.writeFileSync(file, 'not a cache')
  const garbage = runBundle(dir, report)
  assert.deepEqual(garbage, { saved: true, modules: 3, accepted: 0, rejected: 0 })
  assert.equal(runBundle(dir, report).accepted, 3)
})

test('the code cache is written to a new file: a link planted at its name is not followed', () => {
  const dir = runtimeDir()
  const victim = path.join(dir, 'victim.txt')
  fs.writeFileSync(victim, 'untouched')
  // Every name the writer may pick (its temporary file is named by its pid).
  const script = `
    const fs = require('node:fs')
    fs.symlinkSync(${JSON.stringify(victim)}, loaderCache() + '.' + process.pid + '.tmp')
    console.log(JSON.stringify({ saved: loader.saveCodeCache() }))
  `.replace('loaderCache()', JSON.stringify(path.join(dir, `code-cache-${process.version}-${process.arch}.bin`)))
  assert.deepEqual(runBundle(dir, script), { saved: false })
  assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched')
})
