// A settings form from an app's settingsSchema (JSON Schema): the schema becomes a tree of
// fields (string, number, integer, boolean, enum, nested objects; raw JSON for arrays and
// anything else), the value becomes the inputs' texts and back, and a validation error's
// JSON pointer (`/a/b`) finds the field it belongs to, so the message shows at that field.
import { checkJson } from './json_check.js'

/**
 * @typedef {{path: string, key: string, label: string, description?: string, kind: string,
 *   required: boolean, options?: {value: string, label: string}[], children?: Field[],
 *   placeholder?: string, default?: any}} Field
 */

/** The fields of a schema; a schema that is not an object with properties is one raw JSON field at ''. */
export function fieldsFor(schema) {
  const root = schema ?? {}
  const s = resolve(root, root)
  if (kindOf(s) !== 'object' || !s.properties) {
    return [{ path: '', key: '', label: 'Value (JSON)', kind: 'json', required: false, description: s.description }]
  }
  return objectFields(s, '', root, 0)
}

function objectFields(schema, path, root, depth) {
  const required = new Set(Array.isArray(schema.required) ? schema.required : [])
  return Object.entries(schema.properties ?? {}).map(([key, raw]) => {
    const s = resolve(raw ?? {}, root)
    const field = {
      path: `${path}/${escapePointer(key)}`,
      key,
      label: s.title || key,
      description: s.description,
      kind: kindOf(s),
      required: required.has(key),
      default: s.default,
    }
    if (s.default !== undefined && typeof s.default !== 'object') field.placeholder = String(s.default)
    if (field.kind === 'enum') {
      const names = Array.isArray(s.enumNames) ? s.enumNames : []
      field.options = s.enum.map((v, i) => ({ value: JSON.stringify(v), label: String(names[i] ?? v) }))
    }
    if (field.kind === 'object') {
      // Deep recursion would be a schema bug; past a depth the rest is edited as JSON.
      if (depth >= 8) field.kind = 'json'
      else field.children = objectFields(s, field.path, root, depth + 1)
    }
    return field
  })
}

function kindOf(s) {
  if (Array.isArray(s.enum) && s.enum.length > 0) return 'enum'
  let type = s.type
  if (Array.isArray(type)) type = type.find((t) => t !== 'null')
  if (!type && s.properties) type = 'object'
  if (type === 'object' && s.properties) return 'object'
  if (['string', 'number', 'integer', 'boolean'].includes(type)) return type
  return 'json'
}

/** Follows a local `$ref` (`#/definitions/x`, `#/$defs/x`); anything else as is. */
function resolve(s, root, seen = 0) {
  if (s && typeof s.$ref === 'string' && s.$ref.startsWith('#') && seen < 16) {
    const target = getAt(root, s.$ref.slice(1))
    if (target && typeof target === 'object') return resolve({ ...target, ...without(s, '$ref') }, root, seen + 1)
  }
  return s
}

function without(o, key) {
  const rest = { ...o }
  delete rest[key]
  return rest
}

/** Every field, depth first, objects before their children. */
export function flatten(fields) {
  const out = []
  const walk = (fs) => {
    for (const f of fs) {
      out.push(f)
      if (f.children) walk(f.children)
    }
  }
  walk(fields)
  return out
}

/** The inputs' state for a value: path → text (boolean fields: true/false). */
export function toDraft(fields, value) {
  const draft = {}
  for (const f of flatten(fields)) {
    if (f.kind === 'object') continue
    const v = getAt(value, f.path)
    if (f.kind === 'boolean') draft[f.path] = v === undefined ? f.default === true : v === true
    else if (v === undefined) draft[f.path] = ''
    else if (f.kind === 'enum') draft[f.path] = JSON.stringify(v)
    else if (f.kind === 'json') draft[f.path] = JSON.stringify(v, null, 2)
    else draft[f.path] = String(v)
  }
  return draft
}

/**
 * The value the inputs say, on top of `base` (so properties the schema does not name are kept).
 * An empty input leaves its property out. Returns the errors the page can tell before sending
 * (a number that is not one, JSON that does not parse) at their fields' paths.
 * @returns {{value: any, errors: {path: string, message: string}[]}}
 */
export function fromDraft(fields, draft, base) {
  const errors = []
  let value = base === undefined ? undefined : structuredClone(base)
  for (const f of flatten(fields)) {
    if (f.kind === 'object') continue
    const text = draft[f.path]
    if (f.kind === 'boolean') {
      value = setAt(value, f.path, Boolean(text))
      continue
    }
    if (text === undefined || String(text).trim() === '') {
      value = f.kind === 'string' && f.required && text === '' ? setAt(value, f.path, '') : deleteAt(value, f.path)
      continue
    }
    const parsed = parseInput(f, String(text))
    if (parsed.error) errors.push({ path: f.path, message: parsed.error })
    else value = setAt(value, f.path, parsed.value)
  }
  return { value: value ?? {}, errors }
}

function parseInput(f, text) {
  switch (f.kind) {
    case 'string':
      return { value: text }
    case 'number':
    case 'integer': {
      const n = Number(text.trim())
      if (!Number.isFinite(n)) return { error: `${JSON.stringify(text)} is not a number` }
      if (f.kind === 'integer' && !Number.isInteger(n)) return { error: `${text} is not an integer` }
      return { value: n }
    }
    case 'enum':
      return { value: JSON.parse(text) }
    default: {
      const checked = checkJson(text)
      if (!checked.ok) return { error: `invalid JSON at ${checked.line}:${checked.column}: ${checked.message}` }
      return { value: checked.value }
    }
  }
}

/**
 * Places errors at fields: each goes to the deepest field whose path is its path or an ancestor
 * of it (`/a/b/0` → the `/a/b` field); those no field holds (the root, unknown paths) are `form`.
 * @returns {{byField: Record<string, string[]>, form: string[]}}
 */
export function placeErrors(fields, errors) {
  const paths = flatten(fields).map((f) => f.path)
  const byField = {}
  const form = []
  for (const e of errors ?? []) {
    const path = normalisePath(e.path)
    let best = null
    for (const p of paths) {
      if ((path === p || path.startsWith(p + '/')) && (best === null || p.length > best.length)) best = p
    }
    if (best === null) form.push(path ? `${path}: ${e.message}` : e.message)
    else (byField[best] ??= []).push(e.message)
  }
  return { byField, form }
}

/** Accepts `/a/b`, `a.b`, `a/b`, `#/a/b` and '' for the root. */
function normalisePath(path) {
  let p = String(path ?? '')
  if (p.startsWith('#')) p = p.slice(1)
  if (p === '' || p === '/') return ''
  if (!p.startsWith('/')) p = '/' + (p.includes('/') ? p : p.split('.').join('/'))
  return p
}

/** The `data-testid` suffix of a field's wrapper: `field-/a/b`. */
export function fieldTestId(path) {
  return `field-${path}`
}

// JSON pointers (RFC 6901).

export function escapePointer(key) {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1')
}

export function parsePointer(path) {
  if (path === '' || path == null) return []
  if (!path.startsWith('/')) throw new Error(`JSON pointer must start with /: ${path}`)
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

export function getAt(value, path) {
  let v = value
  for (const k of parsePointer(path)) {
    if (v == null || typeof v !== 'object') return undefined
    v = v[k]
  }
  return v
}

/** Sets in place (creating objects on the way); returns the (maybe new) root. */
export function setAt(value, path, v) {
  const keys = parsePointer(path)
  if (keys.length === 0) return v
  const root = value != null && typeof value === 'object' ? value : {}
  let o = root
  for (const k of keys.slice(0, -1)) {
    if (o[k] == null || typeof o[k] !== 'object') o[k] = {}
    o = o[k]
  }
  o[keys[keys.length - 1]] = v
  return root
}

/** Deletes in place; returns the root. */
export function deleteAt(value, path) {
  const keys = parsePointer(path)
  if (keys.length === 0) return undefined
  let o = value
  for (const k of keys.slice(0, -1)) {
    if (o == null || typeof o !== 'object') return value
    o = o[k]
  }
  if (o != null && typeof o === 'object') delete o[keys[keys.length - 1]]
  return value
}
