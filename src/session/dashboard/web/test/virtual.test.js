// Virtual list windowing: only the rows in view (plus overscan) go into the DOM.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { visibleRange, nearEnd, scrollToShow } from '../lib/virtual.js'

test('at the top, the first screenful plus overscan', () => {
  assert.deepEqual(visibleRange({ scrollTop: 0, viewport: 300, rowHeight: 30, count: 100_000, overscan: 5 }), {
    start: 0,
    end: 15,
    top: 0,
    height: 3_000_000,
  })
})

test('in the middle of 100,000 rows, a window around the scroll position', () => {
  const r = visibleRange({ scrollTop: 1_500_015, viewport: 300, rowHeight: 30, count: 100_000, overscan: 5 })
  assert.equal(r.start, 50_000 - 5)
  assert.equal(r.end, 50_011 + 5)
  assert.equal(r.top, r.start * 30)
  assert.ok(r.end - r.start <= 300 / 30 + 2 + 10, 'a window, not the list')
})

test('scrolled past the end (the list shrank) clamps to the last rows', () => {
  const r = visibleRange({ scrollTop: 99_999, viewport: 300, rowHeight: 30, count: 20, overscan: 2 })
  assert.equal(r.end, 20)
  assert.equal(r.start, 10 - 2)
  assert.equal(r.height, 600)
})

test('an empty list and a list shorter than the window', () => {
  assert.deepEqual(visibleRange({ scrollTop: 0, viewport: 300, rowHeight: 30, count: 0 }), {
    start: 0,
    end: 0,
    top: 0,
    height: 0,
  })
  const r = visibleRange({ scrollTop: 0, viewport: 300, rowHeight: 30, count: 4 })
  assert.deepEqual([r.start, r.end], [0, 4])
  assert.throws(() => visibleRange({ scrollTop: 0, viewport: 300, rowHeight: 0, count: 4 }), /rowHeight/)
})

test('nearEnd says when to fetch an older page', () => {
  assert.equal(nearEnd({ scrollTop: 0, viewport: 300, rowHeight: 30, count: 1000 }), false)
  assert.equal(nearEnd({ scrollTop: 30_000 - 300 - 21 * 30, viewport: 300, rowHeight: 30, count: 1000 }), false)
  assert.equal(nearEnd({ scrollTop: 30_000 - 300, viewport: 300, rowHeight: 30, count: 1000 }), true)
})

test('scrollToShow moves only when the row is out of view', () => {
  assert.equal(scrollToShow({ scrollTop: 300, viewport: 300, rowHeight: 30, index: 12 }), null)
  assert.equal(scrollToShow({ scrollTop: 300, viewport: 300, rowHeight: 30, index: 2 }), 60)
  assert.equal(scrollToShow({ scrollTop: 0, viewport: 300, rowHeight: 30, index: 10 }), 30)
})
