// Overview: the workspace's linked apps (state, memory, restarts, last relink and its phases),
// the counts, and the event flow drawn as a picture (senders → keys → handlers, with each
// app's routes and GraphQL endpoint), laid out by lib/flow.js.
import { html } from '../vendor/htm-preact.js'
import { layoutFlow } from '../lib/flow.js'
import { formatBytes, formatCount, formatDuration, formatTime, splitAppId } from '../lib/format.js'
import { Loading, Empty } from '../components.js'

export function OverviewPage({ overview }) {
  if (!overview) return html`<${Loading} what="Loading the workspace" />`
  const apps = overview.apps ?? []
  return html`<section aria-labelledby="overview-title">
    <div class="page-head">
      <h1 id="overview-title">Overview</h1>
      <p class="muted">
        Account <strong>${overview.account}</strong>, workspace <strong>${overview.workspace}</strong>
        ${overview.url && html` · <a href=${overview.url}>${overview.url}</a>`}
      </p>
    </div>
    <${CountCards} counts=${overview.counts} />
    <h2>Linked apps</h2>
    ${
      apps.length === 0
        ? html`<${Empty}>No app is linked. Run <code>ioctl link</code> in an app's folder.<//>`
        : html`<div class="cards">${apps.map((app) => html`<${AppCard} key=${app.id} app=${app} />`)}</div>`
    }
    <h2>Event flow</h2>
    <${FlowDiagram} apps=${apps} />
  </section>`
}

function CountCards({ counts }) {
  const c = counts ?? {}
  const items = [
    ['Published', c.published, 'events in this session'],
    ['Delivered', c.delivered, 'handler runs that succeeded'],
    ['Failed', c.failed, 'deliveries that gave up'],
    ['In flight', c.in_flight, 'deliveries running or waiting to retry'],
    ['Unmatched', c.unmatched, 'events no handler listens to'],
  ]
  return html`<div class="stat-row">
    ${items.map(
      ([label, n, hint]) =>
        html`<div class="stat" title=${hint}>
          <div class="stat-n">${formatCount(n ?? 0)}</div>
          <div class="stat-label">${label}</div>
        </div>`,
    )}
  </div>`
}

function AppCard({ app }) {
  const { name, version } = splitAppId(app.id)
  const relink = app.relink
  return html`<article class="card app-card" data-testid="app-card" data-id=${app.id}>
    <header class="card-head">
      <h3>${name} <span class="version">${version}</span></h3>
      <span class=${`badge state-${app.state}`}>${app.state}</span>
    </header>
    <dl class="facts">
      <div>
        <dt>Node process</dt>
        <dd>${app.pid ? `pid ${app.pid}` : '—'}</dd>
      </div>
      <div>
        <dt>Memory</dt>
        <dd>${app.rss_bytes != null ? formatBytes(app.rss_bytes) : '—'}</dd>
      </div>
      <div>
        <dt>Restarts</dt>
        <dd>${app.restarts ?? 0}</dd>
      </div>
      <div>
        <dt>Last relink</dt>
        <dd>${relink ? html`${formatTime(relink.at)} in ${formatDuration(relink.elapsed_ms)}` : 'not since link'}</dd>
      </div>
    </dl>
    ${relink?.phases && html`<${Phases} phases=${relink.phases} />`}
    <p class="card-foot muted">
      ${app.link && html`<span title="linked from">${app.link}</span>`}
      ${app.settings && html` · <a href="#/data/settings">settings</a>`}
      ${app.graphql && html` · <a href=${`/_ioctl/ide?app=${encodeURIComponent(app.id)}`}>GraphQL IDE</a>`}
    </p>
  </article>`
}

const PHASES = [
  ['read_ms', 'read'],
  ['build_ms', 'build'],
  ['load_ms', 'load'],
  ['switch_ms', 'switch'],
]

/** The relink's phases as one stacked bar with a legend. */
function Phases({ phases }) {
  const total = PHASES.reduce((t, [k]) => t + (phases[k] ?? 0), 0) || 1
  return html`<div class="phases" aria-label="Relink phases">
    <div class="phase-bar" aria-hidden="true">
      ${PHASES.map(
        ([k, label]) =>
          html`<span
            class=${`phase phase-${label}`}
            style=${{ width: `${((phases[k] ?? 0) / total) * 100}%` }}
          ></span>`,
      )}
    </div>
    <ul class="phase-legend">
      ${PHASES.map(
        ([k, label]) =>
          html`<li>
            <span class=${`swatch phase-${label}`} aria-hidden="true"></span>${label} ${formatDuration(phases[k] ?? 0)}
          </li>`,
      )}
    </ul>
  </div>`
}

function FlowDiagram({ apps }) {
  const flow = layoutFlow(apps)
  if (flow.groups.length === 0) return html`<${Empty}>The diagram appears when an app is linked.<//>`
  const pad = 8
  const describe = flow.edges.length
    ? `Event flow: ${flow.nodes.filter((n) => n.kind === 'sender').length} senders, ${
        flow.nodes.filter((n) => n.kind === 'handler').length
      } handlers`
    : 'No app listens to events'
  return html`<figure class="flow" data-testid="flow-diagram">
    <div class="flow-scroll">
      <svg
        viewBox=${`${-pad} ${-pad - 22} ${flow.width + 2 * pad} ${flow.height + 2 * pad + 22}`}
        width=${flow.width + 2 * pad}
        height=${flow.height + 2 * pad + 22}
        role="img"
        aria-label=${describe}
      >
        <text class="flow-col" x="0" y="-10">Senders</text>
        <text class="flow-col" x=${flow.nodes.find((n) => n.kind === 'key')?.x ?? 260} y="-10">Keys</text>
        <text class="flow-col" x=${flow.groups[0].x} y="-10">Apps: handlers, routes, GraphQL</text>
        ${flow.groups.map(
          (g) =>
            html`<g key=${g.id}>
              <rect class="flow-box" x=${g.x} y=${g.y} width=${g.w} height=${g.h} rx="8" />
              <text class="flow-box-label" x=${g.x + 12} y=${g.y + 22}>${clip(g.label, 34)}</text>
            </g>`,
        )}
        ${flow.edges.map((e) => html`<path key=${`${e.from}>${e.to}`} class="flow-edge" d=${e.d} />`)}
        ${flow.nodes.map((n) => html`<${FlowNode} key=${n.id} node=${n} />`)}
      </svg>
    </div>
    <figcaption class="muted">
      Senders publish keys; each app's handlers receive the keys they subscribe to (node/service.json).
      ${apps.some((a) => (a.events ?? []).length) ? '' : ' No linked app subscribes to events yet.'}
    </figcaption>
  </figure>`
}

const KIND_LABEL = { handler: 'handler', route: 'route', graphql: 'GraphQL', sender: '', key: '' }

function FlowNode({ node }) {
  const tag = node.kind === 'route' ? (node.public ? 'public' : 'private') : KIND_LABEL[node.kind]
  const chars = Math.floor((node.w - 20 - (tag ? tag.length * 7 + 8 : 0)) / 7)
  return html`<g class=${`flow-node flow-${node.kind}`}>
    <title>${node.label}${node.route ? ` (route ${node.route})` : ''}</title>
    <rect x=${node.x} y=${node.y} width=${node.w} height=${node.h} rx="6" />
    <text x=${node.x + 10} y=${node.y + node.h / 2 + 4}>${clip(node.label, chars)}</text>
    ${tag && html`<text class="flow-tag" x=${node.x + node.w - 8} y=${node.y + node.h / 2 + 4} text-anchor="end">${tag}</text>`}
  </g>`
}

function clip(s, n) {
  s = String(s)
  return s.length > n ? s.slice(0, Math.max(1, n - 1)) + '…' : s
}
