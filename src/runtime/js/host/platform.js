'use strict'
// The local platform clients' calls over the socket: a `platform` message ({request, call,
// trace?: the trace of the request or delivery attempt the call was made in}),
// answered by ioctl's `platform_result` ({request, ok, value | error: {status, message}}). At
// most MAX_IN_FLIGHT calls wait for their answer at once per process (ioctl's channel holds
// more than that, so its reader never waits); further calls wait for a slot.

const { currentTrace } = require('./logging')
const messages = require('./messages')
const { RequestWindow } = require('./request_window')

const MAX_IN_FLIGHT = 64

class PlatformCalls {
  /** `send(message)` sends one message to ioctl. */
  constructor(send, maxInFlight = MAX_IN_FLIGHT) {
    this.send = send
    this.window = new RequestWindow(maxInFlight)
  }

  /** Resolves with the call's value; rejects with {status, message}. */
  call(call) {
    // Read now: the message may be sent later, from another call's answer, when a slot frees.
    const trace = currentTrace()
    return this.window.open((request) => this.send(messages.platform(request, call, trace)))
  }

  /** ioctl's answer to one call; it frees the call's slot. */
  onResult(result) {
    const waiter = this.window.take(result.request)
    if (!waiter) return
    if (result.ok) waiter.resolve(result.value === undefined ? null : result.value)
    else waiter.reject(result.error || { status: 500, message: 'the platform call failed' })
  }

  get inFlight() {
    return this.window.inFlight
  }
}

module.exports = { PlatformCalls, MAX_IN_FLIGHT }
