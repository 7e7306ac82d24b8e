'use strict'
// Unit tests of the standby's preloading: which requests are noted (packages the app asked
// for, never the app's own files), and that preloading puts a package in require's cache so
// the app's later `require` gets it without loading it again.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const preload = require('../host/preload')

/** An app folder with node/node_modules/counter, a package that counts its loads. */
function appWithPackage() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-preload-'))
  const pkg = path.join(root, 'node', 'node_modules', 'counter')
  fs.mkdirSync(pkg, { recursive: true })
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"counter","main":"main.js"}')
  fs.writeFileSync(path.join(pkg, 'main.js'), 'globalThis.counterLoads = (globalThis.counterLoads || 0) + 1\n')
  fs.writeFileSync(path.join(root, 'node', 'index.js'), "module.exports = require('counter')\n")
  return { root, main: path.join(pkg, 'main.js') }
}

test('only packages the app itself requires are noted', () => {
  const root = '/apps/shop'
  const appFile = { filename: '/apps/shop/node/index.ts' }
  const depFile = { filename: '/apps/shop/node/node_modules/ramda/src/index.js' }
  preload.noteRequest('ramda', appFile, '/apps/shop/node/node_modules/ramda/src/index.js', root)
  preload.noteRequest('./map', depFile, '/apps/shop/node/node_modules/ramda/src/map.js', root)
  preload.noteRequest('lodash/fp', depFile, '/apps/shop/node/node_modules/lodash/fp.js', root)
  preload.noteRequest('./utils', appFile, '/apps/shop/node/utils.ts', root)
  preload.noteRequest('fs', appFile, 'fs', root)
  preload.noteRequest('ramda', appFile, '/apps/shop/node/node_modules/ramda/src/index.js', root)
  assert.deepEqual(preload.list(), ['/apps/shop/node/node_modules/ramda/src/index.js'])
})

test('app files are never preloaded; the runtime and node_modules are not app files', () => {
  assert.equal(preload.isAppFile('/apps/shop/node/clients/index.ts', '/apps/shop'), true)
  assert.equal(preload.isAppFile('/apps/shop/common/utils.ts', '/apps/shop'), true)
  assert.equal(preload.isAppFile('/apps/shop/node/node_modules/axios/index.js', '/apps/shop'), false)
  assert.equal(preload.isAppFile('/apps/shopping/node/index.ts', '/apps/shop'), false)
  assert.equal(preload.isAppFile(path.join(__dirname, '..', 'host', 'service.js'), path.join(__dirname, '..')), false)
  assert.equal(preload.preload(JSON.stringify(['/apps/shop/node/index.ts']), '/apps/shop'), 0)
})

test('a preloaded package is what the app later requires, loaded once', () => {
  const { root, main } = appWithPackage()
  globalThis.counterLoads = 0
  assert.equal(preload.preload(JSON.stringify([main]), root), 1)
  assert.equal(globalThis.counterLoads, 1)
  require(path.join(root, 'node', 'index.js'))
  assert.equal(globalThis.counterLoads, 1, 'the app got the preloaded module, not a second copy')
})

test('a package that throws is left for the app to require (and report); bad input loads nothing', () => {
  const { root } = appWithPackage()
  const broken = path.join(root, 'node', 'node_modules', 'broken.js')
  fs.writeFileSync(broken, "throw new Error('broken at load')\n")
  assert.equal(preload.preload(JSON.stringify([broken]), root), 0)
  assert.throws(() => require(broken), /broken at load/)
  assert.equal(preload.preload('not json', root), 0)
  assert.equal(preload.preload('{"a":1}', root), 0)
  assert.equal(preload.preload(undefined, root), 0)
})
