// Views and hooks the pages share: loading data, errors, outcome badges, the JSON viewer, the
// virtual list, and a trace's waterfall (requests and event deliveries draw the same one).
import { html, useState, useEffect, useRef, useCallback, useMemo } from './vendor/htm-preact.js'
import { get, seg } from './api.js'
import { live } from './live.js'
import { layoutWaterfall } from './lib/waterfall.js'
import { visibleRange, nearEnd } from './lib/virtual.js'
import { Ring } from './lib/ring.js'
import { toQuery } from './lib/filters.js'
import { throttle } from './lib/dispatch.js'
import { formatDuration, formatBytes } from './lib/format.js'

/** Runs `load()` when `deps` change; returns {data, error, loading, reload, setData}. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true })
  const generation = useRef(0)
  const run = useCallback(() => {
    const mine = ++generation.current
    setState((s) => ({ ...s, loading: true }))
    Promise.resolve()
      .then(load)
      .then(
        (data) => mine === generation.current && setState({ data, error: null, loading: false }),
        (error) => mine === generation.current && setState((s) => ({ ...s, error, loading: false })),
      )
  }, deps)
  useEffect(() => {
    run()
  }, [run])
  const setData = (data) => setState((s) => ({ ...s, data }))
  return { ...state, reload: run, setData }
}

export function ErrorNote({ error, testid }) {
  if (!error) return null
  return html`<div class="note note-error" role="alert" data-testid=${testid}>${error.message ?? String(error)}</div>`
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="muted" aria-busy="true">${what}…</p>`
}

/**
 * Calls `reload` when the live stream reconnects (`hello`, at most once every 2 s) or once a
 * burst in which this page skipped records (`lagged`, every 250 ms during it) is over.
 */
export function useLiveReload(reload) {
  useEffect(() => {
    const again = throttle(reload, 2000)
    const afterBurst = { current: 0 }
    const offs = [
      live.on('hello', () => live.connects > 1 && again()),
      live.on('lagged', () => redrawSoon(afterBurst, reload)),
    ]
    return () => {
      offs.forEach((off) => off())
      again.cancel()
      clearTimeout(afterBurst.current)
    }
  }, [reload])
}

/** `fn` called at most once per `ms` after the last call (for bursts of live records). */
export function debounce(fn, ms) {
  let timer = null
  const call = (...args) => {
    clearTimeout(timer)
    timer = setTimeout(() => fn(...args), ms)
  }
  call.cancel = () => clearTimeout(timer)
  return call
}

/** How often a live list redraws at most while records stream in. */
export const REDRAW_MS = 400
/** How often a list waiting for a burst to end looks again. */
export const BURST_CHECK_MS = 500

/**
 * Calls `redraw` REDRAW_MS from now, unless `timer` (a ref) already waits; during a burst
 * (`live.inBurst()`: the stream skipped records in the last 2 s) the list holds still and
 * redraws once the burst is over. A list redrawn during a burst shows rows nobody can read,
 * and its style, layout and raster took the CPU the session's handlers need: with a redraw a
 * second, chromium still took 0.2 CPU-seconds of a 100,000-event burst on 2 cores.
 */
export function redrawSoon(timer, redraw) {
  if (timer.current) return
  const due = () => {
    if (live.inBurst()) {
      timer.current = setTimeout(due, BURST_CHECK_MS)
      return
    }
    timer.current = 0
    redraw()
  }
  timer.current = setTimeout(due, REDRAW_MS)
}

// throttle: lib/dispatch.js's (tested there), for the pages that import it from here.
export { throttle }

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`
}

export function Outcome({ value }) {
  return html`<span class=${`badge outcome-${value}`}>${value}</span>`
}

/** A collapsible JSON tree (native details/summary: keyboard and screen readers for free). */
export function JsonView({ value, open = 2 }) {
  return html`<div class="json">${jsonNode(value, null, 0, open)}</div>`
}

function jsonNode(value, key, depth, open) {
  const label = key == null ? null : html`<span class="json-key">${key}</span>: `
  if (value === null || typeof value !== 'object') {
    return html`<div class="json-line">${label}${scalar(value)}</div>`
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value)
  const [lb, rb] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  if (entries.length === 0) return html`<div class="json-line">${label}${lb}${rb}</div>`
  // Huge arrays are cut to their first items; the raw JSON view shows all.
  const shown = entries.slice(0, 500)
  return html`<details class="json-node" open=${depth < open}>
    <summary>
      ${label}${lb}<span class="muted"> ${entries.length} ${Array.isArray(value) ? 'items' : 'keys'} </span>${rb}
    </summary>
    <div class="json-children">
      ${shown.map(([k, v]) => jsonNode(v, k, depth + 1, open))}
      ${entries.length > shown.length && html`<div class="muted">… ${entries.length - shown.length} more</div>`}
    </div>
  </details>`
}

function scalar(v) {
  if (typeof v === 'string') return html`<span class="json-string">${JSON.stringify(v)}</span>`
  if (typeof v === 'number') return html`<span class="json-number">${v}</span>`
  if (typeof v === 'boolean') return html`<span class="json-bool">${String(v)}</span>`
  return html`<span class="json-null">null</span>`
}

/**
 * A list of fixed-height rows of which only those in view are in the DOM.
 * @param {{count: number, rowHeight: number, row: (i: number) => any, onNearEnd?: () => void, label: string}} p
 */
export function VirtualList({ count, rowHeight, row, onNearEnd, label, testid, prepended = 0 }) {
  const ref = useRef(null)
  const [view, setView] = useState({ scrollTop: 0, viewport: 600 })
  // Rows added above keep a reader who scrolled down looking at the same rows; at the very
  // top the list follows the newest.
  const seenPrepended = useRef(prepended)
  useEffect(() => {
    const el = ref.current
    const added = prepended - seenPrepended.current
    seenPrepended.current = prepended
    if (el && added > 0 && el.scrollTop > 0) el.scrollTop += added * rowHeight
  }, [prepended])
  useEffect(() => {
    const el = ref.current
    const measure = () => setView({ scrollTop: el.scrollTop, viewport: el.clientHeight })
    measure()
    const observer = new ResizeObserver(measure)
    observer.observe(el)
    return () => observer.disconnect()
  }, [])
  const onScroll = (e) => {
    const el = e.currentTarget
    setView({ scrollTop: el.scrollTop, viewport: el.clientHeight })
  }
  const range = visibleRange({ ...view, rowHeight, count })
  useEffect(() => {
    if (onNearEnd && count > 0 && nearEnd({ ...view, rowHeight, count })) onNearEnd()
  }, [view.scrollTop, view.viewport, count])
  const rows = []
  for (let i = range.start; i < range.end; i++) rows.push(row(i))
  return html`<div class="vlist" ref=${ref} onScroll=${onScroll} role="list" aria-label=${label} data-testid=${testid}>
    <div class="vlist-spacer" style=${{ height: `${range.height}px` }}>
      <div class="vlist-rows" style=${{ transform: `translateY(${range.top}px)` }}>${rows}</div>
    </div>
  </div>`
}

/** A trace fetched by number and drawn as a waterfall. */
export function Trace({ trace }) {
  const { data, error, loading } = useLoad(() => get(`/traces/${seg(trace)}`), [trace])
  if (error) return html`<${ErrorNote} error=${error} />`
  if (loading && !data) return html`<${Loading} what="Loading the trace" />`
  return html`<${Waterfall} trace=${data} />`
}

export function Waterfall({ trace }) {
  const { total, rows, ticks } = layoutWaterfall(trace)
  if (rows.length === 0) {
    return html`<p class="muted">
      No platform or outbound calls in this ${trace.kind ?? 'trace'} (${formatDuration(total)}).
    </p>`
  }
  return html`<div class="waterfall" data-testid="waterfall">
    <div class="wf-axis" aria-hidden="true">
      ${ticks.map((t) => html`<span class="wf-tick" style=${{ left: `${t.left}%` }}>${formatDuration(t.at)}</span>`)}
    </div>
    <ol class="wf-rows">
      ${rows.map((r, i) => html`<${SpanRow} key=${i} row=${r} />`)}
    </ol>
  </div>`
}

function SpanRow({ row }) {
  const { span, left, width } = row
  const [open, setOpen] = useState(false)
  const status = span.status != null ? ` → ${span.status}` : ''
  return html`<li
    class=${`wf-row ${span.ok ? '' : 'wf-bad'}`}
    data-testid="span"
    data-kind=${span.kind}
    data-answered=${span.answered ?? ''}
  >
    <div class="wf-label">
      <span class=${`badge kind-${span.kind}`}>${span.kind}</span>
      ${span.answered && html`<span class=${`badge answered-${span.answered}`}>${span.answered}</span>`}
      <span class="wf-name" title=${span.name}>${span.name}${status}</span>
    </div>
    <div class="wf-track">
      <div
        class="wf-bar"
        style=${{ left: `${left}%`, width: `${width}%` }}
        title=${`${formatDuration(span.start_ms)} + ${formatDuration(span.elapsed_ms)}`}
      ></div>
    </div>
    <div class="wf-time">${formatDuration(span.elapsed_ms)}</div>
    ${
      span.call != null &&
      html`<div class="wf-more">
        <button type="button" class="link" aria-expanded=${open} onClick=${() => setOpen(!open)}>
          ${open ? 'Hide' : 'Show'} request and response
        </button>
        ${open && html`<${CallBodies} seq=${span.call} />`}
      </div>`
    }
  </li>`
}

/** An outbound call's full record (GET /api/calls/{seq}): headers and bodies, fetched on demand. */
export function CallBodies({ seq }) {
  const { data, error, loading } = useLoad(() => get(`/calls/${seg(seq)}`), [seq])
  if (error) return html`<${ErrorNote} error=${error} />`
  if (loading || !data) return html`<${Loading} what="Loading the call" />`
  return html`<div class="call" data-testid="call-bodies">
    ${data.message && html`<div class="note">${data.message}</div>`}
    <div class="call-sides">
      <${Exchange} title=${`Request: ${data.method} ${data.url}`} exchange=${data.request} />
      <${Exchange} title=${`Response: ${data.status} (${data.answered})`} exchange=${data.response} />
    </div>
  </div>`
}

function Exchange({ title, exchange }) {
  const headers = Object.entries(exchange?.headers ?? {})
  return html`<section class="exchange">
    <h4>${title}</h4>
    ${
      headers.length > 0 &&
      html`<table class="headers">
        <tbody>
          ${headers.map(
            ([k, v]) =>
              html`<tr>
                <th scope="row">${k}</th>
                <td>${v}</td>
              </tr>`,
          )}
        </tbody>
      </table>`
    }
    ${
      exchange?.body == null
        ? html`<p class="muted">No body.</p>`
        : html`<${Body} text=${exchange.body} base64=${exchange.base64} />`
    }
    ${exchange?.truncated && html`<p class="muted">Only the first bytes of ${formatBytes(exchange.size)} are kept.</p>`}
  </section>`
}

/** A body: a JSON tree when it parses, else the text. */
export function Body({ text, base64 }) {
  if (base64) return html`<pre class="code">(binary, base64) ${text}</pre>`
  let value
  try {
    value = JSON.parse(text)
  } catch {
    return html`<pre class="code">${text}</pre>`
  }
  return html`<${JsonView} value=${value} />`
}

/** `<label for>` + control + hint/error, the form row every page uses. */
export function Field({ id, label, children, hint, error, testid }) {
  return html`<div class=${`field ${error ? 'has-error' : ''}`} data-testid=${testid}>
    <label for=${id}>${label}</label>
    ${children} ${hint && html`<div class="hint">${hint}</div>`}
    ${error && html`<div class="field-error" id=${`${id}-error`} role="alert" data-testid="field-error">${error}</div>`}
  </div>`
}

/**
 * A history list kept live: the first page from `/api/<path>` (newest first), live records of
 * `type` that `match` the filter added at the front, older pages with `before=<seq>`, at most
 * `keep` items in memory. Renders at most once per animation frame.
 * @returns {{ring: Ring, status, more: boolean, prepended: number, reload, loadOlder, version}}
 */
export function useHistory({ path, field, type, filter, match, keep, page = 200 }) {
  const store = useMemo(
    () => ({ ring: new Ring(keep), arrived: null, more: false, prepended: 0, kept: 0, seen: 0 }),
    [],
  )
  const [version, setVersion] = useState(0)
  const [status, setStatus] = useState({ loading: true, error: null })
  const frame = useRef(0)
  const abort = useRef(null)
  const bump = useCallback(() => redrawSoon(frame, () => setVersion((v) => v + 1)), [])
  const fetchPage = useCallback(
    async (before) => {
      abort.current?.abort()
      const controller = new AbortController()
      abort.current = controller
      setStatus({ loading: true, error: null })
      // Live items that arrive while the first page is on its way may be newer than it.
      if (before == null) store.arrived = []
      try {
        const answer = await get(`/${path}${toQuery(filter, { limit: page, before })}`, { signal: controller.signal })
        const arrived = before == null ? (store.arrived ?? []) : []
        if (before == null) {
          store.arrived = null
          store.ring.clear()
        }
        for (const item of answer[field] ?? []) store.ring.pushOldest(item)
        const newest = store.ring.newest()?.seq ?? 0
        for (const item of arrived) if (item.seq > newest) store.ring.pushNewest(item)
        Object.assign(store, { more: Boolean(answer.more), kept: answer.kept ?? 0, seen: answer.seen ?? 0 })
        setStatus({ loading: false, error: null })
      } catch (error) {
        if (error.name !== 'AbortError') setStatus({ loading: false, error })
      }
      bump()
    },
    [path, JSON.stringify(filter)],
  )
  const reload = useCallback(() => fetchPage(undefined), [fetchPage])
  useEffect(() => {
    reload()
  }, [reload])
  useLiveReload(reload)
  useEffect(() => {
    const off = live.on(type, (record) => {
      if (!match(record, filter)) return
      const item = { ...record }
      delete item.type
      store.ring.pushNewest(item)
      if (store.arrived && store.arrived.length < keep) store.arrived.push(item)
      store.prepended++
      bump()
    })
    return () => {
      off()
      clearTimeout(frame.current)
      frame.current = 0
    }
  }, [type, JSON.stringify(filter)])
  const loadOlder = useCallback(() => {
    const oldest = store.ring.oldest()
    if (store.more && !status.loading && oldest && store.ring.length < keep) fetchPage(oldest.seq)
  }, [fetchPage, status.loading])
  return { ...store, ring: store.ring, status, reload, loadOlder, version }
}
