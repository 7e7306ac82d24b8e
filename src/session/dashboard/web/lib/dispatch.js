// Live records to their subscribers, by `type` (spec: the live stream's LiveRecord). Pure: the
// EventSource lives in live.js. A subscriber that throws is reported, not allowed to stop the
// others; unsubscribing is the function subscribe returns.

export class Dispatcher {
  constructor({ onError = (e) => console.error(e) } = {}) {
    this.byType = new Map()
    this.onError = onError
  }

  /** Calls `fn(record)` for each record of `type` ('*' for every record); returns the unsubscribe. */
  subscribe(type, fn) {
    if (!this.byType.has(type)) this.byType.set(type, new Set())
    const set = this.byType.get(type)
    set.add(fn)
    return () => {
      set.delete(fn)
      if (set.size === 0) this.byType.delete(type)
    }
  }

  /** Parses one `data:` payload and dispatches it; returns the record, or null when unreadable. */
  dispatchText(text) {
    let record
    try {
      record = JSON.parse(text)
    } catch {
      this.onError(new Error(`live stream: a record is not JSON: ${String(text).slice(0, 80)}`))
      return null
    }
    if (!record || typeof record.type !== 'string') {
      this.onError(new Error(`live stream: a record has no type: ${String(text).slice(0, 80)}`))
      return null
    }
    this.dispatch(record)
    return record
  }

  dispatch(record) {
    for (const type of [record.type, '*']) {
      for (const fn of this.byType.get(type) ?? []) {
        try {
          fn(record)
        } catch (e) {
          this.onError(e)
        }
      }
    }
  }

  subscribers() {
    let n = 0
    for (const set of this.byType.values()) n += set.size
    return n
  }
}

/** The reconnect delay after `failures` failed connects in a row: 0.5 s doubling to 15 s. */
export function backoff(failures, { base = 500, max = 15_000 } = {}) {
  return Math.min(max, base * 2 ** Math.max(0, failures - 1))
}

/**
 * `fn` called at once, then at most once per `ms` however often it is asked for: a call in
 * the wait runs once when the wait ends (so a sustained burst of `lagged` records refetches
 * a list once a second, and the last state is always fetched). `setTimer` is for tests.
 */
export function throttle(fn, ms, { setTimer = setTimeout, clearTimer = clearTimeout, now = () => Date.now() } = {}) {
  let last = -Infinity
  let timer = null
  const run = () => {
    timer = null
    last = now()
    fn()
  }
  const call = () => {
    if (timer !== null) return
    const wait = last + ms - now()
    if (wait <= 0) run()
    else timer = setTimer(run, wait)
  }
  /** Drops a planned run (the page went away). */
  call.cancel = () => {
    if (timer !== null) clearTimer(timer)
    timer = null
  }
  return call
}
