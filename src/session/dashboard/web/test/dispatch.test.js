// Live records reach their subscribers by type; a broken one stops nobody.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Dispatcher, backoff, throttle } from '../lib/dispatch.js'

test('records go to their type and to *, unsubscribing stops them', () => {
  const d = new Dispatcher()
  const seen = []
  const off = d.subscribe('event', (r) => seen.push(['event', r.id]))
  d.subscribe('*', (r) => seen.push(['*', r.type]))
  d.dispatchText('{"type":"event","id":"a-1"}')
  d.dispatchText('{"type":"log","message":"x"}')
  off()
  d.dispatchText('{"type":"event","id":"a-2"}')
  assert.deepEqual(seen, [
    ['event', 'a-1'],
    ['*', 'event'],
    ['*', 'log'],
    ['*', 'event'],
  ])
  assert.equal(d.subscribers(), 1)
})

test('a throwing subscriber and unreadable records are reported, not fatal', () => {
  const errors = []
  const d = new Dispatcher({ onError: (e) => errors.push(e.message) })
  const seen = []
  d.subscribe('counts', () => {
    throw new Error('boom')
  })
  d.subscribe('counts', (r) => seen.push(r.counts.published))
  d.dispatchText('{"type":"counts","counts":{"published":3}}')
  assert.equal(d.dispatchText('not json'), null)
  assert.equal(d.dispatchText('{"no":"type"}'), null)
  assert.deepEqual(seen, [3])
  assert.equal(errors.length, 3)
  assert.match(errors[0], /boom/)
})

test('reconnect backoff doubles from 0.5 s up to 15 s', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoff(n)),
    [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000],
  )
})

test('a throttled call runs at once, then once per interval however often it is asked for', () => {
  let t = 0
  const timers = []
  let calls = 0
  const setTimer = (f, ms) => timers.push([t + ms, f])
  const call = throttle(() => calls++, 1000, { setTimer, now: () => t })
  call()
  assert.equal(calls, 1, 'the first call runs at once')
  for (t = 250; t < 1000; t += 250) call()
  assert.equal(calls, 1, 'calls in the interval wait')
  assert.equal(timers.length, 1, 'one trailing run is planned, not one per call')
  t = 1000
  timers.shift()[1]()
  assert.equal(calls, 2, 'the trailing run fetches the last state')
  t = 2500
  call()
  assert.equal(calls, 3, 'a call after a quiet interval runs at once')
})
