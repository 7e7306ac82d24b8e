// Dead letters: events whose last attempt at a handler failed, grouped by app, with the count
// each app dropped beyond the session's bound; replay one, an app's, or all.
import { html, useState, useEffect } from '../vendor/htm-preact.js'
import { get, post } from '../api.js'
import { live } from '../live.js'
import { formatDateTime, formatDuration, formatCount } from '../lib/format.js'
import { href } from '../lib/route.js'
import { useLoad, useLiveReload, throttle, ErrorNote, Loading, Empty } from '../components.js'
import { replayedCount } from './events.js'

export function DeadLettersPage() {
  const { data, error, loading, reload } = useLoad(() => get('/dead-letters'), [])
  const [result, setResult] = useState(null)
  useLiveReload(reload)
  // A delivery that gives up makes a new letter (replays refetch after their own POST).
  useEffect(() => {
    const soon = throttle(reload, 500)
    const off = live.on('delivery', (r) => r.outcome === 'failed' && soon())
    return () => {
      off()
      soon.cancel()
    }
  }, [reload])

  const replay = async (body, what) => {
    setResult({ busy: what })
    try {
      const r = await post('/dead-letters/replay', body)
      setResult({
        text: `Replayed ${replayedCount(r)} ${replayedCount(r) === 1 ? 'delivery' : 'deliveries'} (${what}).`,
      })
      reload()
    } catch (e) {
      setResult({ error: e })
    }
  }

  const letters = data?.letters ?? []
  const dropped = data?.dropped ?? {}
  const apps = [...new Set([...letters.map((l) => l.app), ...Object.keys(dropped)])].sort()
  return html`<section aria-labelledby="dl-title">
    <div class="page-head">
      <h1 id="dl-title">Dead letters</h1>
      <button
        type="button"
        class="primary"
        data-testid="replay-all"
        disabled=${letters.length === 0 || Boolean(result?.busy)}
        onClick=${() => replay({}, 'all')}
      >
        Replay all
      </button>
    </div>
    <p class="muted">
      Events whose last attempt at a handler
      failed${data?.bound ? `; the newest ${formatCount(data.bound)} are kept` : ''}. Replaying delivers the event to
      that handler again, as <code>ioctl events replay</code> does.
    </p>
    ${result?.text && html`<div class="note note-ok" role="status" data-testid="replay-result">${result.text}</div>`}
    <${ErrorNote} error=${result?.error ?? error} />
    ${loading && !data && html`<${Loading} />`}
    ${data && apps.length === 0 && html`<${Empty}>No dead letters: every delivery succeeded or is still retrying.<//>`}
    ${apps.map(
      (app) =>
        html`<section class="card" key=${app}>
          <header class="card-head">
            <h2 class="mono">${app}</h2>
            ${
              dropped[app] > 0 &&
              html`<span class="badge outcome-failed" title="Dead letters dropped beyond the bound"
                >${formatCount(dropped[app])} dropped</span
              >`
            }
            <span class="grow"></span>
            <button type="button" onClick=${() => replay({ app }, app)} disabled=${Boolean(result?.busy)}>
              Replay this app's
            </button>
          </header>
          <ul class="letters">
            ${letters
              .filter((l) => l.app === app)
              .map(
                (l) =>
                  html`<${Letter}
                    key=${`${l.event.id}:${l.handler}`}
                    letter=${l}
                    onReplay=${replay}
                    busy=${Boolean(result?.busy)}
                  />`,
              )}
          </ul>
        </section>`,
    )}
  </section>`
}

function Letter({ letter, onReplay, busy }) {
  const last = letter.attempts?.[letter.attempts.length - 1]
  return html`<li class="letter" data-testid="dead-letter" data-id=${letter.event.id}>
    <div class="letter-line">
      <a class="mono" href=${href('events', letter.event.id)}>${letter.event.id}</a>
      <span>${letter.event.sender} / <span class="mono">${letter.event.key}</span></span>
      <span>→ <span class="mono">${letter.handler}</span></span>
      <span class="muted"
        >failed ${formatDateTime(letter.failed_at)} after ${letter.attempts?.length ?? 0} attempts</span
      >
      <span class="grow"></span>
      <button
        type="button"
        data-testid="replay-letter"
        disabled=${busy}
        onClick=${() => onReplay({ app: letter.app, id: letter.event.id }, letter.event.id)}
      >
        Replay
      </button>
    </div>
    ${
      last &&
      html`<details class="letter-error">
        <summary>
          <span class="attempt-error">${last.error}</span><span class="muted">${` (${formatDuration(last.elapsed_ms)})`}</span>
        </summary>
        ${letter.attempts.map(
          (a) =>
            html`<div class="attempt">
              <strong>Attempt ${a.attempt}</strong> <span class="muted">${formatDuration(a.elapsed_ms)}</span>
              <div class="attempt-error">${a.error}</div>
              ${a.stack && html`<pre class="code stack">${a.stack}</pre>`}
            </div>`,
        )}
      </details>`
    }
  </li>`
}
