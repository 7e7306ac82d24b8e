'use strict'
// Who a request is, on ctx.vtex as @vtex/api sets it: the admin's token (VtexIdclientAutCookie
// cookie, or the header the session passes), the shopper's (VtexIdclientAutCookie_{account}),
// the segment and session tokens, and the session data ioctl passes in x-ioctl-session-data,
// which the app never sees as a header. A request without them leaves them undefined.

const test = require('node:test')
const assert = require('node:assert/strict')
const vtexApi = require('../vtex-api')
const logging = require('../host/logging')
const { loaded } = require('../host/service')
const { createServer } = require('../host/routes')
const { identify, readSessionData } = require('../host/identity')

logging.setSink(() => {})
process.env.VTEX_ACCOUNT = 'acc'

const FIELDS = ['adminUserAuthToken', 'storeUserAuthToken', 'janusEnv', 'segmentToken', 'sessionToken', 'sessionData']

let base
let server
test.before(async () => {
  loaded.service = new vtexApi.Service({
    routes: {
      who(ctx) {
        const seen = Object.fromEntries(
          FIELDS.map((name) => [name, ctx.vtex[name] === undefined ? '(undefined)' : ctx.vtex[name]]),
        )
        ctx.body = { ...seen, ioctlHeaders: Object.keys(ctx.headers).filter((h) => h.startsWith('x-ioctl-')) }
      },
    },
  })
  loaded.state = 'loaded'
  server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${server.address().port}`
})
test.after(() => server.close())

/** The route `who` as ioctl proxies it, with `headers`. */
async function who(headers = {}) {
  const res = await fetch(`${base}/`, {
    headers: { 'x-ioctl-route-id': 'who', 'x-ioctl-route-type': 'public', ...headers },
  })
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() }
}

const sessionData = { namespaces: { profile: { email: { value: 'dev@local' } }, authentication: {} } }
const encoded = Buffer.from(JSON.stringify(sessionData)).toString('base64')

test('an admin request: the token the session passes, and the session data, which the app never sees as a header', async () => {
  const { body } = await who({ VtexIdclientAutCookie: 'admin-tok', 'x-ioctl-session-data': encoded })
  assert.deepEqual(body, {
    adminUserAuthToken: 'admin-tok',
    storeUserAuthToken: '(undefined)',
    janusEnv: '(undefined)',
    segmentToken: '(undefined)',
    sessionToken: '(undefined)',
    sessionData,
    ioctlHeaders: [],
  })
})

test("a shopper's cookie, the admin cookie, VTEX's segment and session headers and the Janus environment", async () => {
  const { body } = await who({
    cookie: 'VtexIdclientAutCookie_acc=shopper-tok; VtexIdclientAutCookie=admin-cookie; vtex-commerce-env=beta',
    'x-vtex-segment': 'seg-1',
    'x-vtex-session': 'ses-1',
  })
  assert.deepEqual(body, {
    adminUserAuthToken: 'admin-cookie',
    storeUserAuthToken: 'shopper-tok',
    janusEnv: 'beta',
    segmentToken: 'seg-1',
    sessionToken: 'ses-1',
    sessionData: '(undefined)',
    ioctlHeaders: [],
  })
  // Another account's shopper cookie is not this account's shopper.
  const other = await who({ cookie: 'VtexIdclientAutCookie_other=x' })
  assert.equal(other.body.storeUserAuthToken, '(undefined)')
})

test('a public request without credentials leaves every identity field undefined, as on VTEX', async () => {
  const { body } = await who()
  for (const name of FIELDS) assert.equal(body[name], '(undefined)', name)
})

test('unreadable session data is refused as ioctl refuses its other bad headers', async () => {
  const { status, body } = await who({ 'x-ioctl-session-data': 'not base64 json' })
  assert.equal(status, 400)
  assert.match(body, /^ioctl: unreadable x-ioctl-session-data/)
  assert.equal(readSessionData(undefined), undefined)
  // The event's context has no request: identify is only for routes (here, with no cookies jar).
  const vtex = identify({ account: 'acc' }, { cookies: null, headers: {}, sessionData: undefined })
  assert.equal(vtex.adminUserAuthToken, undefined)
})
