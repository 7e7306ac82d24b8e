'use strict'
// The host's side of its messages with ioctl, against src/runtime/fixtures/host-messages/ (one
// example line of each message, each direction, and of each platform call), which
// src/runtime/protocol.rs's tests read too: what the host builds equals the fixtures from the
// host, what it reads from ioctl is read as the fixtures to the host say, and host.js itself,
// started as ioctl starts a standby, answers ioctl's fixtures with its own.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const vtexApi = require('../vtex-api')
const messages = require('../host/messages')
const logging = require('../host/logging')
const { errorInfo } = require('../host/errors')
const { deliver } = require('../host/events')
const { loaded } = require('../host/service')
const { EventSender } = require('../host/send_event')
const { PlatformCalls } = require('../host/platform')
const { SchemaProblems, buildSchema } = require('../host/graphql/schema')

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'host-messages')

/** name (without .json) -> message, of one folder of fixtures. */
function fixtures(folder) {
  const found = {}
  for (const file of fs.readdirSync(path.join(FIXTURES, folder)).sort()) {
    const text = fs.readFileSync(path.join(FIXTURES, folder, file), 'utf8')
    assert.equal(text.split('\n').length, 2, `${folder}/${file}: one line, as on the wire`)
    found[file.replace(/\.json$/, '')] = JSON.parse(text)
  }
  return found
}

const fromHost = fixtures('from-host')
const toHost = fixtures('to-host')
const platformCalls = fixtures('platform-calls')

/** `message[key]`, which must be there: a test reading a field the fixture renamed fails here. */
function field(message, key) {
  assert.ok(Object.hasOwn(message, key), `${JSON.stringify(message)} has no \`${key}\``)
  return message[key]
}

/** The keys of `value`, and of the objects in it, as paths: the shape two messages share. */
function shape(value, at = '') {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return []
  return Object.keys(value)
    .sort()
    .flatMap((key) => [`${at}${key}`, ...shape(value[key], `${at}${key}.`)])
}

test('every fixture is one this file checks: a new message fails here until the host handles it', () => {
  const checked = {
    fromHost: [
      'inspector',
      'load_error',
      'loaded',
      'log',
      'platform',
      'pong',
      'result',
      'result.failed',
      'send_event',
      'standby',
    ],
    toHost: [
      'deliver',
      'load',
      'ping',
      'platform_result',
      'platform_result.failed',
      'platform_result.http',
      'platform_result.http_missing',
      'send_event_ack',
      'shutdown',
    ],
  }
  const names = (found) => Object.keys(found).sort()
  assert.deepEqual({ fromHost: names(fromHost), toHost: names(toHost) }, checked)
})

test('the messages the host builds are the fixtures from the host', () => {
  const f = fromHost
  assert.deepEqual(messages.standby(), f.standby)
  assert.deepEqual(messages.inspector(f.inspector.url, f.inspector.waiting), f.inspector)
  assert.deepEqual(messages.pong(f.pong.id), f.pong)
  const l = f.loaded
  const built = messages.loaded({
    events: l.events,
    badEvents: l.bad_events,
    routes: l.routes,
    clientOptions: l.client_options,
    routesSocket: l.routes_socket,
    graphql: l.graphql,
    preload: l.preload,
    timings: {
      requireMs: l.timings.require_ms,
      schemaMs: l.timings.schema_ms,
      runtimeModules: l.timings.runtime_modules,
      cachedModules: l.timings.cached_modules,
    },
  })
  assert.deepEqual(built, l)
  const e = f.load_error
  assert.deepEqual(messages.loadError(e.message, e.stack, e.diagnostics), e)
  assert.deepEqual(messages.log(f.log.level, f.log.message, f.log.handler, f.log.delivery), f.log)
  assert.deepEqual(messages.result(f.result.delivery, f.result.elapsed_ms, null), f.result)
  const failed = f['result.failed']
  assert.deepEqual(messages.result(failed.delivery, failed.elapsed_ms, failed.error), failed)
})

test("a handler's error and a schema problem have the fixtures' fields", () => {
  assert.deepEqual(shape(errorInfo(new TypeError('x'))), shape(fromHost['result.failed'].error))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-test-'))
  try {
    fs.mkdirSync(path.join(dir, 'graphql'))
    fs.writeFileSync(path.join(dir, 'graphql', 'schema.graphql'), 'type Query {\n  book: Bok\n}\n')
    const err = (() => {
      try {
        buildSchema(dir, { resolvers: {} }, () => {})
      } catch (caught) {
        return caught
      }
    })()
    assert.ok(err instanceof SchemaProblems, String(err))
    assert.deepEqual(shape(err.diagnostics[0]), shape(fromHost.load_error.diagnostics[0]))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('sendEvent writes the send_event fixture and resolves with the send_event_ack fixture', async () => {
  const lines = []
  const sender = new EventSender((line) => lines.push(line))
  const { subject, key, body } = fromHost.send_event
  const sent = sender.send(subject, key, body)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(JSON.parse(lines[0]), fromHost.send_event)
  sender.onAck(toHost.send_event_ack)
  assert.equal(await sent, field(toHost.send_event_ack, 'event_id'))
})

/** An app's getAppSettings through the host's PlatformCalls, answered with `answer`: what was sent, and how it settled. */
async function getAppSettings(answer) {
  const sent = []
  const calls = new PlatformCalls((message) => sent.push(message))
  const saved = vtexApi.__ioctl.platform
  vtexApi.__ioctl.platform = (call) => calls.call(call)
  try {
    // Made inside a request whose trace is the fixture's: the message carries it.
    const context = { handler: 'route', delivery: null, trace: field(fromHost.platform, 'trace') }
    const settled = logging.handlerContext
      .run(context, () => new vtexApi.IOClients({}, {}).apps.getAppSettings(fromHost.platform.call.app))
      .then(
        (value) => ({ value }),
        (error) => ({ error }),
      )
    await new Promise((resolve) => setImmediate(resolve))
    calls.onResult(answer)
    return { sent, settled: await settled }
  } finally {
    vtexApi.__ioctl.platform = saved
  }
}

test("an app's platform call is the platform fixture and settles as the platform_result fixtures say", async () => {
  const answered = await getAppSettings(toHost.platform_result)
  assert.deepEqual(answered.sent, [fromHost.platform])
  assert.deepEqual(answered.settled, { value: field(toHost.platform_result, 'value') })

  const failure = field(toHost['platform_result.failed'], 'error')
  const { settled } = await getAppSettings(toHost['platform_result.failed'])
  // As the app sees it: VTEX's HTTP error, with the status ioctl answered.
  assert.equal(settled.error.status, field(failure, 'status'))
  assert.equal(settled.error.response.status, failure.status)
  assert.ok(settled.error.message.endsWith(`: ${field(failure, 'message')}`), settled.error.message)
})

/** Each platform call made through the client method an app calls, with the fixture's arguments. */
const CLIENT_CALLS = {
  'apps.getAppSettings': ({ apps }, c) => apps.getAppSettings(c.app),
  'apps.saveAppSettings': ({ apps }, c) => apps.saveAppSettings(c.app, c.settings),
  'vbase.getFile': ({ vbase }, c) => vbase.getFile(c.bucket, c.path),
  'vbase.saveFile': ({ vbase }, c) =>
    vbase.saveFile(c.bucket, c.path, Buffer.from(c.data, 'base64'), c.gzip, c.ttl, undefined, c.if_match),
  'vbase.deleteFile': ({ vbase }, c) => vbase.deleteFile(c.bucket, c.path),
  'vbase.listFiles': ({ vbase }, c) => vbase.listFiles(c.bucket, { prefix: c.prefix, next: c.marker, limit: c.limit }),
  'masterdata.write': ({ masterdata }, c) =>
    masterdata[c.mode]({ dataEntity: c.data_entity, id: c.id, fields: c.fields, schema: c.schema }),
  'masterdata.getDocument': ({ masterdata }, c) =>
    masterdata.getDocument({ dataEntity: c.data_entity, id: c.id, fields: c.fields }),
  'masterdata.deleteDocument': ({ masterdata }, c) =>
    masterdata.deleteDocument({ dataEntity: c.data_entity, id: c.id }),
  'masterdata.searchDocuments': ({ masterdata }, c) =>
    masterdata.searchDocuments({
      dataEntity: c.data_entity,
      fields: c.fields,
      where: c.where,
      sort: c.sort,
      schema: c.schema,
      pagination: { page: c.page, pageSize: c.page_size },
    }),
  'masterdata.scrollDocuments': ({ masterdata }, c) =>
    masterdata.scrollDocuments({
      dataEntity: c.data_entity,
      fields: c.fields,
      where: c.where,
      sort: c.sort,
      schema: c.schema,
      size: c.size,
      mdToken: c.md_token,
    }),
  'masterdata.getSchema': ({ masterdata }, c) => masterdata.getSchema({ dataEntity: c.data_entity, schema: c.schema }),
  'masterdata.createOrUpdateSchema': ({ masterdata }, c) =>
    masterdata.createOrUpdateSchema({
      dataEntity: c.data_entity,
      schemaName: c.schema_name,
      schemaBody: c.schema_body,
    }),
}

/** What ioctl answers each call with, as far as the client reads it. */
const ANSWERS = {
  getFile: { data: '', content_type: 'application/json', gzip: false, hash: 'h1' },
  searchDocuments: { data: [], total: 0 },
}

/** The app's AppGraphQLClient of the `http` fixture, reached as ctx.clients.search, in the fixture's account. */
class SearchGraphQL extends vtexApi.AppGraphQLClient {
  constructor(context, options) {
    super(platformCalls.http.app, context, options)
  }
  productSearch(variables) {
    const { query } = JSON.parse(Buffer.from(platformCalls.http.body, 'base64').toString())
    return this.graphql.query({ query, variables })
  }
}
class SearchClients extends vtexApi.IOClients {
  get search() {
    return this.getOrSet('search', SearchGraphQL)
  }
}
const httpContext = {
  account: 'local',
  workspace: 'dev',
  authToken: 'ioctl-local-auth-token',
  userAgent: 'vtex.service-course@0.0.1',
}
/** The `http` fixture's call, made as the app makes it. */
function searchCall(c) {
  const { variables } = JSON.parse(Buffer.from(c.body, 'base64').toString())
  return new SearchClients({}, httpContext).search.productSearch(variables)
}
CLIENT_CALLS.http = (_clients, c) => searchCall(c)

test("the clients' platform calls are the platform-calls fixtures", async () => {
  assert.deepEqual(Object.keys(CLIENT_CALLS).sort(), Object.keys(platformCalls).sort())
  const clients = new vtexApi.IOClients({}, {})
  const saved = vtexApi.__ioctl.platform
  const seen = []
  vtexApi.__ioctl.platform = (call) => {
    seen.push(call)
    if (call.service === 'http') return Promise.resolve(toHost['platform_result.http'].value)
    return Promise.resolve(ANSWERS[call.method] || null)
  }
  try {
    for (const [name, call] of Object.entries(platformCalls)) {
      await CLIENT_CALLS[name](clients, call)
      assert.deepEqual(seen.pop(), call, name)
    }
  } finally {
    vtexApi.__ioctl.platform = saved
  }
})

test("an app's outbound call settles as the platform_result.http fixtures say: an answer, or a missing call's error", async () => {
  const saved = vtexApi.__ioctl.platform
  try {
    const answer = field(toHost['platform_result.http'], 'value')
    vtexApi.__ioctl.platform = () => Promise.resolve(answer)
    const body = JSON.parse(Buffer.from(field(answer, 'body'), 'base64').toString())
    assert.deepEqual(await searchCall(platformCalls.http), body)

    const missing = field(toHost['platform_result.http_missing'], 'value')
    vtexApi.__ioctl.platform = () => Promise.resolve(missing)
    const err = await searchCall(platformCalls.http).catch((e) => e)
    assert.equal(err.message, field(missing, 'message'))
    assert.deepEqual([err.response.status, field(missing, 'source')], [field(missing, 'status'), 'missing'])
  } finally {
    vtexApi.__ioctl.platform = saved
  }
})

test('a delivery is read as the deliver fixture says and answered with the result fixture', async () => {
  const d = toHost.deliver
  let seen = null
  loaded.service = new vtexApi.Service({
    events: {
      [field(d, 'handler')]: (ctx) => {
        seen = { id: ctx.vtex.eventInfo.id, sender: ctx.sender, key: ctx.key, subject: ctx.subject, body: ctx.body }
        // The attempt's trace, which its platform calls carry.
        seen.trace = logging.currentTrace()
      },
    },
  })
  loaded.state = 'loaded'
  const sent = []
  logging.setSink((message) => sent.push(message))
  await deliver(d, (message) => sent.push(message))
  const event = field(d, 'event')
  const read = ['id', 'sender', 'key', 'subject', 'body'].map((key) => [key, field(event, key)])
  assert.deepEqual(seen, { ...Object.fromEntries(read), trace: field(d, 'trace') })
  // The result of the fixture's delivery (the two fixtures share its id).
  assert.equal(sent.length, 1)
  assert.deepEqual(sent[0], { ...fromHost.result, elapsed_ms: sent[0].elapsed_ms })
})

/** Lines from the host on one socket connection, in order. */
class Peer {
  constructor(socket) {
    this.socket = socket
    this.lines = []
    this.waiting = null
    let buffered = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => {
      buffered += chunk
      let newline
      while ((newline = buffered.indexOf('\n')) !== -1) {
        this.lines.push(JSON.parse(buffered.slice(0, newline)))
        buffered = buffered.slice(newline + 1)
      }
      if (this.waiting && this.lines.length > 0) this.waiting()
    })
  }

  /** The next message from the host. */
  async next() {
    while (this.lines.length === 0) await new Promise((resolve) => (this.waiting = resolve))
    return this.lines.shift()
  }

  send(message) {
    this.socket.write(`${JSON.stringify(message)}\n`)
  }
}

test("host.js, started as ioctl starts a standby, speaks the fixtures' messages", async (t) => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-test-')))
  const d = toHost.deliver
  fs.mkdirSync(path.join(dir, 'node'))
  const entry = path.join(dir, 'node', 'index.js')
  fs.writeFileSync(
    entry,
    [
      "const { Service } = require('@vtex/api')",
      'module.exports = new Service({',
      '  events: {',
      `    ${JSON.stringify(d.handler)}: () => {`,
      // `load`'s env reached the app.
      `      if (process.env.VTEX_APP_ID !== ${JSON.stringify(toHost.load.env.VTEX_APP_ID)}) throw new Error('no env')`,
      `      console.log(${JSON.stringify(fromHost.log.message)})`,
      '    },',
      "    broken: 'not a function',",
      '  },',
      "  routes: { status: (ctx) => { ctx.body = 'ok' } },",
      `  clients: { options: ${JSON.stringify(fromHost.loaded.client_options)} },`,
      '})',
    ].join('\n'),
  )
  const socketPath = path.join(dir, 'ioctl.sock')
  const routesSocket = path.join(dir, 'routes.sock')
  const server = net.createServer()
  const connected = new Promise((resolve) => server.once('connection', resolve))
  await new Promise((resolve) => server.listen(socketPath, resolve))
  const output = []
  const host = spawn(process.execPath, [path.join(__dirname, '..', 'host.js')], {
    cwd: path.join(dir, 'node'),
    env: {
      ...process.env,
      IOCTL_SOCKET: socketPath,
      IOCTL_ROUTES_SOCKET: routesSocket,
      IOCTL_STANDBY: '1',
      IOCTL_PRELOAD: '[]',
      IOCTL_APP_ROOT: dir,
      IOCTL_BUILD_DIR: path.join(dir, 'build'),
      VTEX_ACCOUNT: 'local',
      VTEX_WORKSPACE: 'dev',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  host.stdout.on('data', (chunk) => output.push(String(chunk)))
  host.stderr.on('data', (chunk) => output.push(String(chunk)))
  const exited = new Promise((resolve) => host.once('exit', (code, signal) => resolve({ code, signal })))
  t.after(() => {
    host.kill()
    server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const peer = new Peer(await connected)
  const why = () => `host output: ${output.join('')}`

  assert.deepEqual(await peer.next(), fromHost.standby, why())
  peer.send(toHost.ping)
  assert.deepEqual(await peer.next(), fromHost.pong, why())

  // The fixture's entry is another machine's: this app's instead.
  assert.ok(Object.hasOwn(toHost.load, 'entry') && Object.hasOwn(toHost.load, 'env'))
  peer.send({ ...toHost.load, entry })
  const answer = await peer.next()
  // Its values are this app's; its fields are the fixture's.
  assert.deepEqual(shape(answer), shape(fromHost.loaded), why())
  const l = fromHost.loaded
  assert.deepEqual(
    [answer.events, answer.bad_events, answer.routes, answer.client_options, answer.routes_socket],
    [[d.handler], l.bad_events, ['status'], l.client_options, routesSocket],
  )

  peer.send(d)
  assert.deepEqual(await peer.next(), fromHost.log, why())
  const result = await peer.next()
  assert.deepEqual(result, { ...fromHost.result, elapsed_ms: result.elapsed_ms }, why())

  peer.send(toHost.shutdown)
  // It exits, saying nothing more (a message it did not understand would be a warning first).
  const next = await Promise.race([exited.then((status) => ({ status })), peer.next().then((message) => ({ message }))])
  assert.deepEqual(next, { status: { code: 0, signal: null } }, why())
})

test('a declared handler that is no function is named as a developer would say it', () => {
  const { notCallable } = require('../host/service')
  assert.equal(
    notCallable(async () => {}),
    null,
  )
  assert.equal(notCallable(undefined), 'undefined')
  assert.equal(notCallable(null), 'null')
  assert.equal(notCallable(42), 'a number')
  assert.equal(notCallable({ run() {} }), 'an object')
  assert.equal(notCallable([]), 'an empty array')
})
