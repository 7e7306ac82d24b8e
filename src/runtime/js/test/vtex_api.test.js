'use strict'
// Unit tests of the @vtex/api stand-in: LRUCache, retry arithmetic, the concurrency limiter,
// errors and their statuses, the logger, and the clients whose methods the stand-in lacks.

const test = require('node:test')
const assert = require('node:assert/strict')
const vtexApi = require('../vtex-api')
const hooks = require('../vtex-api/hooks')
const { limiterFor } = require('../vtex-api/limiter')
const { isRetryable, retryDelay, nextTimeout, withParams, combineURL } = require('../vtex-api/http')
const { errorStatus, errorCode } = require('../host/errors')

test('LRUCache evicts the least recently used entry and counts hits', () => {
  const disposed = []
  const cache = new vtexApi.LRUCache({ max: 2, dispose: (key) => disposed.push(key) })
  cache.set('a', 1)
  cache.set('b', 2)
  assert.equal(cache.get('a'), 1) // a is now the most recent
  cache.set('c', 3)
  assert.equal(cache.has('b'), false)
  assert.deepEqual([cache.has('a'), cache.has('c')], [true, true])
  // As @vtex/api's LRUCache: its eviction count takes the place of the app's `dispose`.
  assert.deepEqual(disposed, [])
  assert.equal(cache.get('missing'), undefined)
  const stats = cache.getStats('c')
  assert.deepEqual([stats.hits, stats.total, stats.hitRate, stats.itemCount], [1, 2, 0.5, 2])
  assert.equal(stats.disposedItems, 1)
  assert.equal(cache.getStats().total, 0, 'stats reset after each read')
})

test('LRUCache entries expire after maxAge, and getOrSet fills the cache once', async (t) => {
  t.mock.timers.enable({ apis: ['Date'] })
  const cache = new vtexApi.LRUCache({ max: 10, maxAge: 100 })
  let fetched = 0
  const fetcher = async () => ({ value: ++fetched })
  assert.equal(await cache.getOrSet('k', fetcher), 1)
  assert.equal(await cache.getOrSet('k', fetcher), 1)
  t.mock.timers.tick(101)
  assert.equal(cache.has('k'), false)
  assert.equal(await cache.getOrSet('k', fetcher), 2)
  assert.throws(() => new vtexApi.LRUCache({ max: -1 }), /max must be a non-negative number/)
})

test('retry n waits initialBackoffDelay × coefficient^(n−1) plus up to 20 % jitter', () => {
  assert.equal(retryDelay(1, 200, 2, 0), 200)
  assert.equal(retryDelay(2, 200, 2, 0), 400)
  assert.equal(retryDelay(3, 200, 2, 0), 800)
  assert.equal(retryDelay(3, 200, 2, 0.999999), 960)
  assert.equal(nextTimeout(1000, 2), 2000)
  assert.equal(nextTimeout(1000, 0), 1000, 'no coefficient: the same timeout')
})

test('only failures that may go better are retried', () => {
  const status = (s) => ({ response: { status: s } })
  assert.deepEqual(
    [408, 429, 500, 503].map((s) => isRetryable(status(s))),
    [true, true, true, true],
  )
  assert.deepEqual(
    [400, 401, 404].map((s) => isRetryable(status(s))),
    [false, false, false],
  )
  assert.equal(isRetryable({ code: 'ECONNREFUSED' }), true)
  assert.equal(isRetryable({ code: 'ECONNABORTED' }), true)
  assert.equal(isRetryable({ code: 'ERR_INVALID_URL' }), false)
  assert.equal(isRetryable(new vtexApi.RequestCancelledError()), false)
})

test('URLs combine as axios does, params as @vtex/api serializes them (qs, arrays as repeated keys)', () => {
  assert.equal(combineURL('http://a/b/', '/c'), 'http://a/b/c')
  assert.equal(combineURL('http://a', 'https://x/y'), 'https://x/y')
  assert.equal(
    withParams('http://a/b?x=1', { y: 2, z: [1, 2], n: null, u: undefined, o: { k: 'v' } }),
    'http://a/b?x=1&y=2&z=1&z=2&n=&o%5Bk%5D=v',
  )
})

test('the limiter runs at most `concurrency` operations at once, in arrival order', async () => {
  const limit = limiterFor({ concurrency: 2 })
  let running = 0
  let peak = 0
  const order = []
  const job = (id) =>
    limit(async () => {
      running += 1
      peak = Math.max(peak, running)
      await new Promise((resolve) => setImmediate(resolve))
      order.push(id)
      running -= 1
      if (id === 2) throw new Error('job 2 fails')
      return id
    })
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map(job))
  assert.equal(peak, 2)
  assert.deepEqual(order, [1, 2, 3, 4, 5])
  assert.equal(results[1].status, 'rejected', 'a failure frees its slot too')
  assert.deepEqual(
    results.filter((r) => r.status === 'fulfilled').map((r) => r.value),
    [1, 3, 4, 5],
  )
  assert.equal(limit.activeCount, 0)
})

test('VTEX errors carry their status and code, and routes answer with them', () => {
  const cases = [
    [new vtexApi.UserInputError('bad'), 400, 'USER_INPUT_ERROR'],
    [new vtexApi.AuthenticationError('who'), 401, 'UNAUTHENTICATED'],
    [new vtexApi.ForbiddenError('no'), 403, 'FORBIDDEN'],
    [new vtexApi.NotFoundError('none'), 404, 'NOT_FOUND'],
    [new vtexApi.TooManyRequestsError('slow'), 429, 'TOO_MANY_REQUESTS'],
    [Object.assign(new Error('teapot'), { status: 418 }), 418, 'I_M_A_TEAPOT'],
    [Object.assign(new Error('odd'), { statusCode: 409 }), 409, 'CONFLICT'],
    [Object.assign(new Error('not an error status'), { status: 200 }), 500, 'INTERNAL_SERVER_ERROR'],
    [new Error('plain'), 500, 'INTERNAL_SERVER_ERROR'],
  ]
  for (const [err, status, code] of cases) {
    assert.equal(errorStatus(err), status, err.message)
    assert.equal(errorCode(err, errorStatus(err)), code, err.message)
  }
  const err = new vtexApi.NotFoundError('none')
  assert.equal(err.name, 'NotFoundError')
  assert.match(err.stack, /^NotFoundError: none/)
  assert.equal(new vtexApi.ResolverError(new Error('wrapped')).message, 'wrapped')
})

test('the logger formats strings, errors and objects into one line each', (t) => {
  const lines = []
  t.mock.method(hooks, 'log', (level, message) => lines.push([level, message]))
  const logger = new vtexApi.Logger({})
  const { info, warn } = logger // bound: apps destructure them
  info('hello')
  warn({ a: 1 })
  logger.error(new Error('boom'))
  const circular = {}
  circular.self = circular
  logger.debug(circular)
  assert.deepEqual(lines[0], ['info', 'hello'])
  assert.deepEqual(lines[1], ['warn', '{"a":1}'])
  assert.equal(lines[2][0], 'error')
  assert.match(lines[2][1], /^Error: boom\n {4}at /)
  assert.deepEqual(lines[3], ['debug', '<ref *1> { self: [Circular *1] }'])
})

test('clients of VTEX services construct, and fail clearly when called', async () => {
  const clients = new vtexApi.IOClients({}, { account: 'a' })
  assert.equal(clients.oms.constructor.name, 'OMS')
  assert.equal(clients.oms, clients.oms, 'one instance per IOClients')
  assert.equal(clients.vbase.then, undefined, 'not a thenable')
  const err = await clients.oms.order('1').catch((e) => e)
  assert.equal(
    err.message,
    "ctx.clients.oms.order() needs VTEX's cloud and is not emulated by ioctl (ioctl runs these locally: " +
      'ctx.clients.apps getAppSettings/saveAppSettings, ctx.clients.vbase, ctx.clients.masterdata, ' +
      'ctx.clients.events, and tenant, segment and session)',
  )
  // Shaped as a 501 answer: the app's own `if (e.response.status === 404)` runs instead of a TypeError.
  assert.deepEqual([err.response.status, err.response.data.message, err.isAxiosError], [501, err.message, true])
  await assert.rejects(clients.apps.getApp('x'), /ctx.clients.apps.getApp\(\) needs VTEX's cloud/)
})

test('events.sendEvent rejects outside ioctl, naming the call', async () => {
  const clients = new vtexApi.IOClients({}, {})
  await assert.rejects(clients.events.sendEvent('', 'k', {}), {
    message: "sendEvent('', 'k') failed: sendEvent is only available when the service runs under ioctl",
  })
})

test('method() dispatches on the verb and answers 405 otherwise', async () => {
  const calls = []
  const route = vtexApi.method({ GET: [async (_ctx, next) => (calls.push('a'), next()), async () => calls.push('b')] })
  await route({ method: 'GET' }, async () => {})
  assert.deepEqual(calls, ['a', 'b'])
  const headers = {}
  const ctx = { method: 'DELETE', set: (k, v) => (headers[k] = v) }
  await route(ctx)
  assert.equal(ctx.status, 405)
  assert.deepEqual(headers, { Allow: 'GET' })
  assert.throws(() => vtexApi.method({ POST: [null] }), /method\(\)\.POST must be a function, got null/)
})
