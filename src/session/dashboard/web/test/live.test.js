// The live stream client: dispatch by type, lagged counts, reconnect with backoff, the end.
import { test, mock } from 'node:test'
import assert from 'node:assert/strict'

class FakeEventSource {
  static all = []
  constructor(url) {
    this.url = url
    this.closed = false
    FakeEventSource.all.push(this)
  }
  close() {
    this.closed = true
  }
  emit(...records) {
    this.onmessage?.({ data: records.map((r) => JSON.stringify(r)).join('\n') })
  }
}
globalThis.EventSource = FakeEventSource
const { Live } = await import('../live.js')

test('records reach subscribers by type; lagged adds up; hello counts connects', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  FakeEventSource.all = []
  const live = new Live()
  const seen = []
  live.on('event', (r) => seen.push(r.id))
  live.start()
  const es = FakeEventSource.all[0]
  assert.equal(es.url, '/_ioctl/api/live')
  es.onopen()
  es.emit({ type: 'hello', account: 'local', workspace: 'dev', protocol: 1 })
  es.emit({ type: 'event', id: 'a-1' })
  es.emit({ type: 'lagged', skipped: 40 })
  es.emit({ type: 'lagged', skipped: 2 })
  assert.deepEqual(seen, ['a-1'])
  assert.equal(live.status.state, 'live')
  assert.equal(live.status.skipped, 40, 'the first lagged shows at once')
  mock.timers.tick(1000)
  assert.equal(live.status.skipped, 42, 'the rest of a burst within a second')
  mock.timers.reset()
  assert.equal(live.connects, 1)
  live.dismissSkipped()
  assert.equal(live.status.skipped, 0)
  live.stop()
})

test('a message of several records, one a line, dispatches each in order', () => {
  FakeEventSource.all = []
  const live = new Live()
  const seen = []
  live.on('*', (r) => seen.push(r.type === 'event' ? r.id : r.type))
  live.start()
  const es = FakeEventSource.all[0]
  es.emit(
    { type: 'event', id: 'a-1' },
    { type: 'delivery', event_id: 'a-1' },
    { type: 'lagged', skipped: 7 },
    { type: 'event', id: 'a-2' },
  )
  assert.deepEqual(seen, ['a-1', 'delivery', 'lagged', 'a-2'])
  assert.equal(live.status.skipped, 7)
  live.stop()
})

test('an error closes the stream and reconnects after a growing delay', () => {
  mock.timers.enable({ apis: ['setTimeout'] })
  try {
    FakeEventSource.all = []
    const live = new Live()
    const states = []
    live.watch((s) => states.push(s.state))
    live.start()
    FakeEventSource.all[0].onerror()
    assert.equal(FakeEventSource.all[0].closed, true)
    assert.equal(live.status.state, 'reconnecting')
    mock.timers.tick(499)
    assert.equal(FakeEventSource.all.length, 1, 'waits 0.5 s before the first retry')
    mock.timers.tick(1)
    assert.equal(FakeEventSource.all.length, 2)
    FakeEventSource.all[1].onerror()
    mock.timers.tick(999)
    assert.equal(FakeEventSource.all.length, 2, 'then 1 s')
    mock.timers.tick(1)
    assert.equal(FakeEventSource.all.length, 3)
    FakeEventSource.all[2].onopen()
    assert.equal(live.status.state, 'live')
    assert.equal(live.failures, 0, 'an open resets the backoff')
    live.stop()
  } finally {
    mock.timers.reset()
  }
})

test('session_end closes the stream for good', () => {
  mock.timers.enable({ apis: ['setTimeout'] })
  try {
    FakeEventSource.all = []
    const live = new Live()
    live.start()
    const es = FakeEventSource.all[0]
    es.emit({ type: 'session_end' })
    assert.equal(es.closed, true)
    assert.equal(live.status.state, 'ended')
    es.onerror()
    mock.timers.tick(60_000)
    assert.equal(FakeEventSource.all.length, 1, 'no reconnect after the end')
  } finally {
    mock.timers.reset()
  }
})

test('a burst is the 2 s after the stream last said it skipped records', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 })
  FakeEventSource.all = []
  const live = new Live()
  live.start()
  const es = FakeEventSource.all[0]
  es.onopen()
  assert.equal(live.inBurst(), false, 'no burst before any lagged record')
  es.emit({ type: 'lagged', skipped: 5 })
  assert.equal(live.inBurst(), true)
  mock.timers.tick(1999)
  assert.equal(live.inBurst(), true)
  mock.timers.tick(1)
  assert.equal(live.inBurst(), false, 'over 2 s after the last one')
  mock.timers.reset()
})
