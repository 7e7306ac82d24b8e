'use strict'
// Test support: the stand-in's platform hook answered by the test, as ioctl's session would.

const vtexApi = require('../../vtex-api')

/**
 * Answers the platform calls with `answerFor(call)` for the test `t`; returns the calls seen,
 * each with its body decoded (`text`).
 */
function answering(t, answerFor) {
  const calls = []
  const saved = vtexApi.__ioctl.platform
  vtexApi.__ioctl.platform = async (call) => {
    calls.push({ ...call, text: call.body === null ? null : Buffer.from(call.body, 'base64').toString() })
    return answerFor(call)
  }
  t.after(() => {
    vtexApi.__ioctl.platform = saved
  })
  return calls
}

module.exports = { answering }
