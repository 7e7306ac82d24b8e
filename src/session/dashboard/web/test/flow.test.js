// The event-flow diagram's layout: every edge between existing nodes, no overlapping nodes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { layoutFlow, overlaps } from '../lib/flow.js'

const apps = [
  {
    id: 'vtex.service-course@0.0.1',
    events: [
      { handler: 'liveUsersUpdate', sender: 'vtex.events-example', keys: ['send-event'] },
      { handler: 'onOrder', sender: 'vtex.orders-broadcast', keys: ['order-created', 'order-status-updated'] },
    ],
    routes: [
      { id: 'hcheck', path: '/_v/status/health', public: true },
      { id: 'private', path: '/_v/private/thing', public: false },
    ],
    graphql: '/_v/graphql',
  },
  {
    id: 'vtex.other@1.2.0',
    events: [
      { handler: 'all', sender: 'vtex.events-example', keys: ['send-event'] },
      { handler: 'any', sender: '*', keys: [] },
    ],
    routes: [],
  },
  { id: 'vtex.empty@0.1.0' },
]

test('nodes per concept: senders, (sender, key) pairs, handlers, routes, GraphQL', () => {
  const { nodes, edges, groups } = layoutFlow(apps)
  const kinds = (k) => nodes.filter((n) => n.kind === k).map((n) => n.label)
  assert.deepEqual(kinds('sender').sort(), ['any sender', 'vtex.events-example', 'vtex.orders-broadcast'])
  assert.deepEqual(kinds('key').sort(), ['any key', 'order-created', 'order-status-updated', 'send-event'])
  assert.deepEqual(kinds('handler'), ['liveUsersUpdate', 'onOrder', 'all', 'any'])
  assert.deepEqual(kinds('route'), ['/_v/status/health', '/_v/private/thing'])
  assert.deepEqual(kinds('graphql'), ['/_v/graphql'])
  assert.equal(groups.length, 3)
  // The one send-event key feeds both apps' handlers.
  const ids = new Set(nodes.map((n) => n.id))
  for (const e of edges) assert.ok(ids.has(e.from) && ids.has(e.to), `edge ${e.from} → ${e.to} has both ends`)
  const fromSendEvent = edges.filter((e) => e.from === 'key:vtex.events-example\u0000send-event').map((e) => e.to)
  assert.deepEqual(fromSendEvent.sort(), [
    'handler:vtex.other@1.2.0:all',
    'handler:vtex.service-course@0.0.1:liveUsersUpdate',
  ])
  // sender → key: 4 (one per pair); key → handler: 5 (send-event feeds two).
  assert.equal(edges.length, 4 + 5)
})

test('no two nodes overlap, nodes sit inside their app box, boxes do not overlap', () => {
  const { nodes, groups, width, height } = layoutFlow(apps)
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      assert.ok(!overlaps(nodes[i], nodes[j]), `${nodes[i].id} overlaps ${nodes[j].id}`)
    }
    const n = nodes[i]
    assert.ok(n.x >= 0 && n.y >= 0 && n.x + n.w <= width && n.y + n.h <= height, `${n.id} inside the picture`)
  }
  for (const n of nodes.filter((n) => n.app)) {
    const box = groups.find((g) => g.label === n.app)
    assert.ok(
      n.y >= box.y && n.y + n.h <= box.y + box.h && n.x >= box.x && n.x + n.w <= box.x + box.w,
      `${n.id} in its box`,
    )
  }
  for (let i = 0; i < groups.length; i++) {
    for (let j = i + 1; j < groups.length; j++) assert.ok(!overlaps(groups[i], groups[j]))
  }
})

test('many keys on one handler still do not overlap (they push down past the boxes)', () => {
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
  const { nodes, height } = layoutFlow([{ id: 'a@1.0.0', events: [{ handler: 'h', sender: 's', keys }] }])
  const keyNodes = nodes.filter((n) => n.kind === 'key')
  assert.equal(keyNodes.length, 40)
  for (let i = 1; i < keyNodes.length; i++) assert.ok(!overlaps(keyNodes[i - 1], keyNodes[i]))
  assert.ok(height >= keyNodes[39].y + keyNodes[39].h)
})

test('no apps is an empty picture', () => {
  const empty = layoutFlow([])
  assert.deepEqual([empty.height, empty.groups, empty.nodes, empty.edges], [0, [], [], []])
})
