'use strict'
// What published apps do that VTEX accepts: @cacheControl(maxAge:) by name in any case (ZERO,
// Short, ...), prom-client required without declaring it, masterdata.getSchema of a missing
// schema resolving falsy so `if (!schema)` runs.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const modules = require('../host/modules')
const packages = require('../packages')
const vtexApi = require('../vtex-api')
const { buildSchema, SchemaProblems, graphql } = require('../host/graphql/schema')
const { cacheControlOf } = require('../host/graphql/directives')

const roots = []
test.after(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })))

/** A temporary app folder with these files (relative path -> text), removed after the tests. */
function appWith(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-fidelity-'))
  roots.push(root)
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    fs.writeFileSync(path.join(root, name), text)
  }
  return root
}

const NAMED_MAX_AGES = `
type Query {
  zero: String @cacheControl(maxAge: ZERO)
  short: String @cacheControl(maxAge: Short, scope: PRIVATE)
  shortLower: String @cacheControl(maxAge: short)
  medium: String @cacheControl(maxAge: MEDIUM)
  long: String @cacheControl(maxAge: Long)
  seconds: String @cacheControl(maxAge: 42)
}
`

/** The cache policy a query of `field` adds up to. */
async function policyOf(schema, field) {
  const ctx = { graphql: { cacheHints: [] } }
  const result = await graphql.graphql({ schema, source: `{ ${field} }`, contextValue: ctx })
  assert.equal(result.errors, undefined, JSON.stringify(result.errors))
  assert.equal(result.data[field], field)
  return cacheControlOf(ctx.graphql.cacheHints)
}

test('@cacheControl(maxAge:) takes ZERO, SHORT, MEDIUM, LONG in any case, and seconds, with no warning', async () => {
  const warnings = []
  const fields = ['zero', 'short', 'shortLower', 'medium', 'long', 'seconds']
  const resolvers = { Query: Object.fromEntries(fields.map((f) => [f, () => f])) }
  const schema = buildSchema(appWith({ 'graphql/schema.graphql': NAMED_MAX_AGES }), { resolvers }, (w) =>
    warnings.push(w),
  )
  assert.deepEqual(warnings, [])
  const policies = {}
  for (const field of fields) policies[field] = await policyOf(schema, field)
  assert.deepEqual(policies, {
    zero: { maxAge: 0, scope: 'PUBLIC' },
    short: { maxAge: 120, scope: 'PRIVATE' },
    shortLower: { maxAge: 120, scope: 'PUBLIC' },
    medium: { maxAge: 3600, scope: 'PUBLIC' },
    long: { maxAge: 86400, scope: 'PUBLIC' },
    seconds: { maxAge: 42, scope: 'PUBLIC' },
  })
})

test('a maxAge name that is none of them is a problem at its place, naming the accepted ones', () => {
  const root = appWith({ 'graphql/schema.graphql': 'type Query {\n  a: String @cacheControl(maxAge: FOREVER)\n}' })
  assert.throws(
    () => buildSchema(root, { resolvers: { Query: { a: () => 'a' } } }, () => {}),
    (err) => {
      assert.ok(err instanceof SchemaProblems)
      assert.deepEqual(err.diagnostics, [
        {
          file: 'graphql/schema.graphql',
          line: 2,
          column: 35,
          message:
            '@cacheControl(maxAge: FOREVER): maxAge is a number of seconds or one of ZERO, SHORT, MEDIUM, LONG (any case)',
        },
      ])
      return true
    },
  )
})

test('prom-client resolves for an app that does not declare it, with one warning, and counts for real', () => {
  const root = appWith({
    'node/package.json': JSON.stringify({ dependencies: { '@vtex/api': '6.x' } }),
    'node/metrics.js': `
      const { Counter, register } = require('prom-client')
      const requests = new Counter({ name: 'fidelity_requests_total', help: 'requests seen' })
      requests.inc()
      requests.inc()
      module.exports = register.metrics()
    `,
  })
  const warnings = []
  process.env.IOCTL_APP_ROOT = root
  modules.onUndeclared((w) => warnings.push(w))
  modules.install()
  const file = path.join(root, 'node', 'metrics.js')
  return require(file).then((text) => {
    assert.match(text, /^fidelity_requests_total 2$/m)
    assert.deepEqual(warnings, [
      'node/metrics.js imports prom-client, which node/package.json does not declare; it resolves on VTEX only through @vtex/api — add it to dependencies',
    ])
    // The runtime's pinned copy (14.2.0, as @vtex/api 6.51.3 depends on).
    assert.equal(require.resolve('prom-client', { paths: [path.dirname(file)] }), packages.resolve('prom-client'))
  })
})

test("@vtex/api's promclient is the real prom-client, the same copy apps require", async () => {
  const { promclient } = vtexApi
  assert.equal(promclient, require(packages.resolve('prom-client')))
  const gauge = new promclient.Gauge({ name: 'fidelity_queue_depth', help: 'queue depth' })
  gauge.set(7)
  assert.match(await promclient.register.metrics(), /^fidelity_queue_depth 7$/m)
})

/** ctx.clients.masterdata with the platform answering `answer(call)`; the calls made. */
function masterdataAnswering(answer) {
  const calls = []
  vtexApi.__ioctl.platform = (call) => (calls.push(call), Promise.resolve(answer(call)))
  return { masterdata: new vtexApi.IOClients({}, {}).masterdata, calls }
}

test('masterdata.getSchema of a missing schema resolves falsy (an empty body), of a saved one its body', async (t) => {
  const saved = vtexApi.__ioctl.platform
  t.after(() => {
    vtexApi.__ioctl.platform = saved
  })
  const body = { properties: { name: { type: 'string' } } }
  const { masterdata, calls } = masterdataAnswering((call) => (call.schema === 'v1' ? body : null))
  const missing = await masterdata.getSchema({ dataEntity: 'CL', schema: 'v2' })
  assert.equal(missing, '')
  assert.ok(!missing, 'an app’s `if (!schema)` branch runs')
  assert.deepEqual(await masterdata.getSchema({ dataEntity: 'CL', schema: 'v1' }), body)
  assert.deepEqual(calls[0], { service: 'masterdata', method: 'getSchema', data_entity: 'CL', schema: 'v2' })
})
