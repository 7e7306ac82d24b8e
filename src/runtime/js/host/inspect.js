'use strict'
// Node's inspector under `ioctl link --inspect`: the host tells ioctl where its inspector
// listens (127.0.0.1, a port the OS chose; the session's proxy is the debugger's endpoint),
// and with --inspect-brk (IOCTL_INSPECT_BRK=1) waits for a debugger before it requires the
// app, so that the proxy's breakpoint on the entry's first line is the first pause the
// developer sees (not one in ioctl's own host code, as Node's own --inspect-brk would give).

const messages = require('./messages')

const BRK = process.env.IOCTL_INSPECT_BRK === '1'

/**
 * Node's inspector module, when this process runs one: without `link --inspect` (every
 * relink's process) not even loaded.
 */
function running() {
  const started = process.execArgv.some((arg) => arg.startsWith('--inspect'))
  const inspector = started ? require('node:inspector') : null
  return inspector && inspector.url() ? inspector : null
}

/** Says where the inspector listens, if it runs (the process was started with --inspect). */
function announce(send) {
  const inspector = running()
  if (inspector) send(messages.inspector(inspector.url(), false))
}

/**
 * With --inspect-brk: says that this host waits, once the line is on the socket, then blocks
 * until a debugger sends `Runtime.runIfWaitingForDebugger` (the proxy does, after it set its
 * breakpoints); the promise resolves then. Null without --inspect-brk: nothing to wait for.
 */
function waitForDebugger(send, transport) {
  const inspector = BRK ? running() : null
  if (!inspector) return null
  send(messages.inspector(inspector.url(), true))
  return new Promise((resolve) => {
    const blockWhenSent = () => {
      if (transport.queued > 0 || (transport.socket && transport.socket.writableLength > 0)) {
        setImmediate(blockWhenSent)
        return
      }
      inspector.waitForDebugger()
      resolve()
    }
    blockWhenSent()
  })
}

module.exports = { announce, waitForDebugger }
