// Waterfall rows: offsets and widths in percent of the trace, inside the track.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { layoutWaterfall, ticks } from '../lib/waterfall.js'

test('spans are placed by start and duration, sorted by start', () => {
  const { total, rows } = layoutWaterfall({
    elapsed_ms: 100,
    spans: [
      { name: 'b', start_ms: 50, elapsed_ms: 25 },
      { name: 'a', start_ms: 0, elapsed_ms: 10 },
    ],
  })
  assert.equal(total, 100)
  assert.deepEqual(
    rows.map((r) => [r.span.name, r.left, r.width]),
    [
      ['a', 0, 10],
      ['b', 50, 25],
    ],
  )
})

test('a trace without elapsed_ms (still running) spans to its last span end', () => {
  const { total, rows } = layoutWaterfall({ spans: [{ start_ms: 10, elapsed_ms: 30 }] })
  assert.equal(total, 40)
  assert.deepEqual([rows[0].left, rows[0].width], [25, 75])
})

test('tiny spans get a visible sliver that stays inside the track', () => {
  const { rows } = layoutWaterfall({ elapsed_ms: 1000, spans: [{ start_ms: 999.99, elapsed_ms: 0.01 }] })
  assert.equal(rows[0].width, 0.5)
  assert.ok(rows[0].left + rows[0].width <= 100)
})

test('an empty or zero-length trace', () => {
  assert.deepEqual(layoutWaterfall({ spans: [] }), { total: 0, rows: [], ticks: [] })
  assert.deepEqual(
    layoutWaterfall({ elapsed_ms: 0, spans: [{ start_ms: 0, elapsed_ms: 0 }] }).rows.map((r) => r.width),
    [100],
  )
})

test('ticks fall on round steps', () => {
  assert.deepEqual(
    ticks(100).map((t) => t.at),
    [0, 50, 100],
  )
  assert.deepEqual(
    ticks(37).map((t) => t.at),
    [0, 10, 20, 30],
  )
  assert.deepEqual(ticks(0), [])
})
