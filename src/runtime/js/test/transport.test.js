'use strict'
// Unit tests of the host's socket side: backpressure (results and pongs ahead of queued logs,
// nothing dropped) and the bound on sendEvent calls in flight.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Transport } = require('../host/transport')
const { EventSender } = require('../host/send_event')

/** A socket whose buffer is "full" until drain() is called. */
class FakeSocket {
  constructor() {
    this.chunks = []
    this.full = false
    this.handlers = {}
  }
  write(chunk) {
    this.chunks.push(chunk)
    return !this.full
  }
  on(event, fn) {
    this.handlers[event] = fn
  }
  drain() {
    this.full = false
    this.handlers.drain()
  }
  end(done) {
    this.ended = true
    done()
  }
  get lines() {
    return this.chunks.join('').split('\n').filter(Boolean).map(JSON.parse)
  }
}

function connected() {
  const transport = new Transport({ onMessage: () => {}, onError: () => {} })
  const socket = new FakeSocket()
  transport.socket = socket
  socket.on('drain', () => transport.flush())
  transport.flush() // as on 'connect'
  return { transport, socket }
}

test('lines go straight out while the socket keeps up', () => {
  const { transport, socket } = connected()
  transport.send({ type: 'log', message: 'a' })
  transport.send({ type: 'pong', id: 1 })
  assert.deepEqual(
    socket.lines.map((l) => l.type),
    ['log', 'pong'],
  )
})

test('once the socket is full, results and pongs overtake queued logs, and nothing is lost', () => {
  const { transport, socket } = connected()
  socket.full = true
  transport.send({ type: 'log', message: 'fills the buffer' }) // written; write() says "full"
  assert.equal(socket.chunks.length, 1)
  for (let i = 0; i < 1000; i += 1) transport.send({ type: 'log', message: `log ${i}` })
  transport.send({ type: 'result', delivery: 7, ok: true })
  transport.send({ type: 'pong', id: 3 })
  assert.equal(socket.chunks.length, 1, 'nothing more is written until drain')
  assert.equal(transport.queued, 1002)
  socket.drain()
  const types = socket.lines.map((l) => l.type)
  assert.deepEqual(types.slice(0, 3), ['log', 'result', 'pong'])
  assert.equal(types.length, 1003)
  assert.deepEqual(
    socket.lines.slice(3).map((l) => l.message),
    Array.from({ length: 1000 }, (_, i) => `log ${i}`),
  )
})

test('a drain that fills the buffer again keeps the rest queued', () => {
  const { transport, socket } = connected()
  socket.full = true
  transport.send({ type: 'log', message: 'x' })
  const big = 'y'.repeat(70 * 1024)
  transport.send({ type: 'log', message: big })
  transport.send({ type: 'log', message: big })
  socket.handlers.drain() // still full: one batch is written, the other waits
  assert.equal(transport.queued, 1)
  socket.drain()
  assert.equal(transport.queued, 0)
  assert.equal(socket.lines.length, 3)
})

test('end waits for the queued lines', () => {
  const { transport, socket } = connected()
  socket.full = true
  transport.send({ type: 'result', delivery: 1, ok: true })
  transport.send({ type: 'log', message: 'late' })
  let closed = false
  transport.end(() => (closed = true))
  assert.equal(closed, false)
  socket.drain()
  assert.equal(closed, true)
  assert.equal(socket.lines.length, 2)
})

test('incoming lines are parsed one message each, across chunks', () => {
  const got = []
  const errors = []
  const transport = new Transport({ onMessage: (m) => got.push(m), onError: (e) => errors.push(e) })
  transport.onData('{"type":"ping","id":1}\n{"type":')
  transport.onData('"ping","id":2}\nnot json\n\n')
  assert.deepEqual(got, [
    { type: 'ping', id: 1 },
    { type: 'ping', id: 2 },
  ])
  assert.equal(errors.length, 1)
  assert.match(errors[0], /unreadable message from ioctl/)
})

test('at most N sendEvent calls wait for their ack; the others wait for a slot', async () => {
  const sent = []
  const sender = new EventSender((line) => sent.push(JSON.parse(line)), 3)
  const calls = Array.from({ length: 5 }, (_, i) => sender.send('', 'k', { i }))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(sent.length, 3)
  assert.equal(sender.inFlight, 3)
  sender.onAck({ request: sent[0].request, event_id: 'e1' })
  assert.equal(await calls[0], 'e1')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(sent.length, 4, 'an ack lets the next call out')
  sender.onAck({ request: sent[1].request, error: 'bus closed' })
  await assert.rejects(calls[1], /bus closed/)
  for (const message of sent.slice(2)) sender.onAck({ request: message.request, event_id: 'e' })
  await new Promise((resolve) => setImmediate(resolve))
  for (const message of sent.slice(4)) sender.onAck({ request: message.request, event_id: 'e' })
  await Promise.all(calls.slice(2))
  assert.equal(sent.length, 5)
  assert.deepEqual(sent[4], { type: 'send_event', request: 5, subject: '', key: 'k', body: { i: 4 } })
  assert.equal(sender.inFlight, 0)
})

test('a body that is not JSON is refused without taking a slot', async () => {
  const sent = []
  const sender = new EventSender((line) => sent.push(line), 1)
  const cyclic = {}
  cyclic.self = cyclic
  await assert.rejects(sender.send('', 'k', cyclic), /the event body cannot be sent as JSON/)
  sender.send('', 'k', {})
  assert.equal(sent.length, 1, 'the one slot was free for the next call')
})
