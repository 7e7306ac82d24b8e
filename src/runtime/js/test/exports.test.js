'use strict'
// The stand-ins export what the real packages export: every runtime export of @vtex/api 6.x and
// @vtex/clients 2.x (lists in fixtures/, made by fixtures/extract_exports.sh from the npm
// tarballs) exists, with the same kind, and classes extend the same base. Then the behaviour of
// the pure helpers, which must match the real ones.

const test = require('node:test')
const assert = require('node:assert/strict')
const vtexApi = require('../vtex-api')
const vtexClients = require('../vtex-clients')
const realApi = require('./fixtures/real-exports-vtex-api.json')
const realClients = require('./fixtures/real-exports-vtex-clients.json')

// Read from the environment: undefined where the variable is unset, on VTEX as here.
const FROM_ENV = new Set(['ACCOUNT', 'WORKSPACE', 'NODE_ENV', 'IS_IO'])
// Kept on purpose: a route that throws TooManyRequestsError answers 429 (its status).
const DIFFERENT_BASE = { TooManyRequestsError: 'ResolverError' }

function kindOf(value) {
  if (typeof value !== 'function') return typeof value
  if (!/^class\b/.test(Function.prototype.toString.call(value))) return 'function'
  let base = Object.getPrototypeOf(value)
  // A local client (apps, vbase, masterdata) extends its not-emulated namesake, which extends
  // the real base: the base that counts is the first one of another name.
  while (base !== Function.prototype && base.name === value.name) base = Object.getPrototypeOf(base)
  return base === Function.prototype ? 'class' : `class extends ${base.name}`
}

function compare(real, standIn) {
  const problems = []
  for (const [name, kind] of Object.entries(real.exports)) {
    const mine = kindOf(standIn[name])
    // `class extends @vtex/api.JanusClient`: the base as @vtex/clients imports it.
    const expected = kind.replace(/extends @vtex\/api\./, 'extends ')
    if (mine === 'undefined' && FROM_ENV.has(name)) continue
    if (DIFFERENT_BASE[name] && mine === `class extends ${DIFFERENT_BASE[name]}`) continue
    // A plain `class`: the real base is a mocked package's (or none); any class will do.
    if (expected === 'class' ? !mine.startsWith('class') : mine !== expected) {
      problems.push(`${name}: real ${kind}, stand-in ${mine}`)
    }
  }
  return problems
}

test('the @vtex/api stand-in has every runtime export of the real package, of the same kind', () => {
  assert.ok(Object.keys(realApi.exports).length > 150, 'the fixture lists the real exports')
  assert.deepEqual(compare(realApi, vtexApi), [])
})

test('the @vtex/clients stand-in has every runtime export of the real package, on the same bases', () => {
  assert.deepEqual(compare(realClients, vtexClients), [])
  assert.ok(Object.getPrototypeOf(vtexClients.Catalog) === vtexApi.JanusClient)
})

test('app id helpers behave as @vtex/api', () => {
  assert.deepEqual(vtexApi.parseAppId('vtex.store@2.1.0+build123'), {
    build: 'build123',
    locator: 'vtex.store@2.1.0',
    name: 'vtex.store',
    version: '2.1.0',
  })
  assert.deepEqual(vtexApi.parseAppId('vtex.store'), {
    build: undefined,
    locator: 'vtex.store@vtex.store',
    name: 'vtex.store',
    version: 'vtex.store',
  })
  assert.equal(vtexApi.removeVersionFromAppId('vtex.store@2.1.0'), 'vtex.store')
  assert.equal(vtexApi.extractVersionFromAppId('vtex.store@2.1.0'), '2.1.0')
  assert.equal(vtexApi.removeBuild('2.1.0+build1'), '2.1.0')
  assert.equal(vtexApi.transformToLinkedLocator('vtex.store@2.1.0+build1'), 'vtex.store@2.1.0+linked')
  assert.equal(vtexApi.formatAppId({ locator: 'a.b@1.0.0', build: 'x' }), 'a.b@1.0.0+x')
  assert.equal(vtexApi.appIdToAppAtMajor('vtex.store@2.1.0'), 'vtex.store@2.x')
  assert.equal(vtexApi.formatMajorLocator('a.b', '3.2.1'), 'a.b@3.x')
  assert.equal(vtexApi.isValidAppIdOrLocator('vtex.store@2.1.0'), true)
  assert.equal(vtexApi.isValidAppIdOrLocator('vtex.store@2.x'), false)
  assert.equal(vtexApi.isLinkedApp({ id: 'a.b@1.0.0+build9' }), true)
  assert.equal(vtexApi.sameMajor('1.2.3', '1.9.0'), true)
  assert.equal(vtexApi.majorEqualAndGreaterThan('1.10.0', '1.9.0'), true)
  assert.equal(vtexApi.majorEqualAndGreaterThan('2.0.0', '1.9.0'), false)
})

test('satisfies follows semver ranges', () => {
  const cases = [
    ['a.b@1.2.3', '1.x', true],
    ['a.b@2.0.0', '1.x', false],
    ['a.b@1.2.3', '^1.0.0', true],
    ['a.b@0.3.0', '^0.2.0', false],
    ['a.b@1.2.9', '~1.2.3', true],
    ['a.b@1.3.0', '~1.2.3', false],
    ['a.b@1.2.3', '>=1.2.0 <1.3.0', true],
    ['a.b@1.2.3', '1.0.0 - 1.2.2', false],
    ['a.b@3.0.0', '1.x || >=3', true],
    ['a.b@1.2.3-beta.1', '^1.0.0', false],
    ['a.b@1.2.3-beta.2', '>=1.2.3-beta.1', true],
    ['a.b@1.2.3', '*', true],
  ]
  for (const [appId, range, expected] of cases)
    assert.equal(vtexApi.satisfies(appId, range), expected, `${appId} ${range}`)
})

test('header, timing and translation helpers behave as @vtex/api', () => {
  const binding = { id: 'b1', rootPath: '/x', locale: 'pt-BR', currency: 'BRL' }
  assert.deepEqual(vtexApi.parseBindingHeaderValue(vtexApi.formatBindingHeaderValue(binding)), binding)
  assert.equal(vtexApi.formatBindingHeaderValue(binding, 'v0+kuberouter'), '0,b1,/x,pt-BR,BRL')
  assert.deepEqual(vtexApi.parseBindingHeaderValue('0,,,en-US,'), {
    currency: undefined,
    id: undefined,
    locale: 'en-US',
    rootPath: undefined,
  })
  assert.deepEqual(vtexApi.parseTenantHeaderValue('pt-BR'), { locale: 'pt-BR' })
  assert.equal(vtexApi.hrToMillis([1, 500000000]), 1500)
  assert.equal(vtexApi.hrToNano([1, 5]), 1000000005)
  assert.equal(vtexApi.formatNano(1500000000), '2s 500ms')
  assert.equal(
    vtexApi.reduceHrToNano([
      [1, 0],
      [0, 5],
    ]),
    1000000005,
  )
  assert.equal(vtexApi.shrinkTimings('graphql-server'), 'gql-srv')
  assert.equal(vtexApi.formatTimingName({ hopNumber: 1, source: 's', target: 't' }), '1.s#t')
  assert.deepEqual(vtexApi.parseTimingName('1.s#t'), { hopNumber: 1, source: 's', target: 't' })
  assert.equal(vtexApi.reduceTimings({ a: 1, b: 2 }), 'b;dur=2, a;dur=1, ')
  assert.deepEqual(vtexApi.parseTranslatableStringV2('Hello (((greeting))) <<<en-US>>>'), {
    content: 'Hello',
    context: 'greeting',
    from: 'en-US',
  })
  assert.equal(vtexApi.formatTranslatableStringV2({ content: 'Hi', from: 'en' }), 'Hi  <<<en>>>')
  assert.equal(
    vtexApi.inflightUrlWithQuery({ baseURL: 'http://a', url: '/b', params: { x: [1, 2] } }),
    'http://a/b?x=1&x=2',
  )
  assert.equal(vtexApi.isFreeBillingOptions({ type: vtexApi.BILLING_TYPE.FREE }), true)
  assert.equal(vtexApi.ACCOUNT_HEADER, 'x-vtex-account')
  assert.deepEqual(vtexApi.MAX_AGE, { LONG: 86400, MEDIUM: 3600, SHORT: 120 })
})

test('cleanError keeps what helps and drops credentials, functions and cycles', () => {
  const err = new Error('boom')
  err.response = { status: 404, headers: { Authorization: 'secret', etag: 'x' }, request: {}, data: 'nf' }
  err.self = err
  err._private = 1
  err.fn = () => {}
  const clean = vtexApi.cleanError(err)
  assert.equal(clean.message, 'boom')
  assert.equal(clean.code, 'E_HTTP_404')
  assert.deepEqual(clean.response, { status: 404, headers: { etag: 'x' }, data: 'nf' })
  assert.equal(clean.self, '[Circular]')
  assert.equal('_private' in clean || 'fn' in clean, false)
  assert.equal(
    vtexApi.cleanError(function named() {}),
    '[Function: named]',
  )
})

test('retry predicates follow axios-retry', () => {
  assert.equal(vtexApi.isNetworkOrIdempotentRequestError({ code: 'ECONNRESET' }), true)
  assert.equal(vtexApi.isNetworkOrIdempotentRequestError({ code: 'ENOTFOUND' }), false)
  assert.equal(
    vtexApi.isNetworkOrIdempotentRequestError({ config: { method: 'put' }, response: { status: 503 } }),
    true,
  )
  assert.equal(
    vtexApi.isNetworkOrIdempotentRequestError({ config: { method: 'post' }, response: { status: 503 } }),
    false,
  )
  assert.equal(vtexApi.isAbortedOrNetworkErrorOrRouterTimeout({ code: 'ECONNABORTED' }), true)
  const delay = vtexApi.exponentialDelay(2)
  assert.ok(delay >= 400 && delay <= 480, String(delay))
})

test('what needs VTEX runtime fails clearly, and the caches work', async () => {
  assert.throws(() => vtexApi.startApp(), /startApp\(\) from @vtex\/api starts VTEX's own worker runtime/)
  await assert.rejects(new vtexApi.Sphinx({}).validatePolicies([]), /Sphinx.validatePolicies\(\) needs VTEX's cloud/)
  const graphql = new vtexApi.GraphQLClient({
    post: async () => ({ errors: [{ message: 'bad field' }] }),
    name: 'Mine',
  })
  await assert.rejects(graphql.query({ query: '{ x }' }), /Mine: bad field/)
  const memory = new vtexApi.LRUCache({ max: 10 })
  const layered = new vtexApi.MultilayeredCache([memory])
  assert.equal(await layered.get('k', async () => ({ value: 7 })), 7)
  assert.equal(memory.get('k'), 7, 'the missed layer was filled')
})

test('@vtex/clients classes construct in IOClients and fail naming class and method', async () => {
  class Clients extends vtexApi.IOClients {
    get catalog() {
      return this.getOrSet('catalog', vtexClients.Catalog)
    }
  }
  const clients = new Clients({}, { account: 'a', workspace: 'dev' })
  assert.ok(clients.catalog instanceof vtexApi.JanusClient)
  await assert.rejects(clients.catalog.getSkuById('1'), {
    message:
      /^Catalog\.getSkuById\(\) \(@vtex\/clients\) needs VTEX's cloud and is not emulated by ioctl \(ioctl runs these locally: /,
  })
  // Its own `this.http` is real, on VTEX's base URL: a call crosses ioctl's boundary.
  const saved = vtexApi.__ioctl.platform
  const calls = []
  vtexApi.__ioctl.platform = async (call) => {
    calls.push(call)
    return { status: 200, headers: { 'content-type': 'application/json' }, body: 'e30=', source: 'fixture' }
  }
  try {
    assert.deepEqual(await new vtexClients.Suggestions({ account: 'a' }).http.get('x'), {})
  } finally {
    vtexApi.__ioctl.platform = saved
  }
  assert.deepEqual([calls[0].method, calls[0].url], ['GET', 'https://api.vtex.com/a/suggestions/x'])
})

test('masterDataFor and vbaseFor delegate to ctx.clients.masterdata and ctx.clients.vbase', async (t) => {
  const calls = []
  const record = (method) =>
    function (...args) {
      calls.push([this.constructor.name, method, args])
      return Promise.resolve({ Id: '1' })
    }
  // Methods on the classes themselves, as a local MasterData / VBase will have them.
  vtexApi.MasterData.prototype.createDocument = record('createDocument')
  vtexApi.VBase.prototype.getJSON = record('getJSON')
  t.after(() => {
    delete vtexApi.MasterData.prototype.createDocument
    delete vtexApi.VBase.prototype.getJSON
  })
  process.env.VTEX_APP_ID = 'vendor.my-app@1.2.3'
  const Reviews = vtexClients.masterDataFor('reviews')
  const reviews = new Reviews({ account: 'a', workspace: 'dev', production: false }, {})
  await reviews.save({ stars: 5 })
  const Bucket = vtexClients.vbaseFor('settings')
  await new Bucket({ account: 'a', workspace: 'dev' }, {}).get('k', true)
  assert.deepEqual(calls, [
    [
      'MasterData',
      'createDocument',
      [{ dataEntity: 'vendor_my_app_reviews', fields: { stars: 5 }, schema: '1.2.3-dev' }],
    ],
    ['VBase', 'getJSON', ['settings', 'k', true]],
  ])
})
