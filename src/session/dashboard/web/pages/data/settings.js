// App settings as a form generated from the app's settingsSchema (lib/schema_form.js); Save
// posts the value, and the session's validation errors show at their fields.
import { html, useState, useEffect, useMemo } from '../../vendor/htm-preact.js'
import { get, post, seg } from '../../api.js'
import { fieldsFor, toDraft, fromDraft, placeErrors, fieldTestId } from '../../lib/schema_form.js'
import { useLoad, ErrorNote, Loading, Empty } from '../../components.js'

export function SettingsTab({ apps }) {
  const withSettings = apps.filter((a) => a.settings !== false)
  const [app, setApp] = useState('')
  const chosen = app || withSettings[0]?.id || ''
  if (apps.length === 0) return html`<${Empty}>No app is linked.<//>`
  return html`<div class="settings">
    <div class="field inline">
      <label for="settings-app">App</label>
      <select
        id="settings-app"
        value=${chosen}
        onChange=${(e) => setApp(e.currentTarget.value)}
        data-testid="settings-app"
      >
        ${apps.map((a) => html`<option value=${a.id}>${a.id}${a.settings ? '' : ' (no settingsSchema)'}</option>`)}
      </select>
    </div>
    ${chosen && html`<${SettingsEditor} key=${chosen} app=${chosen} />`}
  </div>`
}

function SettingsEditor({ app }) {
  const { data, error } = useLoad(() => get(`/settings/${seg(app)}`), [app])
  if (error) return html`<${ErrorNote} error=${error} />`
  if (!data) return html`<${Loading} what="Loading the settings" />`
  return html`<${SettingsForm} app=${app} schema=${data.schema} value=${data.value ?? {}} />`
}

function SettingsForm({ app, schema, value }) {
  const fields = useMemo(() => fieldsFor(schema), [schema])
  const [base, setBase] = useState(value)
  const [draft, setDraft] = useState(() => toDraft(fields, value))
  const [errors, setErrors] = useState({ byField: {}, form: [] })
  const [state, setState] = useState(null)
  useEffect(() => {
    setBase(value)
    setDraft(toDraft(fields, value))
  }, [value, fields])

  const save = async (e) => {
    e.preventDefault()
    const local = fromDraft(fields, draft, base)
    if (local.errors.length) {
      setErrors(placeErrors(fields, local.errors))
      setState(null)
      return
    }
    setState({ busy: true })
    try {
      const answer = await post(`/settings/${seg(app)}`, { value: local.value })
      const saved = answer.value ?? local.value
      setBase(saved)
      setDraft(toDraft(fields, saved))
      setErrors({ byField: {}, form: [] })
      setState({ saved: true })
    } catch (error) {
      if (error.fields.length) {
        setErrors(placeErrors(fields, error.fields))
        setState(null)
      } else {
        setErrors({ byField: {}, form: [] })
        setState({ error })
      }
    }
  }
  const onChange = (path, v) => {
    setDraft({ ...draft, [path]: v })
    setState(null)
  }
  return html`<form
    class="card settings-form"
    onSubmit=${save}
    data-testid="settings-form"
    novalidate
    aria-label=${`Settings of ${app}`}
  >
    ${!schema && html`<p class="muted">This app declares no settingsSchema: its settings are edited as JSON.</p>`}
    ${
      errors.form.length > 0 &&
      html`<div class="note note-error" role="alert" data-testid="settings-errors">
        ${errors.form.map((m) => html`<div>${m}</div>`)}
      </div>`
    }
    <${Fields} fields=${fields} draft=${draft} errors=${errors.byField} onChange=${onChange} />
    <div class="actions">
      <button type="submit" class="primary" data-testid="settings-save" disabled=${state?.busy}>Save</button>
      ${state?.saved && html`<span class="note-inline ok" role="status" data-testid="settings-saved">Saved: the app sees the new settings now.</span>`}
    </div>
    <${ErrorNote} error=${state?.error} />
  </form>`
}

function Fields({ fields, draft, errors, onChange }) {
  return fields.map(
    (f) => html`<${FormField} key=${f.path} f=${f} draft=${draft} errors=${errors} onChange=${onChange} />`,
  )
}

function inputId(path) {
  return `set${path.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`
}

function FormField({ f, draft, errors, onChange }) {
  const id = inputId(f.path || '/')
  const message = (errors[f.path] ?? []).join('; ')
  const described = [f.description && `${id}-hint`, message && `${id}-error`].filter(Boolean).join(' ') || undefined
  const err =
    message &&
    html`<div class="field-error" id=${`${id}-error`} role="alert" data-testid="field-error">${message}</div>`
  const hint = f.description && html`<div class="hint" id=${`${id}-hint`}>${f.description}</div>`
  const label = html`${f.label}${f.required ? html`<span class="req" aria-hidden="true"> *</span>` : ''}`
  const common = { id, 'aria-invalid': Boolean(message), 'aria-describedby': described, 'aria-required': f.required }
  const testid = fieldTestId(f.path)

  if (f.kind === 'object') {
    return html`<fieldset class=${`field-group ${message ? 'has-error' : ''}`} data-testid=${testid}>
      <legend>${label}</legend>
      ${hint}${err}
      <${Fields} fields=${f.children} draft=${draft} errors=${errors} onChange=${onChange} />
    </fieldset>`
  }
  if (f.kind === 'boolean') {
    return html`<div class=${`field check ${message ? 'has-error' : ''}`} data-testid=${testid}>
      <input
        type="checkbox"
        ...${common}
        checked=${Boolean(draft[f.path])}
        onChange=${(e) => onChange(f.path, e.currentTarget.checked)}
      />
      <label for=${id}>${label}</label>
      ${hint}${err}
    </div>`
  }
  let control
  const value = draft[f.path] ?? ''
  const onInput = (e) => onChange(f.path, e.currentTarget.value)
  if (f.kind === 'enum') {
    control = html`<select ...${common} value=${value} onChange=${onInput}>
      <option value="">(not set)</option>
      ${f.options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
    </select>`
  } else if (f.kind === 'json') {
    control = html`<textarea
      ...${common}
      class="code"
      rows="5"
      spellcheck="false"
      value=${value}
      onInput=${onInput}
    ></textarea>`
  } else {
    control = html`<input
      ...${common}
      type="text"
      inputmode=${f.kind === 'string' ? undefined : 'decimal'}
      placeholder=${f.placeholder}
      value=${value}
      onInput=${onInput}
    />`
  }
  return html`<div class=${`field ${message ? 'has-error' : ''}`} data-testid=${testid}>
    <label for=${id}>${label}${f.kind === 'json' ? html` <span class="muted">(JSON)</span>` : ''}</label>
    ${control}${hint}${err}
  </div>`
}
