// Events: the live list (newest first, virtualised, at most KEEP summaries in memory, older
// pages fetched with `before=`), its filters (an event id pasted opens that event), one
// event's detail (payload, deliveries with every attempt and its trace) with Replay, and the
// "Send event" composer.
import { html, useState, useEffect, useRef, useMemo, useCallback } from '../vendor/htm-preact.js'
import { get, post, seg } from '../api.js'
import { live } from '../live.js'
import { Ring } from '../lib/ring.js'
import { matchesEvent, looksLikeEventId, cleanFilter, toQuery } from '../lib/filters.js'
import { applyDelivery } from '../lib/events_model.js'
import { formatTime, formatDateTime, formatDuration, formatCount } from '../lib/format.js'
import { href } from '../lib/route.js'
import { checkJson } from '../lib/json_check.js'
import {
  useLoad,
  useLiveReload,
  debounce,
  throttle,
  ErrorNote,
  Loading,
  Empty,
  Outcome,
  JsonView,
  VirtualList,
  Trace,
  Field,
  redrawSoon,
} from '../components.js'

/** Summaries held in memory; older ones are fetched again when scrolled to. */
export const KEEP = 5000
const PAGE = 200
const ROW = 38

export function EventsPage({ id, overview }) {
  const [composer, setComposer] = useState(false)
  return html`<section class=${`events ${id ? 'has-detail' : ''}`} aria-labelledby="events-title">
    <div class="page-head">
      <h1 id="events-title">Events</h1>
      <button
        type="button"
        class="primary"
        data-testid="composer-open"
        aria-expanded=${composer}
        onClick=${() => setComposer(!composer)}
      >
        ${composer ? 'Close composer' : 'Send event'}
      </button>
    </div>
    ${composer && html`<${Composer} onClose=${() => setComposer(false)} />`}
    <div class="split">
      <div class="split-list"><${EventList} selected=${id} overview=${overview} /></div>
      ${id && html`<div class="split-detail"><${EventDetail} key=${id} id=${id} /></div>`}
    </div>
  </section>`
}

/** The list's state lives outside Preact (a ring and an index); `version` re-renders it. */
function useEventStore(filter) {
  const store = useMemo(
    () => ({
      ring: new Ring(KEEP),
      byId: new Map(),
      arrived: null,
      more: false,
      detached: false,
      kept: 0,
      seen: 0,
      prepended: 0,
    }),
    [],
  )
  const [version, setVersion] = useState(0)
  const [status, setStatus] = useState({ loading: true, error: null })
  const frame = useRef(0)
  const abort = useRef(null)
  // Live records arrive in bursts; redraw at most every REDRAW_MS (not every frame: a browser
  // redrawing 60 times a second takes CPU the session's handlers need on a small machine), and
  // during a burst not until it is over.
  const bump = useCallback(() => redrawSoon(frame, () => setVersion((v) => v + 1)), [])

  const add = (summary, newest) => {
    const dropped = newest ? store.ring.pushNewest(summary) : store.ring.pushOldest(summary)
    store.byId.set(summary.id, summary)
    if (dropped) store.byId.delete(dropped.id)
    return dropped
  }

  const fetchPage = useCallback(
    async (before) => {
      abort.current?.abort()
      const controller = new AbortController()
      abort.current = controller
      setStatus({ loading: true, error: null })
      // Live events that arrive while the first page is on its way may be newer than it.
      if (before == null) store.arrived = []
      try {
        const page = await get(`/events${toQuery(filter, { limit: PAGE, before })}`, { signal: controller.signal })
        if (before == null) {
          const arrived = store.arrived ?? []
          store.arrived = null
          store.ring.clear()
          store.byId.clear()
          store.detached = false
          for (const e of page.events ?? []) add(e, false)
          const newest = store.ring.newest()?.seq ?? 0
          for (const e of arrived) if (e.seq > newest) add(e, true)
        } else {
          for (const e of page.events ?? []) {
            // Paging older past the bound drops the newest: the list no longer reaches the
            // present, so live events wait until "Back to newest" refetches.
            if (add(e, false)) store.detached = true
          }
        }
        Object.assign(store, { more: Boolean(page.more), kept: page.kept ?? 0, seen: page.seen ?? 0 })
        setStatus({ loading: false, error: null })
      } catch (error) {
        if (error.name !== 'AbortError') setStatus({ loading: false, error })
      }
      bump()
    },
    [filter],
  )

  const reload = useCallback(() => fetchPage(undefined), [fetchPage])
  useEffect(() => {
    reload()
  }, [reload])
  useLiveReload(reload)

  useEffect(() => {
    const offEvent = live.on('event', (record) => {
      if (store.detached || store.byId.has(record.id) || !matchesEvent(record, filter)) return
      const summary = { ...record }
      delete summary.type
      add(summary, true)
      if (store.arrived && store.arrived.length < KEEP) store.arrived.push(summary)
      store.prepended++
      bump()
    })
    const offDelivery = live.on('delivery', (record) => {
      const summary = store.byId.get(record.event_id)
      if (!summary) return
      applyDelivery(summary, record)
      bump()
    })
    return () => {
      offEvent()
      offDelivery()
      clearTimeout(frame.current)
      frame.current = 0
    }
  }, [filter])

  const loadOlder = useCallback(() => {
    const oldest = store.ring.oldest()
    if (!store.more || status.loading || !oldest) return
    fetchPage(oldest.seq)
  }, [fetchPage, status.loading])

  return { store, version, status, reload, loadOlder }
}

function EventList({ selected, overview }) {
  const [form, setForm] = useState({ sender: '', key: '', app: '', handler: '', outcome: '', q: '' })
  const [filter, setFilter] = useState({})
  const applySoon = useMemo(
    () =>
      debounce((f) => {
        setFilter(cleanFilter(f))
        // An id pasted into the text filter opens that event.
        if (looksLikeEventId(f.q)) location.hash = href('events', f.q.trim())
      }, 250),
    [],
  )
  useEffect(() => () => applySoon.cancel(), [])
  const set = (k) => (e) => {
    const next = { ...form, [k]: e.currentTarget.value }
    setForm(next)
    applySoon(next)
  }
  const { store, status, reload, loadOlder } = useEventStore(filter)
  const apps = overview?.apps ?? []
  const senders = [...new Set(apps.flatMap((a) => (a.events ?? []).map((e) => e.sender)))]
  const handlers = [...new Set(apps.flatMap((a) => (a.events ?? []).map((e) => e.handler)))]
  const keys = [...new Set(apps.flatMap((a) => (a.events ?? []).flatMap((e) => e.keys ?? [])))]
  const count = store.ring.length

  return html`<div class="list-pane">
    <form class="filters" role="search" aria-label="Filter events" onSubmit=${(e) => e.preventDefault()}>
      <div class="filter-q">
        <label for="ev-q">Search</label>
        <input
          id="ev-q"
          type="search"
          placeholder="id, sender, key or body text"
          value=${form.q}
          onInput=${set('q')}
          data-testid="events-filter-q"
        />
      </div>
      <div>
        <label for="ev-sender">Sender</label>
        <input
          id="ev-sender"
          list="ev-senders"
          value=${form.sender}
          onInput=${set('sender')}
          data-testid="events-filter-sender"
        />
        <datalist id="ev-senders">${senders.map((s) => html`<option value=${s} />`)}</datalist>
      </div>
      <div>
        <label for="ev-key">Key</label>
        <input id="ev-key" list="ev-keys" value=${form.key} onInput=${set('key')} data-testid="events-filter-key" />
        <datalist id="ev-keys">${keys.map((s) => html`<option value=${s} />`)}</datalist>
      </div>
      <div>
        <label for="ev-app">App</label>
        <select id="ev-app" value=${form.app} onChange=${set('app')} data-testid="events-filter-app">
          <option value="">any</option>
          ${apps.map((a) => html`<option value=${a.id}>${a.id}</option>`)}
        </select>
      </div>
      <div>
        <label for="ev-handler">Handler</label>
        <input
          id="ev-handler"
          list="ev-handlers"
          value=${form.handler}
          onInput=${set('handler')}
          data-testid="events-filter-handler"
        />
        <datalist id="ev-handlers">${handlers.map((s) => html`<option value=${s} />`)}</datalist>
      </div>
      <div>
        <label for="ev-outcome">Outcome</label>
        <select id="ev-outcome" value=${form.outcome} onChange=${set('outcome')} data-testid="events-filter-outcome">
          <option value="">any</option>
          ${['pending', 'ok', 'retrying', 'failed', 'unmatched'].map((o) => html`<option value=${o}>${o}</option>`)}
        </select>
      </div>
    </form>
    <div class="list-meta muted" aria-live="polite">
      ${
        status.loading && count === 0
          ? 'Loading…'
          : `${formatCount(count)} shown${store.seen ? ` · the session kept ${formatCount(store.kept)} of ${formatCount(store.seen)} when this list loaded` : ''}`
      }
      ${
        store.detached &&
        html` · <button type="button" class="link" onClick=${reload}>Back to the newest events</button>`
      }
    </div>
    <${ErrorNote} error=${status.error} />
    ${
      count === 0 && !status.loading && !status.error
        ? html`<${Empty}
            >${Object.keys(filter).length ? 'No event matches these filters.' : 'No event yet: run `ioctl events send KEY` or use Send event.'}<//
          >`
        : html`<${VirtualList}
            count=${count}
            rowHeight=${ROW}
            label="Events, newest first"
            testid="event-list"
            prepended=${store.prepended}
            onNearEnd=${loadOlder}
            row=${(i) => html`<${EventRow} key=${store.ring.get(i).id} e=${store.ring.get(i)} selected=${selected} />`}
          />`
    }
    ${status.loading && count > 0 && html`<div class="muted small">Loading older events…</div>`}
  </div>`
}

function EventRow({ e, selected }) {
  const deliveries = e.deliveries ?? []
  const summary =
    deliveries.length === 0
      ? 'no handler'
      : deliveries.length === 1
        ? `${deliveries[0].handler}${deliveries[0].attempts > 1 ? ` ×${deliveries[0].attempts}` : ''}`
        : `${deliveries.length} handlers`
  return html`<a
    class=${`row event-row ${selected === e.id ? 'selected' : ''}`}
    href=${href('events', e.id)}
    role="listitem"
    data-testid="event-row"
    data-id=${e.id}
    data-outcome=${e.outcome}
    aria-current=${selected === e.id ? 'true' : undefined}
  >
    <span class="cell time">${formatTime(e.time)}</span>
    <span class="cell id mono">${e.id}</span>
    <span class="cell sender" title=${e.sender}>${e.sender}</span>
    <span class="cell key mono" title=${e.key}>${e.key}</span>
    <span class="cell handlers muted" title=${deliveries.map((d) => `${d.app} → ${d.handler}: ${d.outcome}`).join('\n')}
      >${summary}</span
    >
    <span class="cell outcome"><${Outcome} value=${e.outcome} /></span>
  </a>`
}

function EventDetail({ id }) {
  const { data, error, loading, reload } = useLoad(() => get(`/events/${seg(id)}`), [id])
  const [replay, setReplay] = useState(null)
  // New attempts of this event refresh it (throttled: a burst of retries is one fetch).
  useEffect(() => {
    const soon = throttle(reload, 200)
    const off = live.on('delivery', (r) => r.event_id === id && soon())
    return () => {
      off()
      soon.cancel()
    }
  }, [id, reload])
  useLiveReload(reload)

  const doReplay = async () => {
    setReplay({ busy: true })
    try {
      const r = await post('/events/replay', { id })
      setReplay({ result: r })
    } catch (e) {
      setReplay({ error: e })
    }
  }

  let body
  if (error) {
    body =
      error.status === 404
        ? html`<div class="note">
            Event ${id} is not kept (the session keeps the newest events only), or never existed.
          </div>`
        : html`<${ErrorNote} error=${error} />`
  } else if (!data) {
    body = html`<${Loading} what="Loading the event" />`
  } else {
    const ev = data.event
    body = html`
      <dl class="facts wide">
        <div>
          <dt>Time</dt>
          <dd>${formatDateTime(ev.time)} <span class="muted">${formatTime(ev.time).slice(8)}</span></dd>
        </div>
        <div>
          <dt>Sender</dt>
          <dd>${ev.sender}</dd>
        </div>
        <div>
          <dt>Key</dt>
          <dd class="mono">${ev.key}</dd>
        </div>
        ${
          ev.subject &&
          html`<div>
            <dt>Subject</dt>
            <dd class="mono">${ev.subject}</dd>
          </div>`
        }
      </dl>
      <h3>Payload</h3>
      <${JsonView} value=${ev.body} />
      <h3>Deliveries</h3>
      ${
        (data.deliveries ?? []).length === 0
          ? html`<p class="muted">No handler listens to ${ev.sender} / ${ev.key}.</p>`
          : data.deliveries.map((d) => html`<${Delivery} key=${`${d.app}:${d.handler}`} d=${d} />`)
      }
    `
  }
  return html`<article class="detail" data-testid="event-detail" aria-labelledby="event-title">
    <header class="detail-head">
      <a class="back" href=${href('events')}>← Events</a>
      <h2 id="event-title" class="mono">${id}</h2>
      ${data && html`<${Outcome} value=${data.outcome} />`}
      <span class="grow"></span>
      <button type="button" data-testid="replay-event" onClick=${doReplay} disabled=${replay?.busy || !data}>
        Replay
      </button>
    </header>
    ${
      replay?.result &&
      html`<div class="note note-ok" role="status" data-testid="replay-result">
        Replayed to ${replayedCount(replay.result)} handler${replayedCount(replay.result) === 1 ? '' : 's'}.
      </div>`
    }
    <${ErrorNote} error=${replay?.error} />
    ${loading && data && html`<span class="sr-only">Refreshing</span>`} ${body}
  </article>`
}

/** `deliveries` of a send answer: a count or the list of deliveries. */
function handlerCount(d) {
  return Array.isArray(d) ? d.length : Number(d ?? 0)
}

export function replayedCount(r) {
  return Array.isArray(r?.replayed) ? r.replayed.length : 0
}

function Delivery({ d }) {
  return html`<section class="delivery">
    <h4>
      <span class="mono">${d.app}</span> → <span class="mono">${d.handler}</span>
      <${Outcome} value=${d.outcome} />
    </h4>
    ${
      (d.attempts ?? []).length === 0
        ? html`<p class="muted">Not attempted yet.</p>`
        : html`<ol class="attempts">
            ${d.attempts.map((a) => html`<${Attempt} key=${a.attempt} a=${a} />`)}
          </ol>`
    }
  </section>`
}

function Attempt({ a }) {
  const [trace, setTrace] = useState(false)
  return html`<li class="attempt" data-testid="delivery-attempt" data-outcome=${a.outcome}>
    <div class="attempt-line">
      <strong>Attempt ${a.attempt}</strong>
      <span class="muted">started ${formatTime(a.started)}</span>
      <span>took ${formatDuration(a.elapsed_ms)}</span>
      <${Outcome} value=${a.outcome} />
      ${a.retry_in_ms != null && html`<span class="muted">next attempt after ${formatDuration(a.retry_in_ms)}</span>`}
      ${
        a.trace != null &&
        html`<button type="button" class="link" aria-expanded=${trace} onClick=${() => setTrace(!trace)}>
          ${trace ? 'Hide' : 'Show'} trace
        </button>`
      }
    </div>
    ${a.error && html`<div class="attempt-error">${a.error}</div>`}
    ${a.stack && html`<pre class="code stack">${a.stack}</pre>`} ${trace && html`<${Trace} trace=${a.trace} />`}
  </li>`
}

const DEFAULT = { sender: 'vtex.events-example', key: 'send-event', body: '{\n  "hello": "from the dashboard"\n}' }

/** The "Send event" composer: templates fill sender, key and body; the body is checked as JSON. */
function Composer({ onClose }) {
  const templates = useLoad(() => get('/templates'), [])
  const [form, setForm] = useState(DEFAULT)
  const [template, setTemplate] = useState('')
  const [sent, setSent] = useState(null)
  const check = useMemo(() => checkJson(form.body), [form.body])
  const list = Array.isArray(templates.data) ? templates.data : []

  const pick = (e) => {
    const name = e.currentTarget.value
    setTemplate(name)
    const t = list.find((x) => x.name === name)
    if (t) setForm({ sender: t.sender, key: t.key, body: JSON.stringify(t.body, null, 2) })
  }
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value })
  const send = async (e) => {
    e.preventDefault()
    if (!check.ok) return
    setSent({ busy: true })
    try {
      const r = await post('/events/send', { sender: form.sender.trim(), key: form.key.trim(), body: check.value })
      setSent({ result: r })
    } catch (error) {
      setSent({ error })
    }
  }
  const chosen = list.find((x) => x.name === template)
  return html`<form class="card composer" onSubmit=${send} aria-label="Send an event">
    <div class="composer-grid">
      <${Field} id="composer-template" label="Template" hint=${chosen?.description}>
        <select id="composer-template" value=${template} onChange=${pick} data-testid="composer-template">
          <option value="">(none)</option>
          ${list.map((t) => html`<option value=${t.name}>${t.name}</option>`)}
        </select>
      <//>
      <${Field} id="composer-sender" label="Sender">
        <input
          id="composer-sender"
          required
          value=${form.sender}
          onInput=${set('sender')}
          data-testid="composer-sender"
        />
      <//>
      <${Field} id="composer-key" label="Key">
        <input id="composer-key" required value=${form.key} onInput=${set('key')} data-testid="composer-key" />
      <//>
    </div>
    <${Field} id="composer-body" label="Body (JSON)">
      <textarea
        id="composer-body"
        class="code"
        rows="8"
        spellcheck="false"
        aria-invalid=${!check.ok}
        aria-describedby="composer-error"
        value=${form.body}
        onInput=${set('body')}
        data-testid="composer-body"
      ></textarea>
    <//>
    <div
      id="composer-error"
      class=${check.ok ? 'hint' : 'field-error'}
      data-testid="composer-error"
      role=${check.ok ? undefined : 'alert'}
    >
      ${check.ok ? 'Valid JSON.' : `Line ${check.line}, column ${check.column}: ${check.message}`}
    </div>
    ${templates.error && html`<${ErrorNote} error=${templates.error} />`}
    <div class="actions">
      <button type="submit" class="primary" data-testid="composer-send" disabled=${!check.ok || sent?.busy}>
        Send
      </button>
      <button type="button" onClick=${onClose}>Close</button>
      ${
        sent?.result &&
        html`<span class="note-inline ok" role="status" data-testid="composer-sent">
          Sent <a href=${href('events', sent.result.id)} class="mono">${sent.result.id}</a> to ${handlerCount(sent.result.deliveries)} handler${handlerCount(sent.result.deliveries) === 1 ? '' : 's'}.
        </span>`
      }
    </div>
    <${ErrorNote} error=${sent?.error} />
  </form>`
}
