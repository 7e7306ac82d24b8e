'use strict'
// The local platform clients (apps, vbase, masterdata) and the host's PlatformCalls, with the
// socket replaced by a stub that answers like ioctl.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Readable } = require('node:stream')
const vtexApi = require('../vtex-api')
const { PlatformCalls } = require('../host/platform')

/** Routes `hooks.platform` to `answer(call)` for the duration of `fn`. */
async function withPlatform(answer, fn) {
  const saved = vtexApi.__ioctl.platform
  vtexApi.__ioctl.platform = (call) => {
    try {
      return Promise.resolve(answer(call))
    } catch (err) {
      return Promise.reject(err)
    }
  }
  try {
    await fn()
  } finally {
    vtexApi.__ioctl.platform = saved
  }
}

test('vbase.getJSON: a missing file is a 404 error, or null with nullIfNotFound', async () => {
  const vbase = new vtexApi.IOClients({}, {}).vbase
  await withPlatform(
    () => {
      throw { status: 404, message: 'VBase: no file `p` in bucket `b`' }
    },
    async () => {
      const err = await vbase.getJSON('b', 'p').catch((e) => e)
      assert.equal(err.response.status, 404)
      assert.equal(err.status, 404)
      assert.equal(err.message, "vbase.getRawJSON('b', 'p'): VBase: no file `p` in bucket `b`")
      assert.equal(await vbase.getJSON('b', 'p', true), null)
    },
  )
})

test('vbase saves buffers, strings and streams as base64 with their flags', async () => {
  const calls = []
  const vbase = new vtexApi.IOClients({}, {}).vbase
  await withPlatform(
    (call) => (calls.push(call), { hash: 'h' }),
    async () => {
      await vbase.saveFile('b', 'f', Readable.from([Buffer.from('he'), 'llo']), false, 5, 'etag1')
      await vbase.saveJSON('b', 'j', { a: 1 })
    },
  )
  assert.deepEqual(calls[0], {
    service: 'vbase',
    method: 'saveFile',
    bucket: 'b',
    path: 'f',
    data: Buffer.from('hello').toString('base64'),
    content_type: 'application/octet-stream',
    gzip: false,
    ttl: 5,
    if_match: 'etag1',
  })
  assert.equal(Buffer.from(calls[1].data, 'base64').toString(), '{"a":1}')
  assert.equal(calls[1].content_type, 'application/json')
})

test('masterdata.searchDocumentsWithPaginationInfo returns the pagination with the total', async () => {
  const md = new vtexApi.IOClients({}, {}).masterdata
  let seen
  await withPlatform(
    (call) => ((seen = call), { data: [{ id: '1' }], total: 42 }),
    async () => {
      const got = await md.searchDocumentsWithPaginationInfo({
        dataEntity: 'CL',
        fields: ['id'],
        where: 'a=1',
        pagination: { page: 2, pageSize: 10 },
      })
      assert.deepEqual(got, { data: [{ id: '1' }], pagination: { page: 2, pageSize: 10, total: 42 } })
    },
  )
  assert.deepEqual(seen, {
    service: 'masterdata',
    method: 'searchDocuments',
    data_entity: 'CL',
    fields: ['id'],
    page: 2,
    page_size: 10,
    where: 'a=1',
  })
})

test('masterdata searches and scrolls forward their schema', async () => {
  const md = new vtexApi.IOClients({}, {}).masterdata
  const seen = []
  await withPlatform(
    (call) => (
      seen.push(call),
      call.method === 'scrollDocuments' ? { mdToken: 't', data: [] } : { data: [], total: 0 }
    ),
    async () => {
      await md.searchDocuments({ dataEntity: 'CL', schema: 'v1', pagination: { page: 1, pageSize: 5 } })
      await md.scrollDocuments({ dataEntity: 'CL', schema: 'v1', size: 10 })
      await md.searchDocuments({ dataEntity: 'CL' })
    },
  )
  assert.deepEqual(
    seen.map((c) => [c.method, c.schema]),
    [
      ['searchDocuments', 'v1'],
      ['scrollDocuments', 'v1'],
      ['searchDocuments', undefined],
    ],
  )
  assert.ok(!('schema' in seen[2]), 'no schema key when none is given')
})

test('PlatformCalls pairs answers with calls and keeps at most N in flight', async () => {
  const sent = []
  const calls = new PlatformCalls((m) => sent.push(m), 2)
  const results = [calls.call({ n: 1 }), calls.call({ n: 2 }), calls.call({ n: 3 })]
  const second = assert.rejects(results[1], { status: 409, message: 'stale' })
  await new Promise((r) => setImmediate(r))
  assert.equal(sent.length, 2, 'the third waits for a slot')
  calls.onResult({ request: 2, ok: false, error: { status: 409, message: 'stale' } })
  calls.onResult({ request: 1, ok: true, value: 'one' })
  await new Promise((r) => setImmediate(r))
  assert.equal(sent.length, 3)
  calls.onResult({ request: 3, ok: true })
  assert.equal(await results[0], 'one')
  await second
  assert.equal(await results[2], null)
})
