// VBase: an app's buckets → files → one file's content, edited and saved with `if_match` = the hash it
// was read at, so a change made meanwhile (by the app or the CLI) is a visible conflict and not
// a lost write; delete.
import { html, useState, useMemo } from '../../vendor/htm-preact.js'
import { get, post, del } from '../../api.js'
import { checkJson } from '../../lib/json_check.js'
import { formatCount } from '../../lib/format.js'
import { useLoad, ErrorNote, Loading, Empty } from '../../components.js'

export function VbaseTab() {
  const buckets = useLoad(() => get('/vbase'), [])
  // The picked bucket: {app, bucket} (buckets belong to an app, as `ioctl vbase` names them).
  const [bucket, setBucket] = useState(null)
  const [file, setFile] = useState(null)
  const list = buckets.data?.buckets ?? []
  const same = (b) => bucket != null && bucket.app === b.app && bucket.bucket === b.bucket
  const bucketKey = bucket ? `${bucket.app}\u0000${bucket.bucket}` : ''
  return html`<div class="browser">
    <div class="browser-col">
      <h2>Buckets <button type="button" class="link small" onClick=${buckets.reload}>refresh</button></h2>
      <${ErrorNote} error=${buckets.error} />
      ${buckets.loading && !buckets.data && html`<${Loading} />`}
      ${buckets.data && list.length === 0 && html`<${Empty}>No bucket yet: apps create them with ctx.clients.vbase.<//>`}
      <ul class="pick">
        ${list.map(
          (b) =>
            html`<li key=${`${b.app}\u0000${b.bucket}`}>
              <button
                type="button"
                class=${same(b) ? 'picked' : ''}
                aria-pressed=${same(b)}
                data-testid="vbase-bucket"
                data-app=${b.app}
                data-bucket=${b.bucket}
                onClick=${() => {
                  setBucket({ app: b.app, bucket: b.bucket })
                  setFile(null)
                }}
              >
                <span class="mono">${b.bucket}</span> <span class="muted">${b.app} · ${formatCount(b.files)}</span>
              </button>
            </li>`,
        )}
      </ul>
    </div>
    <div class="browser-col">
      ${bucket && html`<${Files} key=${bucketKey} bucket=${bucket} selected=${file} onPick=${setFile} />`}
    </div>
    <div class="browser-main">
      ${
        bucket && file
          ? html`<${FileEditor}
              key=${`${bucketKey}\u0000${file}`}
              bucket=${bucket}
              path=${file}
              onDeleted=${() => {
                setFile(null)
                buckets.reload()
              }}
            />`
          : html`<p class="muted">${bucket ? 'Pick a file.' : 'Pick a bucket.'}</p>`
      }
    </div>
  </div>`
}

/** `app=…&bucket=…` of a picked bucket. */
function bucketQuery(bucket) {
  return `app=${encodeURIComponent(bucket.app)}&bucket=${encodeURIComponent(bucket.bucket)}`
}

function Files({ bucket, selected, onPick }) {
  const files = useLoad(() => get(`/vbase/files?${bucketQuery(bucket)}`), [bucket.app, bucket.bucket])
  const list = files.data?.files ?? []
  return html`<h2>Files <button type="button" class="link small" onClick=${files.reload}>refresh</button></h2>
    <${ErrorNote} error=${files.error} />
    ${files.loading && !files.data && html`<${Loading} />`}
    ${files.data && list.length === 0 && html`<${Empty}>This bucket is empty.<//>`}
    <ul class="pick">
      ${list.map(
        (f) =>
          html`<li key=${f.path}>
            <button
              type="button"
              class=${selected === f.path ? 'picked' : ''}
              aria-pressed=${selected === f.path}
              data-testid="vbase-file"
              data-path=${f.path}
              onClick=${() => onPick(f.path)}
              title=${`version ${f.hash}`}
            >
              <span class="mono">${f.path}</span>
            </button>
          </li>`,
      )}
    </ul>`
}

function FileEditor({ bucket, path, onDeleted }) {
  const url = `/vbase/file?${bucketQuery(bucket)}&path=${encodeURIComponent(path)}`
  const file = useLoad(() => get(url), [url])
  const [text, setText] = useState(null)
  const [hash, setHash] = useState(null)
  const [state, setState] = useState(null)
  const loaded = file.data
  // The hash this edit started from: the one read, or the one the last save returned.
  const base = hash ?? loaded?.hash
  const content = text ?? loaded?.content ?? ''
  const wasJson = useMemo(() => loaded != null && checkJson(loaded.content ?? '').ok, [loaded])
  const check = wasJson ? checkJson(content) : { ok: true }

  const save = async (ifMatch) => {
    setState({ busy: true })
    try {
      const answer = await post(url, { content, if_match: ifMatch })
      setHash(answer.hash)
      setState({ saved: true })
    } catch (error) {
      if (error.status === 412) setState({ conflict: error.body?.hash ?? null })
      else setState({ error })
    }
  }
  const reload = () => {
    setText(null)
    setHash(null)
    setState(null)
    file.reload()
  }
  const remove = async () => {
    if (!confirm(`Delete ${path} from ${bucket.bucket}? Apps reading it get a 404 from now on.`)) return
    try {
      await del(url)
      onDeleted()
    } catch (error) {
      setState({ error })
    }
  }
  const format = () => {
    const c = checkJson(content)
    if (c.ok) setText(JSON.stringify(c.value, null, 2))
  }
  if (file.error) return html`<${ErrorNote} error=${file.error} />`
  if (!loaded) return html`<${Loading} what="Loading the file" />`
  return html`<div class="editor">
    <h2 class="mono">${path}</h2>
    <p class="muted small">hash <span class="mono">${base}</span></p>
    ${
      state?.conflict !== undefined &&
      html`<div class="note note-warn conflict" role="alert" data-testid="vbase-conflict">
        <strong>This file changed since you opened it</strong> (by an app or the CLI). Saving now would overwrite that
        change.
        <div class="actions">
          <button type="button" onClick=${reload} data-testid="vbase-reload">Reload (drop my edits)</button>
          ${
            state.conflict &&
            html`<button
              type="button"
              class="danger"
              onClick=${() => save(state.conflict)}
              data-testid="vbase-overwrite"
            >
              Overwrite
            </button>`
          }
        </div>
      </div>`
    }
    <label for="vbase-editor" class="sr-only">Content of ${path}</label>
    <textarea
      id="vbase-editor"
      class="code"
      rows="18"
      spellcheck="false"
      value=${content}
      aria-invalid=${!check.ok}
      onInput=${(e) => {
        setText(e.currentTarget.value)
        if (state?.saved) setState(null)
      }}
      data-testid="vbase-editor"
    ></textarea>
    ${
      !check.ok &&
      html`<div class="field-error" role="alert" data-testid="vbase-json-error">
        Line ${check.line}, column ${check.column}: ${check.message}
      </div>`
    }
    <div class="actions">
      <button
        type="button"
        class="primary"
        data-testid="vbase-save"
        disabled=${!check.ok || state?.busy}
        onClick=${() => save(base)}
      >
        Save
      </button>
      ${wasJson && html`<button type="button" onClick=${format} disabled=${!check.ok}>Format JSON</button>`}
      <button type="button" class="danger" data-testid="vbase-delete" onClick=${remove}>Delete</button>
      ${state?.saved && html`<span class="note-inline ok" role="status" data-testid="vbase-saved">Saved.</span>`}
    </div>
    <${ErrorNote} error=${state?.error} />
  </div>`
}
