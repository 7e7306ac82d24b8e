// Live delivery records move an event's row to its outcome.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyDelivery, eventOutcome } from '../lib/events_model.js'

test('a delivery record updates its delivery and the event outcome', () => {
  const s = {
    id: 'a-1',
    outcome: 'pending',
    deliveries: [{ app: 'x@1.0.0', handler: 'h', outcome: 'pending', attempts: 0 }],
  }
  applyDelivery(s, { app: 'x@1.0.0', handler: 'h', outcome: 'retry', attempt: 1 })
  assert.equal(s.outcome, 'retrying')
  applyDelivery(s, { app: 'x@1.0.0', handler: 'h', outcome: 'failed', attempt: 2 })
  assert.equal(s.outcome, 'failed')
  assert.deepEqual(s.deliveries[0], { app: 'x@1.0.0', handler: 'h', outcome: 'failed', attempts: 2 })
  // A late record of an earlier attempt does not undo the later one.
  applyDelivery(s, { app: 'x@1.0.0', handler: 'h', outcome: 'retry', attempt: 1 })
  assert.equal(s.outcome, 'failed')
})

test('several deliveries: pending until all end; ok only when all are ok', () => {
  const s = { id: 'a-2', outcome: 'pending', deliveries: [] }
  applyDelivery(s, { app: 'x@1.0.0', handler: 'h', outcome: 'ok', attempt: 1 })
  assert.equal(s.outcome, 'ok')
  s.deliveries.push({ app: 'y@1.0.0', handler: 'g', outcome: 'pending', attempts: 0 })
  assert.equal(eventOutcome(s.deliveries), 'pending')
  applyDelivery(s, { app: 'y@1.0.0', handler: 'g', outcome: 'failed', attempt: 3 })
  assert.equal(s.outcome, 'failed')
  assert.equal(eventOutcome([]), 'unmatched')
})
