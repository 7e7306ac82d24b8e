'use strict'
// An app with the real @vtex/clients installed gets its classes, loaded on ioctl's @vtex/api:
// they extend the stand-in's JanusClient/AppClient, so their calls (VTEX's real paths) cross
// ioctl's boundary; masterDataFor and vbaseFor stay ioctl's local ones. A copy that does not
// load leaves the stand-in's classes, said once. Each case runs in a fresh Node process (the
// module cache decides once), on a small @vtex/clients-shaped package in a temp app folder.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const RUNTIME = path.join(__dirname, '..')

/** A temp app whose node/node_modules/@vtex/clients has `index` as its main file. */
function appWithClients(t, index) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-clients-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  const pkg = path.join(root, 'node', 'node_modules', '@vtex', 'clients')
  fs.mkdirSync(path.join(pkg, 'build'), { recursive: true })
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@vtex/clients', main: 'build/index.js' }))
  fs.writeFileSync(path.join(pkg, 'build', 'index.js'), index)
  return root
}

/** Runs `body` in a fresh Node with the host's module resolution for `root`; returns what it prints as JSON. */
function inApp(root, body) {
  const script = `
    const modules = require(${JSON.stringify(path.join(RUNTIME, 'host', 'modules'))})
    const warnings = []
    modules.install()
    modules.onUndeclared((text) => warnings.push(text))
    const vtexApi = require(${JSON.stringify(path.join(RUNTIME, 'vtex-api'))})
    const logs = []
    vtexApi.__ioctl.log = (level, text) => logs.push([level, text])
    const calls = []
    vtexApi.__ioctl.platform = async (call) => {
      calls.push(call)
      return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"Id":1}').toString('base64'), source: 'fixture' }
    }
    const clients = require(modules.VTEX_CLIENTS_FILE)
    ;(async () => { ${body} })().then(
      (out) => console.log(JSON.stringify(out)),
      (err) => { console.log(JSON.stringify({ failed: String(err && err.stack) })) },
    )
  `
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, IOCTL_APP_ROOT: root } }),
  )
}

const REAL_SHAPED = `
  const api_1 = require('@vtex/api')
  const qs = require('qs') // undeclared: @vtex/api brings it along, on VTEX too
  class Catalog extends api_1.JanusClient {
    constructor(ctx, options) { super(ctx, { ...options }) }
    getSkuById(skuId) {
      return this.http.get('/api/catalog/pvt/stockkeepingunit/' + skuId, { headers: { VtexIdclientAutCookie: this.context.authToken } })
    }
  }
  class Search extends api_1.AppClient {
    constructor(ctx, options) { super('vtex.catalog-api-proxy@0.x', ctx, options) }
    product(id) { return this.http.get('/proxy/catalog/pub/products/' + qs.stringify({ id })) }
  }
  exports.Catalog = Catalog
  exports.Search = Search
  exports.masterDataFor = () => 'the real masterDataFor'
`

test("the app's own @vtex/clients runs on ioctl's @vtex/api: its real calls cross the boundary", (t) => {
  const root = appWithClients(t, REAL_SHAPED)
  const out = inApp(
    root,
    `
    class Clients extends vtexApi.IOClients {
      get catalog() { return this.getOrSet('catalog', clients.Catalog) }
      get search() { return this.getOrSet('search', clients.Search) }
    }
    const ctx = new Clients({}, { account: 'acc', workspace: 'dev', authToken: 'tok' })
    const sku = await ctx.catalog.getSkuById('7')
    await ctx.search.product('9')
    return {
      sku,
      janus: ctx.catalog instanceof vtexApi.JanusClient,
      calls: calls.map((c) => [c.via, c.method, c.url, c.app, c.headers.vtexidclientautcookie || null]),
      masterDataFor: typeof clients.masterDataFor('x'),
      warnings,
      logs,
    }
  `,
  )
  assert.deepEqual(out, {
    sku: { Id: 1 },
    janus: true,
    calls: [
      [
        'ctx.clients.catalog.getSkuById',
        'GET',
        'http://portal.vtexcommercestable.com.br/api/catalog/pvt/stockkeepingunit/7?an=acc',
        null,
        'tok',
      ],
      [
        'ctx.clients.search.product',
        'GET',
        'http://app.io.vtex.com/vtex.catalog-api-proxy/v0/acc/dev/proxy/catalog/pub/products/id=9',
        'vtex.catalog-api-proxy@0.x',
        null,
      ],
    ],
    masterDataFor: 'function',
    warnings: [],
    logs: [],
  })
})

test("a copy that does not load leaves the stand-in's classes, said once; no copy, no word", (t) => {
  const broken = appWithClients(t, "throw new Error('needs a newer Node')")
  const out = inApp(
    broken,
    `return { error: await clients.Catalog.prototype.getSkuById.call(new clients.Catalog({})).catch((e) => e.message), logs }`,
  )
  assert.match(
    out.error,
    /^Catalog\.getSkuById\(\) \(@vtex\/clients\) needs VTEX's cloud.*; install @vtex\/clients in node\//,
  )
  assert.equal(out.logs.length, 1)
  assert.match(out.logs[0][1], /@vtex\/clients does not load on ioctl's @vtex\/api \(needs a newer Node\)/)

  const none = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-clients-'))
  t.after(() => fs.rmSync(none, { recursive: true, force: true }))
  const bare = inApp(none, `return { base: Object.getPrototypeOf(clients.Catalog) === vtexApi.JanusClient, logs }`)
  assert.deepEqual(bare, { base: true, logs: [] })
})
