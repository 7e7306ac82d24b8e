'use strict'
// What the host (host/) plugs into the stand-in. When the stand-in is loaded outside ioctl's
// host (unit tests, a REPL) these defaults keep it usable: logs go to stderr, sendEvent and the
// platform clients reject.

const hooks = {
  /** (level, message) -> void: one log line, attributed by the host to the current handler. */
  log(level, message) {
    process.stderr.write(`${level}: ${message}\n`)
  },
  /** (subject, key, body) -> Promise<eventId>: fires an event through ioctl's bus. */
  sendEvent() {
    return Promise.reject(new Error('sendEvent is only available when the service runs under ioctl'))
  },
  /** ({service, method, ...args}) -> Promise<value>: one call of ioctl's local platform services. */
  platform() {
    return Promise.reject({ status: 503, message: 'local platform services need the service to run under ioctl' })
  },
}

module.exports = hooks
