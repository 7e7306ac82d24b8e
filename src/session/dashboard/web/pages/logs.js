// Logs: the lines the link terminal shows, live, newest first, by app and minimum level with a
// text filter; at most KEEP lines held and SHOW in the DOM (a narrower filter shows older ones).
import { html, useState, useMemo, useEffect } from '../vendor/htm-preact.js'
import { matchesLog, cleanFilter, LEVELS } from '../lib/filters.js'
import { formatTime, formatCount } from '../lib/format.js'
import { useHistory, debounce, ErrorNote, Empty } from '../components.js'

const KEEP = 5000
const SHOW = 1000

export function LogsPage({ overview }) {
  const apps = overview?.apps ?? []
  const [form, setForm] = useState({ app: '', level: '', q: '' })
  const [filter, setFilter] = useState({})
  const applySoon = useMemo(() => debounce((f) => setFilter(cleanFilter(f, ['app', 'level', 'q'])), 250), [])
  useEffect(() => () => applySoon.cancel(), [])
  const set = (k) => (e) => {
    const next = { ...form, [k]: e.currentTarget.value }
    setForm(next)
    applySoon(next)
  }
  const h = useHistory({ path: 'logs', field: 'lines', type: 'log', filter, match: matchesLog, keep: KEEP, page: 500 })
  const lines = []
  for (let i = 0; i < Math.min(h.ring.length, SHOW); i++) lines.push(h.ring.get(i))
  return html`<section aria-labelledby="logs-title">
    <div class="page-head"><h1 id="logs-title">Logs</h1></div>
    <form class="filters" role="search" aria-label="Filter logs" onSubmit=${(e) => e.preventDefault()}>
      <div class="filter-q">
        <label for="lg-q">Search</label>
        <input
          id="lg-q"
          type="search"
          placeholder="text in the message"
          value=${form.q}
          onInput=${set('q')}
          data-testid="logs-filter-q"
        />
      </div>
      <div>
        <label for="lg-app">App</label>
        <select id="lg-app" value=${form.app} onChange=${set('app')} data-testid="logs-filter-app">
          <option value="">any</option>
          ${apps.map((a) => html`<option value=${a.id}>${a.id}</option>`)}
        </select>
      </div>
      <div>
        <label for="lg-level">Minimum level</label>
        <select id="lg-level" value=${form.level} onChange=${set('level')} data-testid="logs-filter-level">
          <option value="">debug (all)</option>
          ${LEVELS.slice(1).map((l) => html`<option value=${l}>${l}</option>`)}
        </select>
      </div>
    </form>
    <div class="list-meta muted" aria-live="polite">
      ${
        h.ring.length > SHOW
          ? `newest ${formatCount(SHOW)} of ${formatCount(h.ring.length)} held; narrow the filter to see older lines`
          : `${formatCount(h.ring.length)} lines`
      }
      ${h.seen ? ` · the session kept ${formatCount(h.kept)} of ${formatCount(h.seen)} when this list loaded` : ''}
      ${
        h.more &&
        h.ring.length < KEEP &&
        h.ring.length <= SHOW &&
        html` · <button type="button" class="link" onClick=${h.loadOlder}>Load older</button>`
      }
    </div>
    <${ErrorNote} error=${h.status.error} />
    ${
      lines.length === 0 && !h.status.loading
        ? html`<${Empty}>No log line${Object.keys(filter).length ? ' matches these filters' : ' yet'}.<//>`
        : html`<ol class="logs" aria-label="Log lines, newest first">
            ${lines.map(
              (l) =>
                html`<li key=${l.seq} class=${`log-line level-${l.level}`} data-testid="log-line" data-level=${l.level}>
                  <span class="time">${formatTime(l.time)}</span>
                  <span class=${`level badge level-${l.level}`}>${l.level}</span>
                  <span class="log-app muted" title=${l.app}>${l.app}${l.handler ? ` · ${l.handler}` : ''}</span>
                  <pre class="message">${l.message}</pre>
                </li>`,
            )}
          </ol>`
    }
  </section>`
}
