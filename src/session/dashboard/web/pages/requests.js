// Requests: route requests and GraphQL operations (live, newest first, virtualised), one
// request's waterfall of platform and outbound calls (bodies on demand), and "Try a route".
import { html, useState, useMemo, useEffect } from '../vendor/htm-preact.js'
import { get, post } from '../api.js'
import { matchesRequest, cleanFilter, toQuery } from '../lib/filters.js'
import { formatTime, formatDuration, formatCount } from '../lib/format.js'
import { href, routeParams, fillRoute } from '../lib/route.js'
import { checkJson } from '../lib/json_check.js'
import {
  useHistory,
  useLoad,
  debounce,
  ErrorNote,
  Loading,
  Empty,
  VirtualList,
  Trace,
  Field,
  Body,
} from '../components.js'

const KEEP = 2000
const ROW = 38

export function RequestsPage({ seq, overview }) {
  const [trying, setTrying] = useState(false)
  return html`<section class=${`requests ${seq ? 'has-detail' : ''}`} aria-labelledby="req-title">
    <div class="page-head">
      <h1 id="req-title">Requests</h1>
      <button
        type="button"
        class="primary"
        data-testid="try-open"
        aria-expanded=${trying}
        onClick=${() => setTrying(!trying)}
      >
        ${trying ? 'Close' : 'Try a route'}
      </button>
    </div>
    ${trying && html`<${TryRoute} apps=${overview?.apps ?? []} />`}
    <div class="split">
      <div class="split-list"><${RequestList} selected=${seq} apps=${overview?.apps ?? []} /></div>
      ${seq && html`<div class="split-detail"><${RequestDetail} key=${seq} seq=${seq} /></div>`}
    </div>
  </section>`
}

function RequestList({ selected, apps }) {
  const [form, setForm] = useState({ app: '', q: '' })
  const [filter, setFilter] = useState({})
  const applySoon = useMemo(() => debounce((f) => setFilter(cleanFilter(f, ['app', 'q'])), 250), [])
  useEffect(() => () => applySoon.cancel(), [])
  const set = (k) => (e) => {
    const next = { ...form, [k]: e.currentTarget.value }
    setForm(next)
    applySoon(next)
  }
  const h = useHistory({
    path: 'requests',
    field: 'requests',
    type: 'request',
    filter,
    match: matchesRequest,
    keep: KEEP,
  })
  const count = h.ring.length
  return html`<div class="list-pane">
    <form class="filters" role="search" aria-label="Filter requests" onSubmit=${(e) => e.preventDefault()}>
      <div class="filter-q">
        <label for="rq-q">Search</label>
        <input
          id="rq-q"
          type="search"
          placeholder="path, route, operation, status"
          value=${form.q}
          onInput=${set('q')}
        />
      </div>
      <div>
        <label for="rq-app">App</label>
        <select id="rq-app" value=${form.app} onChange=${set('app')}>
          <option value="">any</option>
          ${apps.map((a) => html`<option value=${a.id}>${a.id}</option>`)}
        </select>
      </div>
    </form>
    <div class="list-meta muted" aria-live="polite">
      ${formatCount(count)} shown${h.seen ? ` · the session kept ${formatCount(h.kept)} of ${formatCount(h.seen)} when this list loaded` : ''}
    </div>
    <${ErrorNote} error=${h.status.error} />
    ${
      count === 0 && !h.status.loading
        ? html`<${Empty}>No request yet: open one of the apps' routes, or use Try a route.<//>`
        : html`<${VirtualList}
            count=${count}
            rowHeight=${ROW}
            label="Requests, newest first"
            testid="request-list"
            prepended=${h.prepended}
            onNearEnd=${h.loadOlder}
            row=${(i) => html`<${RequestRow} key=${h.ring.get(i).seq} r=${h.ring.get(i)} selected=${selected} />`}
          />`
    }
  </div>`
}

function statusClass(status) {
  if (status >= 500) return 'status-5xx'
  if (status >= 400) return 'status-4xx'
  return 'status-ok'
}

function RequestRow({ r, selected }) {
  const is = String(r.seq) === String(selected)
  return html`<a
    class=${`row request-row ${is ? 'selected' : ''}`}
    href=${href('requests', r.seq)}
    role="listitem"
    data-testid="request-row"
    data-seq=${r.seq}
    aria-current=${is ? 'true' : undefined}
  >
    <span class="cell time">${formatTime(r.time)}</span>
    <span class="cell method mono">${r.kind === 'graphql' ? 'GQL' : r.method}</span>
    <span class="cell path mono" title=${r.path}>${r.operation ?? r.path}</span>
    <span class="cell app muted" title=${r.app}>${r.app}</span>
    <span class="cell user muted">${r.user}</span>
    <span class=${`cell status badge ${statusClass(r.status)}`}>${r.status}</span>
    <span class="cell elapsed">${formatDuration(r.elapsed_ms)}</span>
  </a>`
}

function RequestDetail({ seq }) {
  // No endpoint reads one request by seq: the page of one request just before seq+1 is it.
  const { data, error } = useLoad(async () => {
    const answer = await get(`/requests${toQuery({}, { before: Number(seq) + 1, limit: 1 })}`)
    const r = (answer.requests ?? []).find((x) => String(x.seq) === String(seq))
    if (!r)
      throw Object.assign(new Error(`Request ${seq} is not kept (the session keeps the newest requests only).`), {
        status: 404,
      })
    return r
  }, [seq])
  return html`<article class="detail" data-testid="request-detail" aria-labelledby="request-title">
    <header class="detail-head">
      <a class="back" href=${href('requests')}>← Requests</a>
      <h2 id="request-title">
        ${data ? html`<span class="mono">${data.method} ${data.operation ?? data.path}</span>` : `Request ${seq}`}
      </h2>
      ${data && html`<span class=${`badge ${statusClass(data.status)}`}>${data.status}</span>`}
    </header>
    <${ErrorNote} error=${error} />
    ${!data && !error && html`<${Loading} />`}
    ${
      data &&
      html`<dl class="facts wide">
          <div>
            <dt>Time</dt>
            <dd>${formatTime(data.time)}</dd>
          </div>
          <div>
            <dt>App</dt>
            <dd class="mono">${data.app}</dd>
          </div>
          <div>
            <dt>Route</dt>
            <dd class="mono">${data.route}</dd>
          </div>
          <div>
            <dt>Path</dt>
            <dd class="mono">${data.path}</dd>
          </div>
          ${
            data.operation &&
            html`<div>
              <dt>Operation</dt>
              <dd class="mono">${data.operation}</dd>
            </div>`
          }
          <div>
            <dt>Identity</dt>
            <dd>${data.user}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>${formatDuration(data.elapsed_ms)}</dd>
          </div>
        </dl>
        <h3>What it did</h3>
        ${data.trace != null ? html`<${Trace} trace=${data.trace} />` : html`<p class="muted">No trace kept.</p>`}`
    }
  </article>`
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

/** POST /api/try: one request to a linked app's route, as a chosen identity. */
function TryRoute({ apps }) {
  const [form, setForm] = useState({
    app: apps[0]?.id ?? '',
    method: 'GET',
    path: '',
    query: '',
    body: '',
    as: 'admin',
  })
  const [answer, setAnswer] = useState(null)
  // The chosen route's path template and its parameters' values; they write the path.
  const [template, setTemplate] = useState('')
  const [params, setParams] = useState({})
  const setParam = (name) => (e) => {
    const next = { ...params, [name]: e.currentTarget.value }
    setParams(next)
    setForm((f) => ({ ...f, path: fillRoute(template, next) }))
  }
  const app = apps.find((a) => a.id === form.app)
  useEffect(() => {
    if (!form.app && apps[0]) setForm((f) => ({ ...f, app: apps[0].id }))
  }, [apps.length])
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value })
  const bodyCheck = form.body.trim() ? checkJson(form.body) : { ok: true }
  const send = async (e) => {
    e.preventDefault()
    setAnswer({ busy: true })
    try {
      const body = { app: form.app, method: form.method, path: form.path, as: form.as }
      if (form.query.trim()) body.query = form.query.trim().replace(/^\?/, '')
      if (form.body.trim()) body.body = form.body
      setAnswer({ result: await post('/try', body) })
    } catch (error) {
      setAnswer({ error })
    }
  }
  return html`<form class="card try" onSubmit=${send} aria-label="Try a route">
    <div class="try-grid">
      <${Field} id="try-app" label="App">
        <select id="try-app" value=${form.app} onChange=${set('app')} data-testid="try-app" required>
          ${apps.map((a) => html`<option value=${a.id}>${a.id}</option>`)}
        </select>
      <//>
      <${Field} id="try-route" label="Route" hint="fills the path and its parameters">
        <select
          id="try-route"
          onChange=${(e) => {
            const t = e.currentTarget.value
            setTemplate(t)
            setParams({})
            setForm({ ...form, path: t })
          }}
          data-testid="try-route"
        >
          <option value="">(type a path)</option>
          ${(app?.routes ?? []).map((r) => html`<option value=${r.path}>${r.id} ${r.path}${r.public ? '' : ' (private)'}</option>`)}
        </select>
      <//>
      <${Field} id="try-method" label="Method">
        <select id="try-method" value=${form.method} onChange=${set('method')} data-testid="try-method">
          ${METHODS.map((m) => html`<option value=${m}>${m}</option>`)}
        </select>
      <//>
      <${Field} id="try-as" label="As">
        <select id="try-as" value=${form.as} onChange=${set('as')} data-testid="try-as">
          <option value="admin">admin</option>
          <option value="shopper">shopper</option>
          <option value="anonymous">anonymous</option>
        </select>
      <//>
    </div>
    ${
      routeParams(template).length > 0 &&
      html`<div class="try-grid">
      ${routeParams(template).map(
        (name) => html`<${Field} id=${`try-param-${name}`} label=${`:${name}`}>
          <input id=${`try-param-${name}`} class="mono" value=${params[name] ?? ''} onInput=${setParam(name)} data-testid=${`try-param-${name}`} />
        <//>`,
      )}
    </div>`
    }
    <div class="try-grid two">
      <${Field} id="try-path" label="Path">
        <input
          id="try-path"
          class="mono"
          required
          placeholder="/_v/my-route/42"
          value=${form.path}
          onInput=${set('path')}
          data-testid="try-path"
        />
      <//>
      <${Field} id="try-query" label="Query">
        <input
          id="try-query"
          class="mono"
          placeholder="a=1&b=2"
          value=${form.query}
          onInput=${set('query')}
          data-testid="try-query"
        />
      <//>
    </div>
    <${Field}
      id="try-body"
      label="Body"
      hint=${form.body.trim() && bodyCheck.ok ? 'Valid JSON.' : form.body.trim() ? null : 'Sent as is; JSON is checked.'}
      error=${bodyCheck.ok ? null : `Not JSON at line ${bodyCheck.line}, column ${bodyCheck.column}: ${bodyCheck.message} (sent as text anyway)`}
    >
      <textarea
        id="try-body"
        class="code"
        rows="4"
        spellcheck="false"
        value=${form.body}
        onInput=${set('body')}
        data-testid="try-body"
      ></textarea>
    <//>
    <div class="actions">
      <button type="submit" class="primary" data-testid="try-send" disabled=${answer?.busy || !form.app}>
        Send request
      </button>
    </div>
    <${ErrorNote} error=${answer?.error} />
    ${answer?.result && html`<${TryResult} r=${answer.result} />`}
  </form>`
}

function TryResult({ r }) {
  const headers = Object.entries(r.headers ?? {})
  return html`<div class="try-result" data-testid="try-result" data-status=${r.status}>
    <h3>
      <span class=${`badge ${statusClass(r.status)}`}>${r.status}</span>
      <span class="muted"> in ${formatDuration(r.elapsed_ms)}</span>
    </h3>
    ${
      headers.length > 0 &&
      html`<details>
        <summary>${headers.length} response headers</summary>
        <table class="headers">
          <tbody>
            ${headers.map(
              ([k, v]) =>
                html`<tr>
                  <th scope="row">${k}</th>
                  <td>${v}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </details>`
    }
    ${r.body ? html`<${Body} text=${r.body} />` : html`<p class="muted">Empty body.</p>`}
    ${
      r.trace != null &&
      html`<h4>What it did</h4>
        <${Trace} trace=${r.trace} />`
    }
  </div>`
}
