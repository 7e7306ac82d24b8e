// JSON checked before sending, with the first error's line:column.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkJson, lineColumn } from '../lib/json_check.js'

const bad = (text) => {
  const r = checkJson(text)
  assert.equal(r.ok, false, `expected ${JSON.stringify(text)} to be refused`)
  return r
}

test('valid JSON gives its value', () => {
  for (const [text, value] of [
    ['{"a": [1, 2.5e3, -0.5, true, false, null, "x\\n\\u00e9"]}', { a: [1, 2500, -0.5, true, false, null, 'x\né'] }],
    ['  42 ', 42],
    ['"s"', 's'],
    ['[]', []],
    ['{}', {}],
  ]) {
    assert.deepEqual(checkJson(text), { ok: true, value })
  }
})

test('a missing comma is found at its line and column', () => {
  const r = bad('{\n  "a": 1\n  "b": 2\n}')
  assert.deepEqual([r.line, r.column], [3, 3])
  assert.match(r.message, /expected , or \}/)
})

test('a trailing comma, single quotes, a bare word, an unterminated string', () => {
  let r = bad('{"a": 1,\n}')
  assert.deepEqual([r.line, r.column], [2, 1])
  assert.match(r.message, /trailing comma/)
  r = bad("{'a': 1}")
  assert.deepEqual([r.line, r.column], [1, 2])
  r = bad('[1, nope]')
  assert.deepEqual([r.line, r.column], [1, 5])
  r = bad('{"a": "open\n}')
  assert.deepEqual([r.line, r.column], [1, 12])
  assert.match(r.message, /unterminated/)
})

test('end of text, text after the value, bad numbers, empty input', () => {
  let r = bad('{"a": [1, 2')
  assert.match(r.message, /unexpected end of text/)
  assert.deepEqual([r.line, r.column], [1, 12])
  r = bad('{} {}')
  assert.deepEqual([r.line, r.column], [1, 4])
  for (const n of ['01', '1.', '-', '.5', '1e']) bad(n)
  r = bad('   ')
  assert.match(r.message, /empty/)
})

test('every error position agrees with lineColumn', () => {
  assert.deepEqual(lineColumn('ab\ncd\nef', 7), { line: 3, column: 2 })
  assert.deepEqual(lineColumn('x', 0), { line: 1, column: 1 })
})
