// The API client: relative URLs, JSON both ways, Content-Type on every mutation (DELETE too),
// and errors that carry the status, the ErrorBody's code and its fields.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { api, get, post, del, ApiError } from '../api.js'

const realFetch = globalThis.fetch
let calls = []
function answer(status, body, contentType = 'application/json') {
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init })
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'content-type': contentType },
    })
  }
}
afterEach(() => {
  globalThis.fetch = realFetch
  calls = []
})

test('GET sends no body and no Content-Type, to a relative URL under /_ioctl/api', async () => {
  answer(200, { events: [] })
  assert.deepEqual(await get('/events?limit=5'), { events: [] })
  assert.equal(calls[0].url, '/_ioctl/api/events?limit=5')
  assert.equal(calls[0].init.method, 'GET')
  assert.equal(calls[0].init.body, undefined)
  assert.equal(calls[0].init.headers['Content-Type'], undefined)
})

test('POST and DELETE send JSON with Content-Type: application/json; DELETE sends {}', async () => {
  answer(200, { hash: 'h2' })
  await post('/vbase/b/file?path=a.json', { content: '{}', if_match: 'h1' })
  answer(200, {})
  await del('/vbase/b/file?path=a.json')
  assert.equal(calls[0].init.headers['Content-Type'], 'application/json')
  assert.deepEqual(JSON.parse(calls[0].init.body), { content: '{}', if_match: 'h1' })
  assert.equal(calls[1].init.method, 'DELETE')
  assert.equal(calls[1].init.headers['Content-Type'], 'application/json')
  assert.equal(calls[1].init.body, '{}')
})

test('a 400 carries code and fields; a 412 its body (the current hash)', async () => {
  answer(400, { code: 'bad_request', error: 'settings do not match', fields: [{ path: '/a', message: 'bad' }] })
  const e = await post('/settings/x', { value: {} }).catch((e) => e)
  assert.ok(e instanceof ApiError)
  assert.equal(e.status, 400)
  assert.equal(e.code, 'bad_request')
  assert.deepEqual(e.fields, [{ path: '/a', message: 'bad' }])
  assert.match(e.message, /POST \/_ioctl\/api\/settings\/x: settings do not match/)
  answer(412, { code: 'conflict', error: 'changed', hash: 'h9' })
  const c = await post('/vbase/b/file?path=p', { content: '' }).catch((e) => e)
  assert.equal(c.status, 412)
  assert.equal(c.body.hash, 'h9')
})

test('a 401 says how to log in again; an unreachable session says so', async () => {
  answer(401, 'login required', 'text/plain')
  const e = await get('/overview').catch((e) => e)
  assert.equal(e.code, 'unauthorized')
  assert.match(e.message, /ioctl dashboard/)
  globalThis.fetch = async () => {
    throw new TypeError('fetch failed')
  }
  const u = await api('/overview').catch((e) => e)
  assert.equal(u.code, 'unreachable')
  assert.match(u.message, /does not answer/)
})
