'use strict'
// Unit tests of the route context on the real Koa: cookies, redirect, attachment, ctx.throw,
// ctx.assert, streams, VTEX's additions (ctx.vtex, ctx.clients, params) and error answers.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { Readable } = require('node:stream')
const vtexApi = require('../vtex-api')
const logging = require('../host/logging')
const { loaded } = require('../host/service')
const { RouteServer, createServer } = require('../host/routes')

const logs = []
logging.setSink((message) => logs.push(message))

const routes = {
  cookies(ctx) {
    ctx.cookies.set('plain', 'v1')
    ctx.cookies.set('safe', 'v2', { secure: true, sameSite: 'lax', maxAge: 1000 })
    ctx.body = { seen: ctx.cookies.get('incoming') ?? null }
  },
  redirect(ctx) {
    ctx.redirect('/elsewhere?a=b c')
  },
  attachment(ctx) {
    ctx.attachment('r.pdf')
    ctx.body = Buffer.from('%PDF-1.4')
  },
  throws(ctx) {
    ctx.throw(418, 'short and stout', { code: 'TEAPOT' })
  },
  asserts(ctx) {
    ctx.assert(ctx.query.id, 400, 'id is required')
    ctx.assert.equal(ctx.query.id, '7', 422, 'id must be 7')
    ctx.body = 'ok'
  },
  stream(ctx) {
    ctx.type = 'text'
    ctx.body = Readable.from(['a', 'b', 'c'])
  },
  missingFile(ctx) {
    ctx.body = fs.createReadStream(path.join(os.tmpdir(), `ioctl-no-such-file-${process.pid}`))
  },
  trace(ctx) {
    ctx.body = { trace: logging.currentTrace() }
  },
  vtex(ctx) {
    ctx.set('x-kept', 'yes')
    if (ctx.query.fail) throw new vtexApi.ForbiddenError('not you')
    ctx.body = {
      account: ctx.vtex.account,
      route: ctx.vtex.route,
      params: ctx.params,
      clients: typeof ctx.clients.events.sendEvent,
      state: ctx.state,
    }
  },
}

let server
let base

// The same server as on ioctl's socket, on a loopback port here so that fetch can reach it.
test.before(async () => {
  loaded.service = new vtexApi.Service({ routes })
  loaded.state = 'loaded'
  server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${server.address().port}`
})

test.after(() => server.close())

/** A request as ioctl proxies it. */
function request(routeId, pathAndQuery = '/', { headers = {}, params = {} } = {}) {
  return fetch(`${base}${pathAndQuery}`, {
    redirect: 'manual',
    headers: {
      'x-ioctl-route-id': routeId,
      'x-ioctl-route-params': encodeURIComponent(JSON.stringify(params)),
      'x-ioctl-route-type': 'public',
      ...headers,
    },
  })
}

test('cookies are read and set, secure ones too over plain http', async () => {
  const res = await request('cookies', '/', { headers: { cookie: 'incoming=hi; other=x' } })
  assert.deepEqual(await res.json(), { seen: 'hi' })
  const set = res.headers.getSetCookie()
  assert.equal(set[0], 'plain=v1; path=/; httponly')
  assert.match(set[1], /^safe=v2; path=\/; expires=.* GMT; samesite=lax; secure; httponly$/)
})

test('redirect sets Location (encoded) and 302', async () => {
  const res = await request('redirect')
  assert.equal(res.status, 302)
  assert.equal(res.headers.get('location'), '/elsewhere?a=b%20c')
  assert.match(await res.text(), /Redirecting to/)
})

test('attachment sets Content-Disposition and the type from the extension', async () => {
  const res = await request('attachment')
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename="r.pdf"')
  assert.equal(res.headers.get('content-type'), 'application/pdf')
  assert.equal(await res.text(), '%PDF-1.4')
})

test('ctx.throw answers its status with VTEX error JSON, logged against the route', async () => {
  logs.length = 0
  const res = await request('throws')
  assert.equal(res.status, 418)
  assert.deepEqual(await res.json(), { message: 'short and stout', code: 'TEAPOT' })
  const line = logs.find((l) => l.type === 'log' && l.level === 'error')
  assert.equal(line.handler, 'throws')
  assert.match(line.message, /^route throws failed: ImATeapotError: short and stout/)
  assert.doesNotMatch(line.message, /node_modules/, 'koa frames are trimmed')
})

test('ctx.assert and ctx.assert.equal throw HTTP errors', async () => {
  let res = await request('asserts', '/')
  assert.equal(res.status, 400)
  assert.equal((await res.json()).message, 'id is required')
  res = await request('asserts', '/?id=8')
  assert.equal(res.status, 422)
  res = await request('asserts', '/?id=7')
  assert.equal(await res.text(), 'ok')
})

test('a stream body is piped; a missing file answers 404', async () => {
  let res = await request('stream')
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(await res.text(), 'abc')
  res = await request('missingFile')
  assert.equal(res.status, 404)
  assert.equal((await res.json()).code, 'ENOENT')
})

test('ctx.vtex, ctx.clients and params; VTEX errors keep the headers the app set', async () => {
  let res = await request('vtex', '/x', { params: { id: '1' } })
  const body = await res.json()
  assert.deepEqual(body.route, { id: 'vtex', params: { id: '1' }, type: 'public' })
  assert.deepEqual(body.params, { id: '1' })
  assert.equal(body.clients, 'function')
  assert.deepEqual(body.state, {})
  res = await request('vtex', '/x?fail=1')
  assert.equal(res.status, 403)
  assert.equal(res.headers.get('x-kept'), 'yes')
  assert.deepEqual(await res.json(), { message: 'not you', code: 'FORBIDDEN' })
})

test("x-ioctl-trace is the request's trace (its platform calls carry it); anything else is none", async () => {
  const trace = async (value) => {
    const headers = value === undefined ? {} : { 'x-ioctl-trace': value }
    return (await (await request('trace', '/', { headers })).json()).trace
  }
  assert.equal(await trace('42'), 42)
  assert.equal(await trace(undefined), null)
  assert.equal(await trace('-3'), null)
  assert.equal(await trace('x'), null)
})

test('requests without ioctl headers, or for unknown routes, are refused', async () => {
  const plain = await new Promise((resolve) => http.get(`${base}/`, resolve))
  assert.equal(plain.statusCode, 400)
  plain.resume()
  const res = await request('ghost')
  assert.equal(res.status, 404)
  assert.match(await res.text(), /no route handler "ghost"/)
})

test("the route server listens on ioctl's unix socket, and on nothing else", async () => {
  assert.throws(() => new RouteServer(), /needs the unix socket ioctl names \(IOCTL_ROUTES_SOCKET\)/)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-test-'))
  const socketPath = path.join(dir, 'routes.sock')
  const onSocket = new RouteServer(socketPath)
  try {
    assert.deepEqual(await onSocket.start(), { socket: socketPath })
    const answer = await new Promise((resolve, reject) => {
      const req = http.get({ socketPath, path: '/', headers: { 'x-ioctl-route-id': 'attachment' } }, resolve)
      req.on('error', reject)
    })
    assert.equal(answer.statusCode, 200)
    answer.resume()
  } finally {
    onSocket.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
