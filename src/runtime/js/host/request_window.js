'use strict'
// A bounded window of requests to ioctl awaiting their answer (sendEvent acks, platform call
// results): at most `max` are out at once per process; further requests wait for a slot, so an
// app calling in a loop without awaiting slows down instead of flooding ioctl.

const packages = require('../packages')

class RequestWindow {
  constructor(max) {
    this.max = max
    /** p-limit's `limit`, made on the first request: a host whose app never calls ioctl needs none. */
    this.slots = undefined
    this.nextRequest = 1
    /** request id -> {resolve, reject} of the requests awaiting their answer. */
    this.awaiting = new Map()
  }

  /** Sends one request (`send(requestId)`) once a slot is free; settles with its answer. */
  open(send) {
    if (!this.slots) this.slots = packages.loadForApp('p-limit')(this.max)
    return this.slots(
      () =>
        new Promise((resolve, reject) => {
          const request = this.nextRequest++
          this.awaiting.set(request, { resolve, reject })
          send(request)
        }),
    )
  }

  /** The waiter of `request`, removed (settling it frees its slot); undefined if unknown. */
  take(request) {
    const waiter = this.awaiting.get(request)
    if (waiter) this.awaiting.delete(request)
    return waiter
  }

  /** Requests holding a slot (sent, not yet answered). */
  get inFlight() {
    return this.awaiting.size
  }
}

module.exports = { RequestWindow }
