'use strict'
// ctx.clients.events.sendEvent over the socket: a `send_event` message, answered by ioctl's
// `send_event_ack`. At most MAX_IN_FLIGHT calls wait for their ack at once per process; further
// calls wait for a slot, so an app firing events in a loop without awaiting them slows down to
// the bus's pace instead of flooding ioctl (and its own memory) with messages.

const messages = require('./messages')
const { RequestWindow } = require('./request_window')

const MAX_IN_FLIGHT = 64

class EventSender {
  /** `writeLine(json)` sends one serialized message. */
  constructor(writeLine, maxInFlight = MAX_IN_FLIGHT) {
    this.writeLine = writeLine
    this.window = new RequestWindow(maxInFlight)
  }

  /** Resolves with the event's id once ioctl has published it. */
  send(subject, key, body) {
    let bodyJson
    try {
      bodyJson = JSON.stringify(body === undefined ? null : body)
    } catch (err) {
      return Promise.reject(new TypeError(`the event body cannot be sent as JSON: ${err.message}`))
    }
    // Serialized once, here; the request id is only known once a slot is free.
    const line = messages.sendEventLine(
      subject == null ? '' : String(subject),
      String(key),
      bodyJson === undefined ? 'null' : bodyJson,
    )
    return this.window.open((request) => this.writeLine(line(request)))
  }

  /** ioctl's answer to one send_event; it frees the call's slot. */
  onAck(ack) {
    const waiter = this.window.take(ack.request)
    if (!waiter) return
    if (ack.error != null) waiter.reject(new Error(String(ack.error)))
    else waiter.resolve(ack.event_id)
  }

  /** Calls holding a slot (sent, not yet acknowledged). */
  get inFlight() {
    return this.window.inFlight
  }
}

module.exports = { EventSender, MAX_IN_FLIGHT }
