'use strict'
// The host's side of the socket to ioctl: one JSON object per line each way. Outgoing lines
// respect the socket's backpressure: once socket.write returns false nothing more is written
// until 'drain', lines wait in two queues instead, and the urgent one (results, pongs, load
// answers, sendEvent) goes out before queued log lines, so a flood of logs (or a slow reader of
// them) never delays an answer ioctl is timing. Nothing is dropped. Lines written before the
// socket connects wait in the same queues.

const net = require('node:net')

/** Bytes of queued lines handed to the socket in one write once it drains. */
const BATCH_BYTES = 64 * 1024

/** A FIFO of lines whose shift() is O(1) (Array#shift copies: a long log backlog would be quadratic). */
class Lines {
  constructor() {
    this.items = []
    this.head = 0
  }
  get length() {
    return this.items.length - this.head
  }
  push(line) {
    this.items.push(line)
  }
  shift() {
    const line = this.items[this.head++]
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    return line
  }
}

class Transport {
  /** `onMessage(object)` gets each incoming message, `onError(text)` each unreadable line. */
  constructor({ onMessage, onError }) {
    this.onMessage = onMessage
    this.onError = onError
    this.socket = null
    /** True until connected, and while the socket's buffer is full (waiting for 'drain'). */
    this.blocked = true
    this.urgent = new Lines()
    this.logs = new Lines()
    this.received = ''
    this.ending = null
  }

  /** Connects to ioctl's socket; `onConnect` runs once connected, `onClose(err?)` when it is gone. */
  connect(path, { onConnect, onClose }) {
    const socket = (this.socket = net.createConnection(path))
    socket.setEncoding('utf8')
    socket.on('connect', () => {
      this.flush()
      onConnect()
    })
    socket.on('drain', () => this.flush())
    socket.on('data', (chunk) => this.onData(chunk))
    socket.on('error', (err) => onClose(err))
    socket.on('close', () => onClose(null))
  }

  /** Queues (or writes) one message; `log` lines give way to everything else. */
  send(message) {
    this.writeLine(JSON.stringify(message), message.type === 'log')
  }

  /** One already-serialized line (sendEvent serializes itself to report a body that cannot be). */
  writeLine(json, isLog = false) {
    const line = `${json}\n`
    if (!this.blocked) {
      if (!this.socket.write(line)) this.blocked = true
      return
    }
    ;(isLog ? this.logs : this.urgent).push(line)
  }

  /** Writes queued lines, urgent first, in batches, until the socket's buffer fills again. */
  flush() {
    this.blocked = false
    while (this.urgent.length > 0 || this.logs.length > 0) {
      let batch = ''
      while (batch.length < BATCH_BYTES && (this.urgent.length > 0 || this.logs.length > 0)) {
        batch += this.urgent.length > 0 ? this.urgent.shift() : this.logs.shift()
      }
      if (!this.socket.write(batch)) {
        this.blocked = true
        return
      }
    }
    if (this.ending) this.finishEnd()
  }

  /** The number of lines waiting for the socket. */
  get queued() {
    return this.urgent.length + this.logs.length
  }

  /** Ends the connection once every queued line is written; `done` runs when it is closed. */
  end(done) {
    this.ending = done
    if (!this.socket) {
      done()
      return
    }
    if (!this.blocked && this.queued === 0) this.finishEnd()
  }

  finishEnd() {
    const done = this.ending
    this.ending = null
    this.socket.end(done)
  }

  onData(chunk) {
    this.received += chunk
    let newline
    while ((newline = this.received.indexOf('\n')) !== -1) {
      const line = this.received.slice(0, newline).trim()
      this.received = this.received.slice(newline + 1)
      if (!line) continue
      let message
      try {
        message = JSON.parse(line)
      } catch (err) {
        this.onError(`ioctl host: unreadable message from ioctl (${err.message}): ${line}`)
        continue
      }
      this.onMessage(message)
    }
  }
}

module.exports = { Transport, BATCH_BYTES }
