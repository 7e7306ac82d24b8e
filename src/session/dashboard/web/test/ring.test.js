// The bounded list keeps at most its capacity, newest first, from either end.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Ring } from '../lib/ring.js'

test('pushNewest keeps the newest `capacity` items, newest first, and returns what it drops', () => {
  const r = new Ring(3)
  const dropped = []
  for (let i = 1; i <= 100_000; i++) {
    const d = r.pushNewest(i)
    if (d !== undefined) dropped.push(d)
  }
  assert.equal(r.length, 3)
  assert.deepEqual(r.toArray(), [100_000, 99_999, 99_998])
  assert.equal(dropped.length, 100_000 - 3)
  assert.deepEqual(dropped.slice(0, 2), [1, 2])
  assert.equal(r.buf.length, 3, 'the buffer itself never grows')
})

test('pushOldest appends older pages and at capacity drops the newest', () => {
  const r = new Ring(4)
  r.pushNewest(10)
  r.pushNewest(11)
  for (const seq of [9, 8]) r.pushOldest(seq)
  assert.deepEqual(r.toArray(), [11, 10, 9, 8])
  assert.equal(r.pushOldest(7), 11)
  assert.deepEqual(r.toArray(), [10, 9, 8, 7])
  assert.equal(r.newest(), 10)
  assert.equal(r.oldest(), 7)
  r.pushNewest(11)
  assert.deepEqual(r.toArray(), [11, 10, 9, 8])
})

test('get outside the held range is undefined; filter keeps order; clear empties', () => {
  const r = new Ring(5)
  for (let i = 1; i <= 7; i++) r.pushNewest(i)
  assert.equal(r.get(-1), undefined)
  assert.equal(r.get(5), undefined)
  assert.deepEqual(
    r.filter((x) => x % 2 === 1),
    [7, 5, 3],
  )
  r.clear()
  assert.equal(r.length, 0)
  assert.deepEqual(r.toArray(), [])
  assert.throws(() => new Ring(0), /capacity/)
})
