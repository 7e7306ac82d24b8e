'use strict'
// Errors in logs: ctx.vtex.logger and console.* show an error's message, status and stack, also
// when the error sits inside an object (`{ content: err }`, `{ err }`), never `{}`.

const test = require('node:test')
const assert = require('node:assert/strict')
const { formatLogMessage } = require('../vtex-api/logger')
const { formatConsole } = require('../host/logging')

function failedRequest() {
  const err = new Error('Request failed with status code 404')
  err.response = { status: 404, data: { message: 'no such order' }, config: { headers: { Authorization: 'secret' } } }
  return err
}

test('logger.error(err) shows the message with the status, the stack and the answer body', () => {
  const text = formatLogMessage(failedRequest())
  assert.match(text, /^Error: Request failed with status code 404 \(status 404\)\n {4}at failedRequest /)
  assert.match(text, /response body: \{ message: 'no such order' \}$/)
  assert.doesNotMatch(text, /secret/)
})

test('logger.error({ content: err }) shows the error as fields, then its stack', () => {
  const err = new Error('boom')
  err.status = 503
  err.code = 'E_BOOM'
  const [json, ...stack] = formatLogMessage({ content: err, where: 'checkout' }).split('\n')
  assert.deepEqual(JSON.parse(json), {
    content: { name: 'Error', message: 'boom', status: 503, code: 'E_BOOM' },
    where: 'checkout',
  })
  assert.match(stack[0], /^Error: boom \(status 503\)$/)
  assert.match(stack[1], /^ {4}at /)
})

test('console.error(err) and console.log({ err }) show message, status and stack', () => {
  const single = formatConsole(['failed:', failedRequest()])
  assert.match(single, /^failed: Error: Request failed with status code 404 \(status 404\)\n {4}at /)
  const nested = formatConsole([{ err: failedRequest() }]).split('\n')
  assert.deepEqual(JSON.parse(nested[0]), {
    err: { name: 'Error', message: 'Request failed with status code 404', status: 404 },
  })
  assert.match(nested[1], /\(status 404\)$/)
  assert.equal(formatConsole(['%s is %d', 'x', 4]), 'x is 4', 'format strings still work')
  assert.equal(formatConsole([{ a: 1 }]), '{ a: 1 }', 'objects without errors print as console does')
})
