// The hash router's table.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseHash, href } from '../lib/route.js'

test('pages, details and data tabs', () => {
  assert.deepEqual(parseHash(''), { page: 'overview' })
  assert.deepEqual(parseHash('#/nowhere'), { page: 'overview' })
  assert.deepEqual(parseHash('#/events'), { page: 'events' })
  assert.deepEqual(parseHash('#/events/49deac-5'), { page: 'events', id: '49deac-5' })
  assert.deepEqual(parseHash('#/requests/12'), { page: 'requests', id: '12' })
  assert.deepEqual(parseHash('#/dead-letters'), { page: 'dead-letters' })
  assert.deepEqual(parseHash('#/data/vbase'), { page: 'data', tab: 'vbase' })
  assert.deepEqual(parseHash('#/data'), { page: 'data', tab: 'settings' })
  assert.deepEqual(parseHash('#/data/masterdata'), { page: 'data', tab: 'masterdata' })
})

test('href round-trips through parseHash', () => {
  assert.deepEqual(parseHash(href('events', 'a/b c')), { page: 'events', id: 'a/b c' })
})

test('route parameters are found and filled, encoded; missing ones stay visible', async () => {
  const { routeParams, fillRoute } = await import('../lib/route.js')
  assert.deepEqual(routeParams('/_v/order/:id/items/:item_id'), ['id', 'item_id'])
  assert.deepEqual(routeParams('/_v/files/*path'), ['path'])
  assert.deepEqual(routeParams('/_v/status'), [])
  assert.equal(fillRoute('/_v/order/:id/items/:item_id', { id: 'a b', item_id: '7' }), '/_v/order/a%20b/items/7')
  assert.equal(fillRoute('/_v/order/:id', {}), '/_v/order/:id')
  assert.equal(fillRoute('/_v/files/*path', { path: 'a/b c' }), '/_v/files/a/b%20c')
})
