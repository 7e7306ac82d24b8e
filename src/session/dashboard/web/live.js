// The live stream (GET /_ioctl/api/live, server-sent events): one EventSource for the page,
// records dispatched by `type` to subscribers (lib/dispatch.js), reconnected with backoff when
// it drops. Holds no records itself — pages keep their own bounded lists — so it never grows.
// Its state (connecting, live, lagged counts, session ended) is what the header shows.
import { Dispatcher, backoff, throttle } from './lib/dispatch.js'

const URL = '/_ioctl/api/live'

export class Live {
  constructor() {
    this.dispatcher = new Dispatcher()
    this.status = { state: 'connecting', skipped: 0, lastSkipped: 0, hello: null }
    this.watchers = new Set()
    this.failures = 0
    this.connects = 0 // hellos seen: past the first, pages refetch what they may have missed
    this.source = null
    this.timer = null
    // Subscribed first, so pages' hello subscribers already see this connect counted.
    this.dispatcher.subscribe('hello', () => this.connects++)
  }

  /** Calls `fn(record)` for each live record of `type` ('*': all); returns the unsubscribe. */
  on(type, fn) {
    return this.dispatcher.subscribe(type, fn)
  }

  /** Calls `fn(status)` when the connection's state changes; returns the unsubscribe. */
  watch(fn) {
    this.watchers.add(fn)
    fn(this.status)
    return () => this.watchers.delete(fn)
  }

  setStatus(change) {
    this.status = { ...this.status, ...change }
    for (const fn of this.watchers) fn(this.status)
  }

  /**
   * Whether the stream is in a burst (it said it skipped records in the last 2 s): the pages
   * then redraw and update the counts at most once a second, leaving the CPU to the session.
   */
  inBurst(now = Date.now()) {
    return this.laggedAt !== undefined && now - this.laggedAt < 2000
  }

  /** One record of the stream, dispatched; the stream's own records change the status. */
  take(source, text) {
    const record = this.dispatcher.dispatchText(text)
    if (!record) return
    if (record.type === 'hello') this.setStatus({ hello: record, state: 'live' })
    else if (record.type === 'lagged') {
      // During a burst a lagged record comes every 250 ms: the header says so once a second.
      this.laggedAt = Date.now()
      this.pendingSkipped = (this.pendingSkipped ?? 0) + record.skipped
      this.showSkipped ??= throttle(() => {
        const skipped = this.pendingSkipped
        this.pendingSkipped = 0
        this.setStatus({ skipped: this.status.skipped + skipped, lastSkipped: skipped })
      }, 1000)
      this.showSkipped()
    } else if (record.type === 'session_end') {
      source.close()
      this.setStatus({ state: 'ended' })
    }
  }

  start() {
    clearTimeout(this.timer)
    this.source?.close()
    this.setStatus({ state: this.failures ? 'reconnecting' : 'connecting' })
    const source = new EventSource(URL)
    this.source = source
    source.onopen = () => {
      this.failures = 0
      this.setStatus({ state: 'live' })
    }
    // A message holds one record a line (the session puts records waiting together in one).
    source.onmessage = (message) => {
      for (const line of message.data.split('\n')) this.take(source, line)
    }
    // EventSource retries by itself only on some failures and gives up on others (a 401, a
    // wrong content type); one policy for all: close, wait, reconnect.
    source.onerror = () => {
      if (this.source !== source || this.status.state === 'ended') return
      source.close()
      this.failures++
      this.setStatus({ state: 'reconnecting' })
      this.timer = setTimeout(() => this.start(), backoff(this.failures))
    }
  }

  stop() {
    clearTimeout(this.timer)
    this.source?.close()
    this.source = null
  }

  /** Forgets the skipped count once the user has seen it. */
  dismissSkipped() {
    this.setStatus({ skipped: 0, lastSkipped: 0 })
  }
}

export const live = new Live()
