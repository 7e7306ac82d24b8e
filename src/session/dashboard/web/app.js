// The dashboard's shell: header (workspace, live counts, connection), navigation, and a hash
// router that picks the page. Pages live in pages/, pure logic in lib/, the API in api.js,
// the live stream in live.js.
//
// Stable hooks for browser tests (data-testid):
//   Shell: nav-overview, nav-events, nav-dead-letters, nav-requests, nav-logs, nav-data (nav links);
//     counts (the live counts in the header, aria-live; each count has data-count=published|
//     delivered|failed|in-flight); lagged (the "skipped N records" note)
//   Overview: app-card (data-id = app id), flow-diagram
//   Events: event-list, event-row (data-id = event id, data-outcome), events-filter-<field> (q,
//     sender, key, app, handler, outcome), event-detail, delivery-attempt (data-outcome),
//     replay-event, replay-result, composer-open, composer-template, composer-sender,
//     composer-key, composer-body, composer-error, composer-send, composer-sent
//   Dead letters: dead-letter (data-id = event id), replay-letter, replay-all, replay-result
//   Requests: request-list, request-row (data-seq), request-detail, waterfall, span (data-kind,
//     data-answered), call-bodies, try-open, try-app, try-route, try-param-<name>, try-method, try-as, try-path,
//     try-query, try-body, try-send, try-result (data-status)
//   Logs: log-line (data-level), logs-filter-q, logs-filter-app, logs-filter-level
//   Data: tab-settings, tab-vbase, tab-masterdata;
//     settings-app, settings-form, field-<JSON pointer> (a field's wrapper, e.g. field-/a/b) with
//     field-error inside, settings-errors (errors no field holds), settings-save, settings-saved;
//     vbase-bucket (data-bucket), vbase-file (data-path), vbase-editor, vbase-json-error,
//     vbase-save, vbase-saved, vbase-delete, vbase-conflict, vbase-reload, vbase-overwrite;
//     md-entity (data-entity), md-where, md-sort, md-fields, md-schema, md-search, md-total,
//     md-row (data-id), md-editor, md-errors, md-save, md-saved
import { html, render, useState, useEffect, useErrorBoundary } from './vendor/htm-preact.js'
import { get } from './api.js'
import { live } from './live.js'
import { parseHash, href } from './lib/route.js'
import { formatCount } from './lib/format.js'
import { throttle } from './lib/dispatch.js'
import { OverviewPage } from './pages/overview.js'
import { EventsPage } from './pages/events.js'
import { DeadLettersPage } from './pages/dead_letters.js'
import { RequestsPage } from './pages/requests.js'
import { LogsPage } from './pages/logs.js'
import { DataPage } from './pages/data.js'

const NAV = [
  ['overview', 'Overview'],
  ['events', 'Events'],
  ['dead-letters', 'Dead letters'],
  ['requests', 'Requests'],
  ['logs', 'Logs'],
  ['data', 'Data'],
]

function useRoute() {
  const [route, setRoute] = useState(() => parseHash(location.hash))
  useEffect(() => {
    const onHash = () => setRoute(parseHash(location.hash))
    addEventListener('hashchange', onHash)
    return () => removeEventListener('hashchange', onHash)
  }, [])
  return route
}

/** The workspace's overview (apps, counts), refetched when the live stream says apps changed. */
function useOverview() {
  const [state, setState] = useState({ data: null, error: null })
  useEffect(() => {
    let timer = null
    let alive = true
    const load = () =>
      get('/overview').then(
        (data) => alive && setState({ data, error: null }),
        (error) => alive && setState((s) => ({ ...s, error })),
      )
    load()
    // Coalesce bursts (several apps relinking at once) into one fetch.
    const soon = () => {
      clearTimeout(timer)
      timer = setTimeout(load, 150)
    }
    const offApps = live.on('apps', soon)
    const offHello = live.on('hello', soon)
    // Memory and process state change without a live record: refresh while the page is seen.
    const every = setInterval(() => document.visibilityState === 'visible' && load(), 5000)
    // The counts redraw the whole shell: at most once a second during a burst (they come
    // every 250 ms while they change), at once otherwise.
    let counts = null
    const showCounts = throttle(() => setState((s) => (s.data ? { ...s, data: { ...s.data, counts } } : s)), 1000)
    const offCounts = live.on('counts', (r) => {
      counts = r.counts
      if (live.inBurst()) showCounts()
      else setState((s) => (s.data ? { ...s, data: { ...s.data, counts } } : s))
    })
    return () => {
      alive = false
      clearTimeout(timer)
      clearInterval(every)
      offApps()
      offHello()
      offCounts()
      showCounts.cancel()
    }
  }, [])
  return state
}

function useLiveStatus() {
  const [status, setStatus] = useState(live.status)
  useEffect(() => live.watch(setStatus), [])
  return status
}

function Counts({ counts }) {
  const c = counts ?? {}
  const items = [
    ['published', 'published', c.published],
    ['ok', 'delivered', c.delivered],
    ['failed', 'failed', c.failed],
    ['in flight', 'in-flight', c.in_flight],
  ]
  return html`<dl class="counts" data-testid="counts" aria-live="polite" aria-label="Event counts">
    ${items.map(
      ([label, cls, n]) =>
        html`<div class=${`count count-${cls}`} data-count=${cls}>
          <dt>${label}</dt>
          <dd>${formatCount(n ?? 0)}</dd>
        </div>`,
    )}
  </dl>`
}

function LiveBadge({ status }) {
  const text = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'reconnecting…',
    ended: 'session ended',
  }[status.state]
  return html`<span class=${`live-badge live-${status.state}`} role="status">
    <span class="dot" aria-hidden="true"></span>${text}
    ${
      status.state === 'ended' &&
      html` <button type="button" class="link" onClick=${() => live.start()}>Reconnect</button>`
    }
  </span>`
}

function App() {
  const route = useRoute()
  const overview = useOverview()
  const status = useLiveStatus()
  const [navOpen, setNavOpen] = useState(false)
  const o = overview.data
  useEffect(() => setNavOpen(false), [route.page, route.id, route.tab])
  useEffect(() => {
    document.title = o ? `ioctl · ${o.account}/${o.workspace}` : 'ioctl dashboard'
  }, [o?.account, o?.workspace])

  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <button
        type="button"
        class="nav-toggle"
        aria-expanded=${navOpen}
        aria-controls="nav"
        onClick=${() => setNavOpen(!navOpen)}
      >
        <span aria-hidden="true">☰</span><span class="sr-only">Menu</span>
      </button>
      <a class="brand" href=${href('overview')}>ioctl</a>
      <span class="workspace" title="account / workspace">
        ${o ? html`${o.account}<span class="muted"> / </span>${o.workspace}` : '…'}
      </span>
      <${LiveBadge} status=${status} />
      <${Counts} counts=${o?.counts} />
      <a class="ide-link" href="/_ioctl/ide">GraphQL IDE</a>
    </header>
    <div class="shell">
      <nav id="nav" class=${`nav ${navOpen ? 'open' : ''}`} aria-label="Dashboard">
        <ul>
          ${NAV.map(
            ([page, label]) =>
              html`<li>
                <a
                  href=${href(page)}
                  data-testid=${`nav-${page}`}
                  aria-current=${route.page === page ? 'page' : undefined}
                  >${label}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
      <main id="main" tabindex="-1">
        ${
          status.skipped > 0 &&
          html`<div class="note note-warn" role="status" data-testid="lagged" data-skipped=${status.skipped}>
            This page fell behind and skipped ${formatCount(status.skipped)} records (the session never waits for it);
            during a burst its lists hold still, and they are refetched once it is over.${' '}
            <button type="button" class="link" onClick=${() => live.dismissSkipped()}>Dismiss</button>
          </div>`
        }
        ${overview.error && html`<div class="note note-error" role="alert">${overview.error.message}</div>`}
        <${Guard} key=${route.page}><${Page} route=${route} overview=${o} /><//>
      </main>
    </div>`
}

/** A page that throws while rendering shows the error instead of blanking the dashboard. */
function Guard({ children }) {
  const [error, reset] = useErrorBoundary((e) => console.error(e))
  if (!error) return children
  return html`<div class="note note-error" role="alert">
    This page failed to show: ${error.message}.${' '}
    <button type="button" class="link" onClick=${reset}>Try again</button>
  </div>`
}

function Page({ route, overview }) {
  switch (route.page) {
    case 'events':
      return html`<${EventsPage} id=${route.id} overview=${overview} />`
    case 'dead-letters':
      return html`<${DeadLettersPage} />`
    case 'requests':
      return html`<${RequestsPage} seq=${route.id} overview=${overview} />`
    case 'logs':
      return html`<${LogsPage} overview=${overview} />`
    case 'data':
      return html`<${DataPage} tab=${route.tab} overview=${overview} />`
    default:
      return html`<${OverviewPage} overview=${overview} />`
  }
}

live.start()
render(html`<${App} />`, document.getElementById('app'))
