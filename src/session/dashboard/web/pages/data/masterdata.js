// Master Data: entities → a search (where, sort, fields, schema, as `ioctl masterdata search`)
// → a results table → one document, viewed and edited (saved with PUT semantics).
import { html, useState, useEffect, useRef } from '../../vendor/htm-preact.js'
import { get, post, seg } from '../../api.js'
import { toQuery } from '../../lib/filters.js'
import { checkJson } from '../../lib/json_check.js'
import { formatCount } from '../../lib/format.js'
import { useLoad, ErrorNote, Loading, Empty, Field } from '../../components.js'

const PAGE_SIZE = 50

export function MasterDataTab() {
  const entities = useLoad(() => get('/masterdata'), [])
  const [entity, setEntity] = useState(null)
  const list = entities.data?.entities ?? []
  const chosen = list.find((e) => e.entity === entity)
  return html`<div class="browser md">
    <div class="browser-col">
      <h2>Entities <button type="button" class="link small" onClick=${entities.reload}>refresh</button></h2>
      <${ErrorNote} error=${entities.error} />
      ${entities.loading && !entities.data && html`<${Loading} />`}
      ${entities.data && list.length === 0 && html`<${Empty}>No entity yet: apps create documents with ctx.clients.masterdata, or run <code>ioctl masterdata import</code>.<//>`}
      <ul class="pick">
        ${list.map(
          (e) =>
            html`<li key=${e.entity}>
              <button
                type="button"
                class=${entity === e.entity ? 'picked' : ''}
                aria-pressed=${entity === e.entity}
                data-testid="md-entity"
                data-entity=${e.entity}
                onClick=${() => setEntity(e.entity)}
              >
                <span class="mono">${e.entity}</span> <span class="muted">${formatCount(e.documents)}</span>
              </button>
            </li>`,
        )}
      </ul>
    </div>
    <div class="browser-main">
      ${chosen ? html`<${Search} key=${chosen.entity} entity=${chosen} />` : html`<p class="muted">Pick an entity.</p>`}
    </div>
  </div>`
}

function Search({ entity }) {
  const [form, setForm] = useState({ where: '', sort: '', fields: '', schema: '', page: 1 })
  const [answer, setAnswer] = useState(null)
  const [doc, setDoc] = useState(null)
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value })
  const search = async (page = 1) => {
    setAnswer({ busy: true, result: answer?.result })
    const query = { ...form, page, page_size: PAGE_SIZE }
    try {
      const result = await get(`/masterdata/${seg(entity.entity)}/search${toQuery(query)}`)
      setForm({ ...form, page })
      setAnswer({ result })
    } catch (error) {
      setAnswer({ error })
    }
  }
  const result = answer?.result
  const docs = result?.documents ?? []
  const columns = columnsOf(docs, form.fields)
  const pages = result ? Math.max(1, Math.ceil((result.total ?? docs.length) / PAGE_SIZE)) : 1
  return html`<div>
    <form
      class="card md-search"
      aria-label=${`Search ${entity.entity}`}
      onSubmit=${(e) => {
        e.preventDefault()
        search(1)
      }}
    >
      <div class="try-grid">
        <${Field} id="md-where" label="Where" hint="e.g. email=a@b.com AND age>30">
          <input id="md-where" class="mono" value=${form.where} onInput=${set('where')} data-testid="md-where" />
        <//>
        <${Field} id="md-sort" label="Sort" hint="e.g. createdIn DESC">
          <input id="md-sort" class="mono" value=${form.sort} onInput=${set('sort')} data-testid="md-sort" />
        <//>
        <${Field} id="md-fields" label="Fields" hint="comma-separated; empty: all">
          <input id="md-fields" class="mono" value=${form.fields} onInput=${set('fields')} data-testid="md-fields" />
        <//>
        ${
          (entity.schemas ?? []).length > 0 &&
          html`<${Field} id="md-schema" label="Schema">
            <select id="md-schema" value=${form.schema} onChange=${set('schema')} data-testid="md-schema">
              <option value="">(none)</option>
              ${entity.schemas.map((s) => html`<option value=${s}>${s}</option>`)}
            </select>
          <//>`
        }
      </div>
      <div class="actions">
        <button type="submit" class="primary" data-testid="md-search" disabled=${answer?.busy}>Search</button>
        ${result && html`<span class="muted" data-testid="md-total">${formatCount(result.total ?? docs.length)} documents</span>`}
      </div>
    </form>
    <${ErrorNote} error=${answer?.error} />
    ${result && docs.length === 0 && html`<${Empty}>No document matches.<//>`}
    ${
      docs.length > 0 &&
      html`<div class="table-scroll">
          <table class="results">
            <thead>
              <tr>
                ${columns.map((c) => html`<th scope="col">${c}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${docs.map(
                (d, i) =>
                  html`<tr
                    key=${d.id ?? i}
                    data-testid="md-row"
                    data-id=${d.id}
                    class=${doc === d.id ? 'selected' : ''}
                  >
                    ${columns.map((c, j) =>
                      j === 0 && d.id != null
                        ? html`<td>
                            <button type="button" class="link mono" onClick=${() => setDoc(d.id)}>${cell(d[c])}</button>
                          </td>`
                        : html`<td title=${cell(d[c])}>${cell(d[c])}</td>`,
                    )}
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        ${
          pages > 1 &&
          html`<div class="actions pager">
            <button type="button" disabled=${form.page <= 1} onClick=${() => search(form.page - 1)}>Previous</button>
            <span class="muted">page ${form.page} of ${pages}</span>
            <button type="button" disabled=${form.page >= pages} onClick=${() => search(form.page + 1)}>Next</button>
          </div>`
        }`
    }
    ${doc && html`<${DocumentEditor} key=${doc} entity=${entity.entity} id=${doc} onSaved=${() => search(form.page)} />`}
  </div>`
}

/** `id` first, then the asked fields or the documents' keys (at most 8, the rest in the document view). */
function columnsOf(docs, fields) {
  const asked = fields
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
  const keys = asked.length ? asked : [...new Set(docs.slice(0, 50).flatMap((d) => Object.keys(d)))]
  return ['id', ...keys.filter((k) => k !== 'id')].slice(0, 9)
}

function cell(v) {
  if (v == null) return ''
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

function DocumentEditor({ entity, id, onSaved }) {
  const url = `/masterdata/${seg(entity)}/documents/${seg(id)}`
  const doc = useLoad(() => get(url), [url])
  const [text, setText] = useState(null)
  const [state, setState] = useState(null)
  // The editor opens below the results: bring it into view once it has the document.
  const ref = useRef(null)
  const loaded = Boolean(doc.data)
  useEffect(() => {
    if (loaded) ref.current?.scrollIntoView({ block: 'nearest' })
  }, [loaded])
  const content = text ?? (doc.data ? JSON.stringify(doc.data, null, 2) : '')
  const check = checkJson(content)
  const save = async () => {
    if (!check.ok) return
    setState({ busy: true })
    try {
      await post(url, { document: check.value })
      setState({ saved: true })
      onSaved()
    } catch (error) {
      setState({ error })
    }
  }
  if (doc.error) return html`<${ErrorNote} error=${doc.error} />`
  if (!doc.data) return html`<${Loading} what="Loading the document" />`
  return html`<section class="card editor" aria-labelledby="md-doc-title" ref=${ref}>
    <h3 id="md-doc-title">Document <span class="mono">${id}</span></h3>
    <label for="md-editor" class="sr-only">Document ${id} as JSON</label>
    <textarea
      id="md-editor"
      class="code"
      rows="16"
      spellcheck="false"
      value=${content}
      aria-invalid=${!check.ok}
      onInput=${(e) => {
        setText(e.currentTarget.value)
        setState(null)
      }}
      data-testid="md-editor"
    ></textarea>
    ${!check.ok && html`<div class="field-error" role="alert">Line ${check.line}, column ${check.column}: ${check.message}</div>`}
    ${
      state?.error?.fields?.length > 0 &&
      html`<ul class="field-error" role="alert" data-testid="md-errors">
        ${state.error.fields.map((f) => html`<li><span class="mono">${f.path || '/'}</span>: ${f.message}</li>`)}
      </ul>`
    }
    ${state?.error && !state.error.fields?.length && html`<${ErrorNote} error=${state.error} />`}
    <div class="actions">
      <button type="button" class="primary" data-testid="md-save" disabled=${!check.ok || state?.busy} onClick=${save}>
        Save
      </button>
      ${state?.saved && html`<span class="note-inline ok" role="status" data-testid="md-saved">Saved.</span>`}
    </div>
  </section>`
}
