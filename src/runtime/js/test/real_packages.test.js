'use strict'
// The @vtex/api stand-in on the npm packages the real one is built on (semver, p-limit,
// lru-cache, from the runtime's pinned set): what VTEX's wrappers add on top of each (app ids
// for semver, one limit per client name for p-limit, hit and eviction counts for lru-cache)
// behaves as on VTEX, and the package underneath answers as itself.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const vtexApi = require('../vtex-api')
const packages = require('../packages')
const { limiterFor } = require('../vtex-api/limiter')

const semver = packages.load('semver')

/** Lets every pending promise callback and I/O callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

test('satisfies checks an app id against the ranges VTEX uses, build and all', () => {
  assert.equal(vtexApi.satisfies('vtex.store@1.2.3', '1.x'), true)
  assert.equal(vtexApi.satisfies('vtex.store@2.0.0', '1.x'), false)
  assert.equal(vtexApi.satisfies('vtex.store@1.2.3+build1712345', '1.x'), true, 'the build is no part of the version')
  assert.equal(vtexApi.satisfies('vtex.store@1.3.0-beta.1', '1.x'), false, 'a prerelease is outside a major range')
  assert.equal(vtexApi.satisfies('vtex.store@1.2.3', 'not a range'), false)
  // As on VTEX: semver 5 throws on a version it cannot read (a range it cannot read is false).
  assert.throws(() => vtexApi.satisfies('vtex.store', '1.x'), /Invalid Version: vtex\.store/)
  // The major of an app version, as @vtex/api writes it (`vendor.name@3.x`).
  const range = vtexApi.versionToMajorRange('3.2.1')
  assert.equal(range, '3.x')
  assert.deepEqual(
    ['3.0.0', '3.99.1', '4.0.0', '2.9.9'].map((version) => vtexApi.satisfies(`a.b@${version}`, range)),
    [true, true, false, false],
  )
  const versions = ['0.2.5', '1.0.0', '1.2.3', '1.2.3-rc.1', '1.10.0', '2.0.0-0', '2.0.0', '10.1.1']
  const ranges = ['*', '1.x', '1.2.x', '^0.2.0', '^1.0.0', '~1.2.0', '>=1.2.0 <2.0.0', '1.0.0 - 1.2.2', '0.x || >=2']
  for (const version of versions) {
    for (const r of ranges) {
      assert.equal(vtexApi.satisfies(`a.b@${version}`, r), semver.satisfies(version, r), `${version} in ${r}`)
    }
  }
})

test('majorEqualAndGreaterThan: a newer version of the same major, by semver precedence', () => {
  assert.equal(vtexApi.majorEqualAndGreaterThan('2.10.0', '2.9.3'), true, 'numbers, not strings')
  assert.equal(vtexApi.majorEqualAndGreaterThan('2.9.3', '2.10.0'), false)
  assert.equal(vtexApi.majorEqualAndGreaterThan('2.0.0', '2.0.0-beta.10'), true, 'a release is above its prereleases')
  assert.equal(vtexApi.majorEqualAndGreaterThan('2.0.0-beta.2', '2.0.0-beta.10'), false)
  assert.equal(vtexApi.majorEqualAndGreaterThan('3.0.0', '2.9.3'), false, 'another major')
  assert.throws(() => vtexApi.majorEqualAndGreaterThan('2.x', '2.0.0'), /Invalid Version: 2\.x/)
})

test('`concurrency` is one limit per client name per Service, shared by every ctx.clients', () => {
  class Mine extends vtexApi.ExternalClient {
    constructor(context, options) {
      super('http://example.invalid', context, options)
    }
  }
  class Clients extends vtexApi.IOClients {
    get mine() {
      return this.getOrSet('mine', Mine)
    }
    get other() {
      return this.getOrSet('other', Mine)
    }
  }
  const options = { default: { concurrency: 3 }, other: { concurrency: 1 } }
  const [first, second] = [new Clients(options, {}), new Clients(options, {})]
  assert.ok(typeof first.mine.http.limiter === 'function')
  assert.equal(first.mine.http.limiter, second.mine.http.limiter, 'two requests share their client’s limit')
  assert.notEqual(first.mine.http.limiter, first.other.http.limiter, 'another client name has its own')
  assert.notEqual(new Clients({ ...options }, {}).mine.http.limiter, first.mine.http.limiter, 'another Service too')
  assert.equal(new Clients({}, {}).mine.http.limiter, undefined, 'no concurrency, no limit')
  for (const concurrency of [0, -1, 0.5, 'many', null]) assert.equal(limiterFor({ concurrency }), undefined)
  const limit = limiterFor({ concurrency: 2.9 })
  for (let i = 0; i < 3; i += 1) limit(() => new Promise(() => {}))
  assert.deepEqual([limit.activeCount, limit.pendingCount], [2, 1], 'a fractional concurrency rounds down')
})

test('a client with concurrency 2 has at most 2 requests out; the others go out in turn', async (t) => {
  // A loopback server that answers each request only when the test says so.
  const waiting = []
  const server = http.createServer((req, res) => waiting.push({ url: req.url, answer: () => res.end(`"${req.url}"`) }))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const base = `http://127.0.0.1:${server.address().port}`
  /** Waits (with a deadline) until the server holds `n` requests. */
  const held = async (n) => {
    const deadline = Date.now() + 5000
    while (waiting.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    return waiting.length
  }
  class Mine extends vtexApi.ExternalClient {
    constructor(context, options) {
      super(base, context, options)
    }
  }
  const client = new Mine({}, { concurrency: 2 })
  const calls = [1, 2, 3, 4, 5].map((n) => client.http.get(`/item/${n}`))
  assert.equal(await held(2), 2)
  await settle()
  assert.equal(waiting.length, 2, 'two requests out, three waiting')
  waiting[0].answer()
  assert.equal(await calls[0], '/item/1')
  assert.equal(await held(3), 3)
  assert.deepEqual(
    waiting.map((w) => w.url),
    ['/item/1', '/item/2', '/item/3'],
    'an answer lets the next in line out',
  )
  for (let i = 1; i < 5; i += 1) {
    await held(i + 1)
    waiting[i].answer()
    await calls[i]
  }
  assert.equal(waiting.length, 5)
  assert.equal(client.http.limiter.activeCount + client.http.limiter.pendingCount, 0)
})

test('LRUCache on lru-cache: max counts lengths, maxAge per cache or per entry, evictions in getStats', (t) => {
  t.mock.timers.enable({ apis: ['Date'] })
  const cache = new vtexApi.LRUCache({ max: 10, length: (value) => value.length, maxAge: 1000 })
  assert.equal(cache.set('a', 'xxxx'), true)
  assert.equal(cache.set('b', 'yyyy'), true)
  assert.equal(cache.set('c', 'zzzz'), true) // 12 > 10: the least recent, a, goes
  assert.deepEqual(
    ['a', 'b', 'c'].map((key) => cache.has(key)),
    [false, true, true],
  )
  assert.equal(cache.set('huge', 'x'.repeat(11)), false, 'longer than max: not stored')
  assert.equal(cache.set('b', 'yy'), true) // set again: a new value, no eviction
  cache.set('short', 's', 10) // its own maxAge
  t.mock.timers.tick(11)
  assert.equal(cache.get('short'), undefined, 'expired after its own maxAge')
  assert.equal(cache.get('b'), 'yy')
  t.mock.timers.tick(1000)
  assert.equal(cache.get('c'), undefined, "expired after the cache's maxAge")
  assert.deepEqual(cache.getStats('mine'), {
    disposedItems: 4, // a, huge, and the expired short and c
    hitRate: 1 / 3,
    hits: 1,
    itemCount: 1,
    length: 2,
    max: 10,
    name: 'mine',
    total: 3,
  })
  assert.deepEqual(cache.getStats(), {
    disposedItems: 0,
    hitRate: undefined,
    hits: 0,
    itemCount: 1,
    length: 2,
    max: 10,
    name: 'lru-cache',
    total: 0,
  })
  const unbounded = new vtexApi.LRUCache()
  assert.equal(unbounded.getStats().max, Infinity, 'no max: unbounded, as lru-cache 5')
})

test('LRUCache.getOrSet fetches once per key and counts each read', async () => {
  const cache = new vtexApi.LRUCache({ max: 10 })
  let fetched = 0
  const fetcher = async () => ({ value: `v${++fetched}` })
  assert.deepEqual(await Promise.all([cache.getOrSet('k', fetcher), cache.getOrSet('j', fetcher)]), ['v1', 'v2'])
  assert.equal(await cache.getOrSet('k', fetcher), 'v1')
  assert.equal(await cache.getOrSet('missing'), undefined, 'no fetcher: a miss')
  assert.equal(fetched, 2)
  const stats = cache.getStats()
  assert.deepEqual([stats.hits, stats.total, stats.itemCount], [1, 4, 2])
})

test('LRUDiskCache keeps its index in lru-cache: the least recent file goes when max is reached', async () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-lru-disk-'))
  const cache = new vtexApi.LRUDiskCache(dir, { max: 2 })
  assert.equal(await cache.set('a', { n: 1 }), true)
  assert.equal(await cache.set('b', { n: 2 }), true)
  assert.deepEqual(await cache.get('a'), { n: 1 })
  assert.equal(await cache.set('a', { n: 3 }), true, 'set again: the file is rewritten, not evicted')
  assert.deepEqual(await cache.get('a'), { n: 3 })
  await cache.set('c', { n: 4 })
  assert.equal(cache.has('b'), false)
  assert.equal(await cache.get('b'), undefined)
  const stats = cache.getStats()
  assert.deepEqual([stats.disposedItems, stats.itemCount, stats.max, stats.hits, stats.total], [1, 2, 2, 2, 3])
})
