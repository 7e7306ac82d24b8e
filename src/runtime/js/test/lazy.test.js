'use strict'
// The stand-in's rarely used parts load on first read (vtex-api/lazy.js), and the npm packages
// under it on first use: requiring @vtex/api leaves them unloaded, reading one loads it, and what
// an app reads is the same either way.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { lazy } = require('../vtex-api/lazy')

const API = path.join(__dirname, '..', 'vtex-api')

/** Runs `body` in a fresh Node process (an empty require cache) and returns what it prints as JSON. */
function fresh(body) {
  const script = `
    const path = require('node:path')
    const api = require(${JSON.stringify(API)})
    const loaded = () => Object.keys(require.cache).map((f) => path.basename(f)).sort()
    ${body}
  `
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
}

test('requiring @vtex/api loads neither the local platform clients, the not-emulated ones, the disk caches nor HTTP', () => {
  const loaded = fresh('console.log(JSON.stringify(loaded()))')
  for (const part of ['apps.js', 'vbase.js', 'masterdata.js', 'caches.js', 'http.js', 'graphql_client.js']) {
    assert.ok(!loaded.includes(part), `${part} is not loaded: ${loaded}`)
  }
  assert.ok(loaded.includes('index.js') && loaded.includes('service.js'))
})

test('reading a lazy export loads its part, and it is the same class ctx.clients uses', () => {
  const out = fresh(`
    const before = loaded()
    const { VBase, DiskCache, Catalog, IOClients } = api
    const clients = new IOClients({}, { account: 'a', workspace: 'w' })
    console.log(JSON.stringify({
      before: before.includes('vbase.js'),
      after: loaded().includes('vbase.js') && loaded().includes('caches.js'),
      same: clients.vbase instanceof VBase,
      names: [VBase.name, DiskCache.name, Catalog.name],
      spread: Object.keys({ ...api }).includes('MasterData'),
    }))
  `)
  assert.deepEqual(out, {
    before: false,
    after: true,
    same: true,
    names: ['VBase', 'DiskCache', 'Catalog'],
    spread: true,
  })
})

test('lru-cache, semver and p-limit load when the app first uses what needs them, and the next standby preloads them', () => {
  const out = fresh(`
    const packages = require(${JSON.stringify(path.join(__dirname, '..', 'packages'))})
    const preload = require(${JSON.stringify(path.join(__dirname, '..', 'host', 'preload'))})
    const names = ['lru-cache', 'semver', 'p-limit']
    const loadedPackages = () =>
      names.filter((name) => Object.keys(require.cache).some((f) => f.startsWith(path.join(packages.MODULES, name) + path.sep)))
    const steps = [loadedPackages()]
    new api.LRUCache({ max: 1 })
    steps.push(loadedPackages())
    api.satisfies('a.b@1.0.0', '1.x')
    steps.push(loadedPackages())
    new api.ExternalClient('http://example.invalid', {}, { concurrency: 1 })
    steps.push(loadedPackages())
    console.log(JSON.stringify({ steps, preload: preload.list().map((f) => path.relative(packages.MODULES, f)) }))
  `)
  assert.deepEqual(out, {
    steps: [[], ['lru-cache'], ['lru-cache', 'semver'], ['lru-cache', 'semver', 'p-limit']],
    preload: ['lru-cache/index.js', 'semver/semver.js', 'p-limit/index.js'],
  })
})

test('lazy makes its value once, on the first read, and an assignment replaces it', () => {
  let made = 0
  const object = {}
  lazy(object, 'value', () => ({ made: ++made }))
  assert.equal(made, 0)
  assert.deepEqual(Object.keys(object), ['value'])
  assert.equal(object.value, object.value)
  assert.equal(made, 1)
  object.value = 'mine'
  assert.equal(object.value, 'mine')
})
