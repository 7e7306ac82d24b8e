'use strict'
// The stand-in's side of ioctl's boundary: which hosts are VTEX's, the `http` platform call each
// client makes (URL, headers, body, `via`, `app`), answers turned into axios responses and
// axios-shaped errors (a fixture's 404, a `missing` call's 501 with the session's message),
// retries and timeouts across it, and the calls of tenant, segment and session that the
// session answers locally. The platform is a fake `send` answering the `http` calls.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const zlib = require('node:zlib')
const vtexApi = require('../vtex-api')
const { answering } = require('./support/platform')
const outbound = require('../vtex-api/outbound')
const { HttpClient } = require('../vtex-api/http')

/** An answer as ioctl sends it (runtime/outbound.rs's Answer): the body base64. */
function answer(status, body, { headers = {}, source = 'fixture', message } = {}) {
  const bytes = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
  const value = { status, headers, body: bytes && bytes.toString('base64'), source }
  if (message !== undefined) value.message = message
  return value
}

const json = { 'content-type': 'application/json' }

const boundary = answering

/** The ctx.vtex the host gives a request of account `acc`, workspace `dev`. */
const context = () => ({
  account: 'acc',
  workspace: 'dev',
  authToken: 'ioctl-local-auth-token',
  userAgent: 'vendor.app@1.2.3',
  operationId: 'op-1',
  locale: 'en-US',
  tenant: { locale: 'en-US' },
  host: 'dev--acc.myvtex.com',
  product: '',
  region: 'local',
})

test('VTEX hosts: every host under VTEX domains, nothing else', () => {
  const vtex = [
    'acc.vtexcommercestable.com.br',
    'portal.vtexcommercestable.com.br',
    'acc.vtexcommercebeta.com.br',
    'dev--acc.myvtex.com',
    'api.vtex.com',
    'app.io.vtex.com',
    'infra.io.vtex.com',
    'vtexid.vtex.com.br',
    'acc.vtexpayments.com.br',
    'messages.vtex.aws-us-east-1.vtex.io',
    'API.VTEX.COM',
    'api.vtex.com.',
  ]
  const other = ['example.com', 'vtex.com', 'myvtex.com', 'evilvtex.com', 'api.vtex.com.evil.io', 'localhost', '', null]
  assert.deepEqual(
    vtex.filter((host) => !outbound.isVtexHost(host)),
    [],
  )
  assert.deepEqual(
    other.filter((host) => outbound.isVtexHost(host)),
    [],
  )
  assert.equal(outbound.isVtexUrl('https://api.vtex.com/acc/dataentities/CL/search'), true)
  assert.equal(outbound.isVtexUrl('ftp://api.vtex.com/x'), false)
  assert.equal(outbound.isVtexUrl('/api/relative'), false)
})

test('an http call carries lower-case headers without the connection ones, the body base64, the app', () => {
  const call = outbound.httpCall({
    via: 'ctx.clients.tenant.info',
    method: 'post',
    url: 'http://app.io.vtex.com/vtex.search-graphql/v0/acc/dev/_v/graphql',
    headers: { 'Content-Type': 'application/json', Host: 'x', Connection: 'keep-alive', 'Content-Length': 2, X: null },
    body: '{}',
    app: 'vtex.search-graphql@0.x',
  })
  assert.deepEqual(call, {
    service: 'http',
    via: 'ctx.clients.tenant.info',
    method: 'POST',
    url: 'http://app.io.vtex.com/vtex.search-graphql/v0/acc/dev/_v/graphql',
    headers: { 'content-type': 'application/json' },
    body: 'e30=',
    app: 'vtex.search-graphql@0.x',
  })
  assert.equal(outbound.httpCall({ via: 'fetch', method: 'GET', url: 'https://api.vtex.com/x' }).body, null)
  assert.throws(
    () => outbound.httpCall({ via: 'x', method: 'POST', url: 'u', body: Buffer.alloc(outbound.MAX_BODY_BYTES + 1) }),
    /more than ioctl carries \(32 MiB\)/,
  )
})

class Orders extends vtexApi.JanusClient {
  order(id) {
    return this.http.get(`/api/oms/pvt/orders/${id}`, { headers: { VtexIdclientAutCookie: this.context.authToken } })
  }
  raw(config) {
    return this.http.getRaw('/api/raw', config)
  }
}

class Clients extends vtexApi.IOClients {
  get orders() {
    return this.getOrSet('orders', Orders)
  }
}

test("a Janus client's call: VTEX's URL and headers, named by the ctx.clients method, answered as axios answers", async (t) => {
  const calls = boundary(t, () => answer(200, { orderId: '1' }, { headers: { ...json, 'x-vtex-cache': 'miss' } }))
  const clients = new Clients({}, context())
  assert.deepEqual(await clients.orders.order('1'), { orderId: '1' })
  const [call] = calls
  assert.deepEqual(
    { ...call, text: undefined },
    {
      service: 'http',
      via: 'ctx.clients.orders.order',
      method: 'GET',
      url: 'http://portal.vtexcommercestable.com.br/api/oms/pvt/orders/1?an=acc',
      headers: {
        accept: 'application/json, text/plain, */*',
        'accept-encoding': 'gzip',
        'proxy-authorization': 'ioctl-local-auth-token',
        'user-agent': 'vendor.app@1.2.3',
        vtexidclientautcookie: 'ioctl-local-auth-token',
        'x-forwarded-host': 'dev--acc.myvtex.com',
        'x-vtex-locale': 'en-US',
        'x-vtex-operation-id': 'op-1',
        'x-vtex-tenant': 'en-US',
      },
      body: null,
      app: null,
      text: undefined,
    },
  )
  // Made by hand rather than through ctx.clients: named by its class.
  await new Orders(context()).order('2')
  assert.equal(calls[1].via, 'Orders.order')
  // The raw response is axios's: status, headers, parsed data, the config.
  const res = await clients.orders.raw({ params: { ids: [1, 2] } })
  assert.deepEqual(
    [res.status, res.statusText, res.headers['x-vtex-cache'], res.data],
    [200, 'OK', 'miss', { orderId: '1' }],
  )
  assert.equal(calls[2].url, 'http://portal.vtexcommercestable.com.br/api/raw?an=acc&ids=1&ids=2')
  assert.equal(res.config.url, 'http://portal.vtexcommercestable.com.br/api/raw')
})

test("a fixture's 404 rejects as axios rejects: err.response with status, data and headers", async (t) => {
  const calls = boundary(t, () => answer(404, { message: 'no order' }, { headers: json }))
  const err = await new Clients({}, context()).orders.order('9').catch((e) => e)
  assert.equal(
    err.message,
    'Orders GET http://portal.vtexcommercestable.com.br/api/oms/pvt/orders/9?an=acc failed after 1 attempt: ' +
      'Request failed with status code 404',
  )
  assert.deepEqual(
    [err.response.status, err.response.data, err.response.headers, err.isAxiosError],
    [404, { message: 'no order' }, json, true],
  )
  assert.equal(err.config.method, 'get')
  assert.equal(calls.length, 1)
  // validateStatus decides, as in axios.
  const res = await new Orders(context()).raw({ validateStatus: () => true })
  assert.equal(res.status, 404)
})

test("a missing call rejects with the session's message, a 501 err.response, and is never retried", async (t) => {
  const message =
    "ctx.clients.orders.order goes to VTEX's cloud (GET http://portal.vtexcommercestable.com.br/...): " +
    'nothing answers it locally; add a fixture or link with --cloud'
  const calls = boundary(t, () => answer(501, undefined, { source: 'missing', message }))
  const clients = new Clients({ default: { retries: 3, initialBackoffDelay: 1 } }, context())
  const err = await clients.orders.order('1').catch((e) => e)
  assert.equal(err.message, message, 'the message as the session wrote it, not reworded')
  assert.equal(err.response.status, 501)
  assert.deepEqual(err.response.data, { message })
  assert.deepEqual([err.isAxiosError, typeof err.response.headers, err.config.url], [true, 'object', err.config.url])
  assert.equal(calls.length, 1, 'a missing answer is the same next time: not retried')
})

test("a 503 from a fixture is retried with the client's options; ioctl's own refusal says so", async (t) => {
  let n = 0
  const calls = boundary(t, () => (++n === 1 ? answer(503, {}) : answer(200, { ok: true })))
  const logs = []
  t.mock.method(require('../vtex-api/hooks'), 'log', (level, text) => logs.push([level, text]))
  const clients = new Clients({ default: { retries: 2, initialBackoffDelay: 1 } }, context())
  assert.deepEqual(await clients.orders.order('1'), { ok: true })
  assert.equal(calls.length, 2)
  assert.match(
    logs[0][1],
    /^Orders GET http:\/\/portal\.vtexcommercestable\.com\.br\/api\/oms\/pvt\/orders\/1\?an=acc failed \(attempt 1\/3: status 503\); retrying in \d+ ms$/,
  )

  vtexApi.__ioctl.platform = () => Promise.reject({ status: 400, message: 'unknown platform call: http' })
  const err = await new Orders(context()).order('1').catch((e) => e)
  assert.match(err.message, /^ioctl could not answer Orders\.order: unknown platform call: http$/)
  assert.deepEqual([err.response.status, err.code], [400, 'EIOCTL'])
})

test('an answer that does not come in time fails the attempt as axios times out', async (t) => {
  boundary(t, () => new Promise(() => {}))
  const err = await new Orders(context(), { timeout: 30 }).order('1').catch((e) => e)
  assert.match(err.message, /failed after 1 attempt: timeout of 30ms exceeded$/)
  assert.equal(err.code, 'ECONNABORTED')
})

test('responseType, Set-Cookie and gzip are as the http adapter gives them', async (t) => {
  const body = zlib.gzipSync(Buffer.from('hello'))
  boundary(t, () =>
    answer(200, body, {
      headers: { 'content-encoding': 'gzip', 'set-cookie': 'a=1; Path=/\nb=2', 'content-type': 'text/plain' },
    }),
  )
  const client = new HttpClient({ baseURL: 'https://acc.vtexcommercestable.com.br' })
  const text = await client.getRaw('/t')
  assert.deepEqual(
    [text.data, text.headers['set-cookie'], text.headers['content-encoding']],
    ['hello', ['a=1; Path=/', 'b=2'], undefined],
  )
  const buffer = await client.getBuffer('/b')
  assert.ok(Buffer.isBuffer(buffer.data) && buffer.data.toString() === 'hello')
  const stream = await client.getStream('/s')
  let streamed = ''
  for await (const chunk of stream) streamed += chunk
  assert.equal(streamed, 'hello')
  // An answer that does not decode fails the call saying so (it never leaves it waiting).
  vtexApi.__ioctl.platform = async () =>
    answer(200, Buffer.from('not gzip'), { headers: { 'content-encoding': 'gzip' } })
  await assert.rejects(
    client.get('/broken'),
    /ioctl could not answer GET https:\/\/acc\.vtexcommercestable\.com\.br\/broken: incorrect header check/,
  )
})

test('AppClient, InfraClient and AppGraphQLClient call the app at its VTEX IO URL, as the app', async (t) => {
  const calls = boundary(t, (call) =>
    call.url.endsWith('/_v/graphql')
      ? answer(200, { data: { product: { id: '1' } } }, { headers: json, source: 'linked' })
      : answer(200, { ok: true }, { headers: json, source: 'local' }),
  )
  class Search extends vtexApi.AppGraphQLClient {
    constructor(ctx, options) {
      super('vtex.search-graphql@0.x', ctx, options)
    }
    product(id) {
      return this.graphql.query({ query: 'query P($id: ID) { product(id: $id) { id } }', variables: { id } })
    }
  }
  class Reviews extends vtexApi.AppClient {
    constructor(ctx, options) {
      super('vendor.reviews@2.x', ctx, options)
    }
    list() {
      return this.http.get('/reviews')
    }
  }
  class Bus extends vtexApi.InfraClient {
    constructor(ctx, options) {
      super('courier@0.x', ctx, options)
    }
    ping() {
      return this.http.get('/ping')
    }
  }
  class All extends vtexApi.IOClients {
    get search() {
      return this.getOrSet('search', Search)
    }
  }
  assert.deepEqual(await new All({}, context()).search.product('1'), { data: { product: { id: '1' } } })
  assert.deepEqual(
    [calls[0].via, calls[0].method, calls[0].url, calls[0].app, calls[0].headers.authorization],
    [
      'ctx.clients.search.product',
      'POST',
      'http://app.io.vtex.com/vtex.search-graphql/v0/acc/dev/_v/graphql',
      'vtex.search-graphql@0.x',
      'bearer ioctl-local-auth-token',
    ],
  )
  assert.deepEqual(JSON.parse(calls[0].text), {
    query: 'query P($id: ID) { product(id: $id) { id } }',
    variables: { id: '1' },
  })
  await new Reviews(context()).list()
  assert.deepEqual(
    [calls[1].url, calls[1].app, calls[1].via],
    ['http://app.io.vtex.com/vendor.reviews/v2/acc/dev/reviews', 'vendor.reviews@2.x', 'Reviews.list'],
  )
  await new Bus(context()).ping()
  assert.deepEqual([calls[2].url, calls[2].app], ['http://infra.io.vtex.com/courier/v0/acc/dev/ping', null])
  assert.throws(() => new Reviews.__proto__('nope', context()), /the app must be 'vendor\.name@major\.x'/)
})

test('AppGraphQLClient: GraphQL errors reject unless throwOnError is false; a missing app says why, with a 501', async (t) => {
  let next = answer(200, { data: null, errors: [{ message: 'no such field' }] }, { headers: json, source: 'linked' })
  boundary(t, () => next)
  const client = new vtexApi.AppGraphQLClient('vtex.search-graphql@0.x', context())
  await assert.rejects(client.graphql.query({ query: '{ x }' }), {
    name: 'GraphQLErrors',
    message: 'AppGraphQLClient: GraphQL errors from vtex.search-graphql@0.x: no such field',
  })
  assert.deepEqual((await client.graphql.query({ query: '{ x }', throwOnError: false })).errors, [
    { message: 'no such field' },
  ])
  const message =
    "vtex.search-graphql@0.x is not linked in this workspace and goes to VTEX's cloud: add a fixture or link with --cloud"
  next = answer(501, undefined, { source: 'missing', message })
  const err = await client.graphql.query({ query: '{ x }' }).catch((e) => e)
  assert.deepEqual([err.message, err.response.status, err.response.data], [message, 501, { message }])
})

test('ExternalClient: a VTEX host crosses the boundary with the app token for VTEX, any other host is the real network', async (t) => {
  const calls = boundary(t, () => answer(200, [{ id: 'c1' }], { headers: json, source: 'local' }))
  class MasterDataByUrl extends vtexApi.ExternalClient {
    constructor(ctx, options) {
      super(`https://api.vtex.com/${ctx.account}`, ctx, options)
    }
    search() {
      return this.http.get('/dataentities/CL/search', {
        params: { _where: 'age>30', _fields: 'id' },
        headers: { 'REST-Range': 'resources=0-9' },
      })
    }
  }
  assert.deepEqual(await new MasterDataByUrl(context()).search(), [{ id: 'c1' }])
  assert.equal(calls[0].url, 'https://api.vtex.com/acc/dataentities/CL/search?_where=age%3E30&_fields=id')
  assert.deepEqual(
    [calls[0].headers['rest-range'], calls[0].headers['proxy-authorization']],
    ['resources=0-9', 'ioctl-local-auth-token'],
  )

  const seen = []
  const server = http.createServer((req, res) => {
    seen.push(req.headers)
    res.setHeader('content-type', 'application/json')
    res.end('{"real":true}')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  class Local extends vtexApi.ExternalClient {
    constructor(ctx, options) {
      super(`http://127.0.0.1:${server.address().port}`, ctx, options)
    }
  }
  assert.deepEqual(await new Local(context()).http.get('/x'), { real: true })
  assert.equal(calls.length, 1, 'no platform call for another host')
  assert.equal(seen[0]['proxy-authorization'], undefined, "the app's token never leaves for another host")
  assert.equal(seen[0]['user-agent'], 'vendor.app@1.2.3')
})

test("licenseManager asks License Manager with the user's token; a refusal reads as no access", async (t) => {
  const calls = boundary(t, (call) =>
    call.headers.vtexidclientautcookie === 'admin-token' ? answer(200, '') : answer(403, { message: 'no' }),
  )
  const clients = new vtexApi.IOClients({}, context())
  assert.ok(clients.licenseManager instanceof vtexApi.LicenseManager)
  assert.ok(clients.licenseManager instanceof vtexApi.JanusClient)
  assert.equal(await clients.licenseManager.canAccessResource('admin-token', 'b2b-organizations-edit'), true)
  assert.equal(await clients.licenseManager.canAccessResource('shopper-token', 'b2b organizations'), false)
  assert.deepEqual(
    calls.map((c) => [c.via, c.method, c.url]),
    [
      [
        'ctx.clients.licenseManager.canAccessResource',
        'GET',
        'http://portal.vtexcommercestable.com.br/api/license-manager/resources/b2b-organizations-edit/access?an=acc',
      ],
      [
        'ctx.clients.licenseManager.canAccessResource',
        'GET',
        'http://portal.vtexcommercestable.com.br/api/license-manager/resources/b2b%20organizations/access?an=acc',
      ],
    ],
  )
})

test('tenant, segment and session make the calls @vtex/api makes, which the session answers locally', async (t) => {
  const calls = boundary(t, (call) => {
    if (call.url.includes('/api/segments')) {
      return answer(
        200,
        { channel: '1', currencyCode: 'USD' },
        { headers: { ...json, 'set-cookie': 'vtex_segment=seg-2; Path=/' } },
      )
    }
    if (call.url.includes('/api/sessions')) {
      return answer(
        200,
        { id: 's1', namespaces: {} },
        { headers: { ...json, 'set-cookie': 'vtex_session=s-2; Path=/' } },
      )
    }
    return answer(200, { id: 'acc', defaultLocale: 'en-US' }, { headers: json, source: 'local' })
  })
  const clients = new vtexApi.IOClients({}, { ...context(), segmentToken: 'seg-1' })
  assert.ok(clients.tenant instanceof vtexApi.TenantClient && clients.tenant instanceof vtexApi.JanusClient)
  assert.deepEqual(await clients.tenant.info(), { id: 'acc', defaultLocale: 'en-US' })
  assert.deepEqual(await clients.segment.getSegment(), { channel: '1', currencyCode: 'USD' })
  await clients.segment.getSegmentByToken('seg-9')
  const created = await clients.segment.getOrCreateSegment({ utm_source: 'x', ignored: 'y', cultureInfo: 'pt-BR' })
  assert.deepEqual(created, { segmentData: { channel: '1', currencyCode: 'USD' }, segmentToken: 'seg-2' })
  const session = await clients.session.getSession('s-1', ['profile.email', 'store.channel'])
  assert.deepEqual(session, { sessionData: { id: 's1', namespaces: {} }, sessionToken: 's-2' })
  await clients.session.updateSession('k', 'v', ['public.k'], 's-1')
  const P = 'http://portal.vtexcommercestable.com.br'
  assert.deepEqual(
    calls.map((c) => [c.via, c.method, c.url]),
    [
      ['ctx.clients.tenant.info', 'GET', `${P}/api/tenant/tenants?an=acc&q=acc`],
      ['ctx.clients.segment.getSegment', 'GET', `${P}/api/segments/seg-1?an=acc&session_path=&workspace=dev`],
      ['ctx.clients.segment.getSegmentByToken', 'GET', `${P}/api/segments/seg-9?an=acc&session_path=&workspace=dev`],
      [
        'ctx.clients.segment.getOrCreateSegment',
        'GET',
        `${P}/api/segments?an=acc&cultureInfo=pt-BR&utm_source=x&session_path=&workspace=dev`,
      ],
      ['ctx.clients.session.getSession', 'GET', `${P}/api/sessions?an=acc&items=profile.email%2Cstore.channel`],
      ['ctx.clients.session.updateSession', 'POST', `${P}/api/sessions?an=acc&items=public.k`],
    ],
  )
  assert.deepEqual(
    [calls[1].headers['content-type'], calls[1].headers['x-vtex-segment']],
    ['application/json', 'seg-1'],
  )
  assert.equal(calls[4].headers.cookie, 'vtex_session=s-1;')
  assert.deepEqual(JSON.parse(calls[5].text), { public: { k: { value: 'v' } } })
})
