'use strict'
// host/inspect.js: the host says where its inspector listens only when it runs one, on
// loopback; without --inspect-brk it never waits for a debugger.

const test = require('node:test')
const assert = require('node:assert/strict')
const inspector = require('node:inspector')
const inspect = require('../host/inspect')

test('without an inspector the host says nothing and does not wait', () => {
  const sent = []
  inspect.announce((m) => sent.push(m))
  assert.deepEqual(sent, [])
  assert.equal(
    inspect.waitForDebugger((m) => sent.push(m), { queued: 0 }),
    null,
  )
  assert.deepEqual(sent, [])
})

test('with an inspector the host says its loopback URL, not waiting', () => {
  // As ioctl starts the host: `node --inspect=127.0.0.1:0 ...`.
  process.execArgv.push('--inspect=127.0.0.1:0')
  inspector.open(0, '127.0.0.1')
  try {
    const sent = []
    inspect.announce((m) => sent.push(m))
    assert.equal(sent.length, 1)
    assert.equal(sent[0].type, 'inspector')
    assert.equal(sent[0].waiting, false)
    assert.match(sent[0].url, /^ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}$/)
  } finally {
    inspector.close()
    process.execArgv.pop()
  }
})
