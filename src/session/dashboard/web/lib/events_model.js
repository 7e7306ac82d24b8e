// How live `delivery` records update the event summaries a page holds, so a row's outcome
// follows its deliveries without refetching (spec: EventSummary and the live `delivery` record).

/**
 * Applies a live delivery record to its EventSummary (in place) and returns it.
 * A `retry` outcome means the attempt failed and another follows; `failed` is final.
 */
export function applyDelivery(summary, record) {
  const deliveries = summary.deliveries ?? (summary.deliveries = [])
  let d = deliveries.find((x) => x.app === record.app && x.handler === record.handler)
  if (!d) {
    d = { app: record.app, handler: record.handler, outcome: 'pending', attempts: 0 }
    deliveries.push(d)
  }
  // Records of one delivery can come out of order only across a reconnect; never go back.
  if (record.attempt >= (d.attempts ?? 0)) {
    d.outcome = record.outcome
    d.attempts = record.attempt
  }
  summary.outcome = eventOutcome(deliveries)
  return summary
}

/** The event's outcome from its deliveries' (spec: pending|ok|failed|retrying|unmatched). */
export function eventOutcome(deliveries) {
  if (!deliveries || deliveries.length === 0) return 'unmatched'
  if (deliveries.some((d) => d.outcome === 'retry')) return 'retrying'
  if (deliveries.some((d) => d.outcome === 'pending')) return 'pending'
  if (deliveries.some((d) => d.outcome === 'failed')) return 'failed'
  return 'ok'
}
