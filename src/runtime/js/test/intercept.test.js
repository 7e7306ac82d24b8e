'use strict'
// The app's own HTTP to VTEX's hosts crosses ioctl's boundary (host/intercept.js): Node's
// http.request / https.get / http.ClientRequest, global fetch and axios (the runtime's copy, the
// one an app without its own gets) to a VTEX host become `http` platform calls answered with
// the answer's status, headers and body (a missing one: 501 and `{message}`); requests to any
// other host reach the real server on loopback untouched, and the stand-in's own client is not
// intercepted a second time.

const test = require('node:test')
const assert = require('node:assert/strict')
const vtexApi = require('../vtex-api')
const { answering } = require('./support/platform')
const intercept = require('../host/intercept')
const packages = require('../packages')

intercept.install()
// Required after install, as an app's modules are: routed when first loaded.
const http = require('node:http')
const https = require('node:https')

const boundary = answering

const answer = (status, body, headers = { 'content-type': 'application/json' }, source = 'local') => ({
  status,
  headers,
  body: Buffer.from(JSON.stringify(body)).toString('base64'),
  source,
})

/** Reads a Node response: [status, headers, body text]. */
function read(res) {
  return new Promise((resolve, reject) => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (chunk) => (text += chunk))
    res.on('end', () => resolve([res.statusCode, res.headers, text]))
    res.on('error', reject)
  })
}

/** A loopback server recording what reaches it. */
async function loopback(t) {
  const seen = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body })
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ real: true, url: req.url }))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  return { seen, url: `http://127.0.0.1:${server.address().port}` }
}

test('which host a request addresses, however http.request is called', () => {
  assert.equal(intercept.requestHost(['https://api.vtex.com/x']), 'api.vtex.com')
  assert.equal(intercept.requestHost([new URL('http://a.myvtex.com:8080/x')]), 'a.myvtex.com')
  assert.equal(intercept.requestHost([{ hostname: 'api.vtex.com', path: '/x' }]), 'api.vtex.com')
  assert.equal(intercept.requestHost([{ host: 'api.vtex.com:443' }]), 'api.vtex.com')
  assert.equal(intercept.requestHost(['http://127.0.0.1/x', { hostname: 'api.vtex.com' }]), 'api.vtex.com')
  assert.equal(intercept.requestHost([{ socketPath: '/tmp/s', host: 'api.vtex.com' }]), null)
  assert.equal(intercept.requestHost([{ path: '/' }]), 'localhost')
  assert.equal(intercept.libraryOf('axios/0.21.4', 'http'), 'axios')
  assert.equal(intercept.libraryOf('curl', 'fetch'), 'fetch')
})

test('http.request and https.get to a VTEX host are answered across the boundary', async (t) => {
  const calls = boundary(t, () =>
    answer(200, [{ id: 'c1' }], { 'content-type': 'application/json', 'x-from': 'ioctl' }),
  )
  const req = http.request('http://acc.vtexcommercestable.com.br/api/dataentities/CL/search?_where=a%3D1', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'REST-Range': 'resources=0-9' },
  })
  req.end('{"q":1}')
  const [status, headers, body] = await new Promise((resolve, reject) => {
    req.on('response', (res) => read(res).then(resolve, reject))
    req.on('error', reject)
  })
  assert.deepEqual([status, headers['x-from'], JSON.parse(body)], [200, 'ioctl', [{ id: 'c1' }]])
  assert.deepEqual(
    [calls[0].via, calls[0].method, calls[0].url, calls[0].text, calls[0].headers['rest-range'], calls[0].app],
    [
      'http',
      'POST',
      'http://acc.vtexcommercestable.com.br/api/dataentities/CL/search?_where=a%3D1',
      '{"q":1}',
      'resources=0-9',
      null,
    ],
  )
  assert.ok(!Object.keys(calls[0].headers).some((name) => name.startsWith('x-interceptors') || name === 'host'))

  const got = await new Promise((resolve, reject) =>
    https
      .get('https://api.vtex.com/acc/dataentities/CL/documents/1', (res) => read(res).then(resolve, reject))
      .on('error', reject),
  )
  assert.equal(got[0], 200)
  assert.equal(calls[1].url, 'https://api.vtex.com/acc/dataentities/CL/documents/1')
  // Constructed directly, too.
  const direct = new http.ClientRequest({ hostname: 'dev--acc.myvtex.com', path: '/_v/x' })
  direct.end()
  const third = await new Promise((resolve, reject) => direct.on('response', (res) => read(res).then(resolve, reject)))
  assert.equal(third[0], 200)
  assert.equal(calls[2].url, 'http://dev--acc.myvtex.com/_v/x')
})

test("fetch and axios to a VTEX host are answered; a missing call is a 501 with the session's message", async (t) => {
  const message =
    "POST https://vtexid.vtex.com.br/api/vtexid/credential/validate goes to VTEX's cloud: add a fixture or link with --cloud"
  let missing = false
  const calls = boundary(t, () =>
    missing
      ? { status: 501, headers: {}, body: null, source: 'missing', message }
      : answer(200, { authStatus: 'Success', user: 'dev@local' }),
  )
  const res = await fetch('https://vtexid.vtex.com.br/api/vtexid/credential/validate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: 't' }),
  })
  assert.deepEqual([res.status, await res.json()], [200, { authStatus: 'Success', user: 'dev@local' }])
  assert.deepEqual([calls[0].via, calls[0].method, calls[0].text], ['fetch', 'POST', '{"token":"t"}'])

  const axios = packages.load('axios')
  const { data } = await axios.post('https://vtexid.vtex.com.br/api/vtexid/credential/validate', { token: 't' })
  assert.equal(data.user, 'dev@local')
  assert.deepEqual([calls[1].via, calls[1].text], ['axios', '{"token":"t"}'])

  missing = true
  const refused = await fetch('https://vtexid.vtex.com.br/api/vtexid/credential/validate', {
    method: 'POST',
    body: '{}',
  })
  assert.deepEqual([refused.status, await refused.json()], [501, { message }])
  const err = await axios.get('https://api.vtex.com/acc/x').catch((e) => e)
  assert.deepEqual([err.response.status, err.response.data], [501, { message }], 'axios rejects it as any 501')
})

test("other hosts are Node's own: the loopback server gets the request and no platform call is made", async (t) => {
  const calls = boundary(t, () => answer(200, {}))
  const server = await loopback(t)
  const viaHttp = await new Promise((resolve, reject) =>
    http.get(`${server.url}/plain`, (res) => read(res).then(resolve, reject)).on('error', reject),
  )
  assert.deepEqual(JSON.parse(viaHttp[2]), { real: true, url: '/plain' })
  const viaFetch = await fetch(`${server.url}/fetched`, { method: 'POST', body: 'x' })
  assert.deepEqual(await viaFetch.json(), { real: true, url: '/fetched' })
  const viaAxios = await packages.load('axios').get(`${server.url}/axios`)
  assert.equal(viaAxios.data.url, '/axios')
  assert.deepEqual(
    server.seen.map((r) => [r.method, r.url, r.body]),
    [
      ['GET', '/plain', ''],
      ['POST', '/fetched', 'x'],
      ['GET', '/axios', ''],
    ],
  )
  assert.equal(calls.length, 0)
})

test("the stand-in's clients cross the boundary once: their attempts are not intercepted again", async (t) => {
  const calls = boundary(t, () => answer(200, { id: 'acc' }))
  const server = await loopback(t)
  const clients = new vtexApi.IOClients({}, { account: 'acc', workspace: 'dev', authToken: 'tok' })
  assert.deepEqual(await clients.tenant.info(), { id: 'acc' })
  assert.equal(calls.length, 1)
  assert.equal(calls[0].via, 'ctx.clients.tenant.info')
  class Local extends vtexApi.ExternalClient {
    constructor(ctx, options) {
      super(server.url, ctx, options)
    }
  }
  assert.equal((await new Local({}).http.get('/through-axios')).url, '/through-axios')
  assert.equal(calls.length, 1)
})
