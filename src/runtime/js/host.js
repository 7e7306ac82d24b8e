'use strict'
// ioctl's Node host: the entry of a service process. It wires the parts under host/: module
// resolution (`@vtex/api` is ioctl's stand-in), the socket to ioctl (transport), logs with
// handler attribution (logging), loading the service (service), event deliveries (events), the
// route server on Koa (routes), sendEvent (send_event), the local platform clients' calls
// (platform), and the app's own HTTP to VTEX's hosts, which crosses ioctl's boundary (intercept).
//
// With IOCTL_STANDBY=1 it starts without an app ("warm standby"): everything but the app is
// ready, it says `standby`, and loads the app when ioctl sends `load`.

// First, before any other module loads: ioctl needs Node.js 18 or newer (the session only
// looks the file up, so that it starts without running Node once more).
if (Number(process.versions.node.split('.')[0]) < 18) {
  process.stderr.write(
    `ioctl host: Node.js ${process.version} (${process.execPath}) is too old: ioctl needs Node.js 18 or newer; install it and put \`node\` on PATH (or set IOCTL_NODE)\n`,
  )
  process.exit(3)
}

const querystring = require('node:querystring')
const util = require('node:util')

const env = process.env
const SOCKET = env.IOCTL_SOCKET
const STANDBY = env.IOCTL_STANDBY === '1'
if (!SOCKET || !env.IOCTL_ROUTES_SOCKET || (!STANDBY && !env.IOCTL_ENTRY)) {
  process.stderr.write(
    'ioctl host: IOCTL_SOCKET, IOCTL_ROUTES_SOCKET and IOCTL_ENTRY (or IOCTL_STANDBY=1) must be set (ioctl starts this file)\n',
  )
  process.exit(2)
}

// Under `link --inspect` a debugger reads the modules as Node compiles them, maps inlined.
const inspecting = process.execArgv.some((arg) => arg.startsWith('--inspect'))
// First: the code cache's resolution sits beneath host/modules.js's.
const codeCache = require('./host/code_cache')
if (!inspecting) codeCache.install({ dir: env.IOCTL_CODE_CACHE, appRoot: env.IOCTL_APP_ROOT })
const modules = require('./host/modules')
modules.install()
const intercept = require('./host/intercept')
intercept.install()
require('./host/typescript').install({ appRoot: env.IOCTL_APP_ROOT, buildDir: env.IOCTL_BUILD_DIR, inspecting })
const vtexApi = require('./vtex-api')
const { lazy } = require('./vtex-api/lazy')
const logging = require('./host/logging')
const { Transport } = require('./host/transport')
const messages = require('./host/messages')
const { deliver } = require('./host/events')
const { loaded, loadService } = require('./host/service')
const { RouteServer } = require('./host/routes')
const { randomId } = require('./host/context')
const inspect = require('./host/inspect')

const { log, logUnattributed } = logging
const transport = new Transport({ onMessage, onError: (text) => logUnattributed('error', text) })
const send = (message) => transport.send(message)
// sendEvent and the platform clients' calls: set up by the first app call that needs them.
const calls = {}
lazy(calls, 'events', () => new (require('./host/send_event').EventSender)((line) => transport.writeLine(line)))
lazy(calls, 'platform', () => new (require('./host/platform').PlatformCalls)(send))
const routes = new RouteServer(env.IOCTL_ROUTES_SOCKET)

logging.setSink(send)
modules.onUndeclared((text) => logUnattributed('warn', text))
logging.captureConsole()
logging.reportUncaught()
vtexApi.__ioctl.log = log
vtexApi.__ioctl.sendEvent = (subject, key, body) => calls.events.send(subject, key, body)
vtexApi.__ioctl.platform = (call) => calls.platform.call(call)
globalThis.metrics = new vtexApi.MetricsAccumulator()

/** Exit code to use once the socket is gone; null while running normally. */
let exitCode = null

/** Flush what was written, then exit; a stuck peer cannot keep us alive past a second. */
function exitAfterFlush(code) {
  if (exitCode !== null) return
  exitCode = code
  setTimeout(() => process.exit(code), 1000).unref()
  transport.end(() => process.exit(code))
}

function load(entry) {
  const run = () => loadService(entry, { send, routes, onFailed: () => exitAfterFlush(1) })
  // Under --inspect-brk, once a debugger let it go; otherwise now, as always.
  const waiting = inspect.waitForDebugger(send, transport)
  const loading = waiting ? waiting.then(run) : run()
  // Once ioctl has been told, load what the first delivery or request would otherwise pay for:
  // off the way to `ready`, and not on the first event's. The first host of this runtime and
  // Node version then writes the code cache later hosts start from (see loader.js), and what
  // this host compiled of the app and its dependencies goes to their caches (code_cache.js).
  return loading.then(() =>
    setImmediate(() => {
      warmUp()
      require('./loader').saveCodeCache()
      codeCache.save()
    }),
  )
}

/** Loads the parts of the host and stand-in that load on first use (ids, sendEvent, platform calls, HTTP). */
function warmUp() {
  randomId()
  void [calls.events, calls.platform, vtexApi.HttpClient]
}

/** `{"type":"load","entry":...,"env"?:{...}}` to a standby host. */
function onLoad(message) {
  if (!STANDBY || loaded.state !== 'waiting') {
    const why = STANDBY ? 'the app is already loaded' : 'this host was not started in standby'
    logUnattributed('warn', `ioctl host: ignoring \`load\`: ${why}`)
    return
  }
  if (typeof message.entry !== 'string' || message.entry === '') {
    const text = 'ioctl host: `load` needs an `entry` (absolute path of node/index.ts)'
    loaded.state = 'failed'
    send(messages.loadError(text, `Error: ${text}`))
    exitAfterFlush(1)
    return
  }
  // Optional: what changed since the standby host started (e.g. VTEX_APP_VERSION).
  if (message.env !== null && typeof message.env === 'object') {
    for (const [name, value] of Object.entries(message.env)) {
      if (value === null || value === undefined) delete env[name]
      else env[name] = String(value)
    }
  }
  load(message.entry)
}

const warnedTypes = new Set()

function onMessage(message) {
  if (message === null || typeof message !== 'object') {
    logUnattributed('error', `ioctl host: ignoring message that is not an object: ${JSON.stringify(message)}`)
    return
  }
  switch (message.type) {
    case 'ping':
      send(messages.pong(message.id))
      break
    case 'deliver':
      deliver(message, send)
      break
    case 'send_event_ack':
      calls.events.onAck(message)
      break
    case 'platform_result':
      calls.platform.onResult(message)
      break
    case 'load':
      onLoad(message)
      break
    case 'shutdown':
      exitAfterFlush(0)
      break
    default:
      if (!warnedTypes.has(message.type)) {
        warnedTypes.add(message.type)
        logUnattributed('warn', `ioctl host: ignoring message of unknown type ${JSON.stringify(message.type)}`)
      }
  }
}

/**
 * Standby: do now what `load` would otherwise pay for. Nothing here may touch the app's files
 * (the next build lands in the same folder, and require's cache must not hold it); its
 * dependencies, which a save does not change, it loads (ioctl drops a standby whose
 * dependencies changed on disk).
 */
async function prewarm() {
  // The packages the previous version of the app loaded (IOCTL_PRELOAD, a JSON array).
  require('./host/preload').preload(env.IOCTL_PRELOAD, env.IOCTL_APP_ROOT)
  // Lazily loaded internals apps use: fetch/undici (ExternalClient), the source-map-aware
  // stack formatting, util.inspect, the URL parser.
  void [globalThis.fetch, globalThis.Headers, globalThis.Request, globalThis.Response, AbortSignal.timeout]
  void new Error('prewarm').stack
  util.inspect({ a: [1, { b: 'c' }] })
  new URL('http://127.0.0.1/?a=1')
  querystring.parse('a=1&a=2')
  // The interceptors of the app's own HTTP to VTEX: its first such call then pays nothing.
  try {
    intercept.warmUp()
  } catch {
    // The app's first call to a VTEX host tries again, and fails with the reason if it must.
  }
  warmUp()
  try {
    await routes.start()
  } catch {
    // Retried at load time, where a failure is reported.
  }
}

let connected = false
transport.connect(SOCKET, {
  onConnect() {
    connected = true
    inspect.announce(send)
    if (!STANDBY) {
      load(env.IOCTL_ENTRY)
      return
    }
    prewarm().then(() => {
      if (loaded.state === 'waiting') send(messages.standby())
    })
  },
  // ioctl went away (or was never there): nobody is left to serve.
  onClose(err) {
    if (err && !connected) process.stderr.write(`ioctl host: cannot connect to ${SOCKET}: ${err.message}\n`)
    process.exit(exitCode === null ? 0 : exitCode)
  },
})
