// Settings forms from settingsSchema: fields, value ↔ inputs, errors at their fields.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fieldsFor, flatten, toDraft, fromDraft, placeErrors, getAt, setAt, deleteAt } from '../lib/schema_form.js'

const schema = {
  title: 'Store settings',
  type: 'object',
  required: ['apiKey'],
  properties: {
    apiKey: { type: 'string', title: 'API key' },
    retries: { type: 'integer', default: 3 },
    ratio: { type: 'number' },
    enabled: { type: 'boolean', default: true },
    mode: { type: 'string', enum: ['fast', 'safe'], enumNames: ['Fast', 'Safe'] },
    shipping: {
      type: 'object',
      properties: {
        carrier: { type: 'string' },
        limits: { $ref: '#/definitions/limits' },
      },
    },
    tags: { type: 'array', items: { type: 'string' } },
    'a/b': { type: 'string' },
  },
  definitions: { limits: { type: 'object', properties: { max: { type: 'number' } } } },
}

test('each schema type becomes its field kind, nested objects keep their children', () => {
  const fields = fieldsFor(schema)
  const byPath = Object.fromEntries(flatten(fields).map((f) => [f.path, f]))
  assert.equal(byPath['/apiKey'].kind, 'string')
  assert.equal(byPath['/apiKey'].label, 'API key')
  assert.equal(byPath['/apiKey'].required, true)
  assert.equal(byPath['/retries'].kind, 'integer')
  assert.equal(byPath['/retries'].placeholder, '3')
  assert.equal(byPath['/ratio'].kind, 'number')
  assert.equal(byPath['/enabled'].kind, 'boolean')
  assert.equal(byPath['/mode'].kind, 'enum')
  assert.deepEqual(byPath['/mode'].options, [
    { value: '"fast"', label: 'Fast' },
    { value: '"safe"', label: 'Safe' },
  ])
  assert.equal(byPath['/shipping'].kind, 'object')
  assert.equal(byPath['/shipping/carrier'].kind, 'string')
  assert.equal(byPath['/shipping/limits'].kind, 'object', '$ref followed')
  assert.equal(byPath['/shipping/limits/max'].kind, 'number')
  assert.equal(byPath['/tags'].kind, 'json', 'arrays edit as raw JSON')
  assert.ok(byPath['/a~1b'], 'keys with / are escaped in the pointer')
})

test('a schema that is not an object is one raw JSON field; so is none', () => {
  assert.deepEqual(
    fieldsFor({ type: 'array' }).map((f) => [f.path, f.kind]),
    [['', 'json']],
  )
  assert.deepEqual(
    fieldsFor(null).map((f) => f.kind),
    ['json'],
  )
})

test('value → inputs → value round-trips, keeping properties the schema does not name', () => {
  const fields = fieldsFor(schema)
  const value = {
    apiKey: 'k',
    retries: 5,
    ratio: 0.5,
    enabled: false,
    mode: 'safe',
    shipping: { carrier: 'ups', limits: { max: 10 } },
    tags: ['a', 'b'],
    extra: { kept: true },
  }
  const draft = toDraft(fields, value)
  assert.equal(draft['/retries'], '5')
  assert.equal(draft['/enabled'], false)
  assert.equal(draft['/mode'], '"safe"')
  assert.equal(draft['/tags'], '[\n  "a",\n  "b"\n]')
  assert.deepEqual(fromDraft(fields, draft, value), { value, errors: [] })
})

test('edits: numbers parsed, empty inputs left out, booleans from defaults', () => {
  const fields = fieldsFor(schema)
  const draft = toDraft(fields, {})
  assert.equal(draft['/enabled'], true, 'an unset boolean shows its default')
  draft['/apiKey'] = 'new'
  draft['/ratio'] = ' 2.5 '
  draft['/shipping/limits/max'] = '7'
  const { value, errors } = fromDraft(fields, draft, {})
  assert.deepEqual(errors, [])
  assert.deepEqual(value, { apiKey: 'new', ratio: 2.5, enabled: true, shipping: { limits: { max: 7 } } })
})

test('inputs the page can refuse before sending are errors at their fields', () => {
  const fields = fieldsFor(schema)
  const draft = toDraft(fields, {})
  draft['/retries'] = '2.5'
  draft['/ratio'] = 'lots'
  draft['/tags'] = '["a",]'
  const { errors } = fromDraft(fields, draft, {})
  assert.deepEqual(
    errors.map((e) => e.path),
    ['/retries', '/ratio', '/tags'],
  )
  assert.match(errors[0].message, /not an integer/)
  assert.match(errors[1].message, /not a number/)
  assert.match(errors[2].message, /invalid JSON at 1:6/)
})

test("the session's 400 fields land at the deepest field that holds their path", () => {
  const fields = fieldsFor(schema)
  const { byField, form } = placeErrors(fields, [
    { path: '/retries', message: 'must be integer' },
    { path: '/shipping/limits/max', message: 'must be <= 5' },
    { path: '/tags/1', message: 'must be string' },
    { path: '/shipping/zone', message: 'unknown property' },
    { path: '', message: 'must have required property apiKey' },
    { path: '/nope', message: 'unknown' },
  ])
  assert.deepEqual(byField['/retries'], ['must be integer'])
  assert.deepEqual(byField['/shipping/limits/max'], ['must be <= 5'])
  assert.deepEqual(byField['/tags'], ['must be string'])
  assert.deepEqual(byField['/shipping'], ['unknown property'])
  assert.deepEqual(form, ['must have required property apiKey', '/nope: unknown'])
  assert.equal(byField['/ratio'], undefined)
})

test('errors given as dotted paths still find their field', () => {
  const { byField } = placeErrors(fieldsFor(schema), [{ path: 'shipping.carrier', message: 'bad' }])
  assert.deepEqual(byField['/shipping/carrier'], ['bad'])
})

test('JSON pointer helpers', () => {
  const v = {}
  setAt(v, '/a/b~1c', 1)
  assert.deepEqual(v, { a: { 'b/c': 1 } })
  assert.equal(getAt(v, '/a/b~1c'), 1)
  assert.equal(getAt(v, '/a/x/y'), undefined)
  deleteAt(v, '/a/b~1c')
  assert.deepEqual(v, { a: {} })
  assert.equal(setAt(undefined, '', 5), 5)
})
