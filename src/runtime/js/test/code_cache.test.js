'use strict'
// code_cache.js: a host's dependencies and app modules are served from the packs an earlier
// host wrote, a changed file is never served from them, a damaged pack is ignored and
// rewritten, columns and stacks stay the file's own, and the folder stays within its bound.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile, execFileSync } = require('node:child_process')

const CODE_CACHE = path.join(__dirname, '..', 'host', 'code_cache.js')
const SOURCE_MAPS = path.join(__dirname, '..', 'host', 'source_maps.js')

/** An app folder with node/node_modules/{pkg,other} and a cache folder. */
function fixture() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-code-cache-')))
  const files = {
    'app/node/index.js': "module.exports = require('pkg')",
    'app/node/node_modules/pkg/package.json': '{"name":"pkg","main":"main.js"}',
    'app/node/node_modules/pkg/main.js': "exports.lib = require('./lib')\nexports.other = require('other')",
    'app/node/node_modules/pkg/lib.js': "exports.fail = () => { throw new Error('boom') }\nexports.value = 'one'",
    'app/node/node_modules/other/index.js': "module.exports = 'other'",
  }
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), text)
  }
  fs.mkdirSync(path.join(root, 'cache'), { mode: 0o700 })
  return { root, app: path.join(root, 'app'), dir: path.join(root, 'cache') }
}

/** A fresh Node process that installs the cache, requires the app's index.js, saves, reports. */
function host({ app, dir }, extra = '') {
  const script = `
    const codeCache = require(${JSON.stringify(CODE_CACHE)})
    codeCache.install({ dir: ${JSON.stringify(dir)}, appRoot: ${JSON.stringify(app)} })
    const pkg = require(${JSON.stringify(path.join(app, 'node', 'index.js'))})
    let column = null
    try { pkg.lib.fail() } catch (err) { column = err.stack.split('\\n')[1] }
    ${extra}
    const saved = codeCache.save()
    console.log(JSON.stringify({ value: pkg.lib.value, other: pkg.other, frame: column, saved, ...codeCache.stats().deps }))
  `
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { encoding: 'utf8' }, (err, out) =>
      err ? reject(err) : resolve(JSON.parse(out)),
    ),
  )
}

const packOf = (dir, prefix) => fs.readdirSync(dir).find((n) => n.startsWith(prefix) && n.endsWith('.bin'))

test('the first host compiles and writes the pack, the next one is served from it', async () => {
  const f = fixture()
  const first = await host(f)
  assert.deepEqual(
    { ...first, frame: undefined },
    {
      value: 'one',
      other: 'other',
      frame: undefined,
      saved: { deps: true, app: false },
      compiled: 3,
      cached: 0,
      rejected: 0,
    },
  )
  const pack = path.join(f.dir, packOf(f.dir, 'deps-'))
  assert.equal(fs.statSync(pack).mode & 0o777, 0o600)
  const second = await host(f)
  assert.deepEqual(
    { ...second, frame: undefined },
    {
      value: 'one',
      other: 'other',
      frame: undefined,
      saved: { deps: false, app: false },
      compiled: 0,
      cached: 3,
      rejected: 0,
    },
  )
  // The wrapper shares line 1: V8's column there is still the file's own (`new Error` at 1:30).
  const lib = path.join(f.app, 'node', 'node_modules', 'pkg', 'lib.js')
  assert.ok(first.frame.endsWith(`(${lib}:1:30)`), first.frame)
  assert.equal(second.frame, first.frame)
})

test('a file changed since the pack was written runs as it is now, and only it is compiled', async () => {
  const f = fixture()
  await host(f)
  const lib = path.join(f.app, 'node', 'node_modules', 'pkg', 'lib.js')
  // The same length: V8's own check (the source's length) would not see the change.
  fs.writeFileSync(lib, fs.readFileSync(lib, 'utf8').replace("'one'", "'two'"))
  const changed = await host(f)
  assert.equal(changed.value, 'two')
  assert.deepEqual([changed.compiled, changed.cached, changed.rejected], [1, 2, 0])
  const again = await host(f)
  assert.deepEqual([again.value, again.compiled, again.cached], ['two', 0, 3])
})

test('a removed package is resolved afresh, not from the pack', async () => {
  const f = fixture()
  await host(f)
  const other = path.join(f.app, 'node', 'node_modules', 'other')
  fs.renameSync(other, path.join(f.app, 'node', 'node_modules', 'moved'))
  await assert.rejects(host(f), /Cannot find module 'other'/)
})

test('after an install (a lockfile written) nothing of the pack is used, and a new one is written', async () => {
  const f = fixture()
  await host(f)
  fs.writeFileSync(path.join(f.app, 'node', 'node_modules', '.package-lock.json'), '{"lockfileVersion":3}')
  const installed = await host(f)
  assert.deepEqual([installed.value, installed.compiled, installed.cached, installed.saved.deps], ['one', 3, 0, true])
  assert.equal((await host(f)).cached, 3)
})

test('a damaged pack is ignored and rewritten; code V8 refuses is compiled afresh', async () => {
  const f = fixture()
  await host(f)
  const pack = path.join(f.dir, packOf(f.dir, 'deps-'))
  const whole = fs.readFileSync(pack)
  // One byte of a module's source changed: the pack's checksum no longer holds, none of it is used.
  const flipped = Buffer.from(whole)
  flipped[flipped.length - 1] ^= 0xff
  fs.writeFileSync(pack, flipped)
  const damaged = await host(f)
  assert.deepEqual([damaged.value, damaged.compiled, damaged.cached, damaged.rejected], ['one', 3, 0, 0])
  assert.equal(damaged.saved.deps, true)
  assert.equal((await host(f)).cached, 3)
  // Whole and checked, but V8's part is not V8's (another V8 wrote it, say): refused, compiled.
  const { readPack, writePack } = require(CODE_CACHE)
  const { header, entries } = readPack(pack)
  const foreign = [...entries].map(([key, e]) => [
    key,
    e.meta,
    e.bytes.toString('utf8', e.offset, e.offset + e.sourceLength),
    Buffer.alloc(e.codeLength, 7),
  ])
  assert.equal(
    writePack(pack, { modules: header.modules, stamp: header.stamp, resolved: header.resolved }, foreign),
    true,
  )
  const refused = await host(f)
  assert.deepEqual([refused.value, refused.compiled, refused.cached, refused.rejected], ['one', 3, 0, 3])
  assert.equal((await host(f)).cached, 3)
  for (const text of ['not a pack', whole.subarray(0, whole.length - 10)]) {
    fs.writeFileSync(pack, text)
    const garbage = await host(f)
    assert.deepEqual([garbage.value, garbage.compiled, garbage.rejected], ['one', 3, 0])
  }
})

test('two hosts writing the pack at once leave a whole one', async () => {
  const f = fixture()
  const both = await Promise.all([host(f), host(f)])
  assert.deepEqual(
    both.map((r) => r.value),
    ['one', 'one'],
  )
  const third = await host(f)
  assert.deepEqual([third.compiled, third.cached], [0, 3])
  assert.deepEqual(
    fs.readdirSync(f.dir).filter((n) => n.endsWith('.tmp')),
    [],
  )
})

test("the app's modules: unchanged code is served from the last build's pack", () => {
  const f = fixture()
  const run = (version) => {
    const script = `
      const Module = require('node:module')
      const codeCache = require(${JSON.stringify(CODE_CACHE)})
      codeCache.install({ dir: ${JSON.stringify(f.dir)}, appRoot: ${JSON.stringify(f.app)} })
      const load = (name, code) => {
        const filename = ${JSON.stringify(path.join(f.app, 'node'))} + '/' + name + '.ts'
        const m = new Module(filename, module)
        m.filename = filename
        codeCache.caches.app.load(m, code, filename)
        return m.exports
      }
      const a = load('a', 'let n = 0\\nexports.n = () => ++n')
      const b = load('b', 'exports.v = ${version}')
      a.n()
      console.log(JSON.stringify({ n: a.n(), v: b.v, saved: codeCache.save().app, ...codeCache.stats().app }))
    `
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
  }
  assert.deepEqual(run(1), { n: 2, v: 1, saved: true, compiled: 2, cached: 0, rejected: 0 })
  // Module state is fresh in each process; only the changed module is compiled.
  assert.deepEqual(run(2), { n: 2, v: 2, saved: true, compiled: 1, cached: 1, rejected: 0 })
  assert.deepEqual(run(2), { n: 2, v: 2, saved: false, compiled: 0, cached: 2, rejected: 0 })
})

test("a copy of the app elsewhere is not served another copy's code (V8's code names its file)", () => {
  const f = fixture()
  const run = (appRoot) => {
    const script = `
      const Module = require('node:module')
      const codeCache = require(${JSON.stringify(CODE_CACHE)})
      codeCache.install({ dir: ${JSON.stringify(f.dir)}, appRoot: ${JSON.stringify(appRoot)} })
      const filename = ${JSON.stringify(path.join(appRoot, 'node', 'a.ts'))}
      const m = new Module(filename, module)
      m.filename = filename
      codeCache.caches.app.load(m, 'exports.fail = () => { throw new Error("x") }', filename)
      let frame
      try { m.exports.fail() } catch (err) { frame = err.stack.split('\\n')[1] }
      codeCache.save()
      console.log(JSON.stringify({ frame, ...codeCache.stats().app }))
    `
    const env = { ...process.env, VTEX_APP_VENDOR: 'acme', VTEX_APP_NAME: 'same' }
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env }))
  }
  const here = path.join(f.root, 'here')
  const there = path.join(f.root, 'there')
  assert.equal(run(here).compiled, 1)
  assert.equal(run(here).cached, 1)
  const copy = run(there)
  assert.equal(copy.compiled, 1)
  assert.ok(copy.frame.includes(path.join(there, 'node', 'a.ts')), copy.frame)
})

test('the folder is kept under its bound by removing the packs written longest ago', () => {
  const { bound } = require(CODE_CACHE)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-code-cache-bound-'))
  for (const [name, age] of [
    ['old.bin', 300],
    ['mid.bin', 200],
    ['new.bin', 100],
  ]) {
    fs.writeFileSync(path.join(dir, name), Buffer.alloc(1000))
    const t = Date.now() / 1000 - age
    fs.utimesSync(path.join(dir, name), t, t)
  }
  assert.equal(bound(dir, 2500), 1)
  assert.deepEqual(fs.readdirSync(dir).sort(), ['mid.bin', 'new.bin'])
  assert.equal(bound(dir, 2500), 0)
})

test('a stack through a module whose map was registered reads on the mapped lines', () => {
  const script = `
    const sourceMaps = require(${JSON.stringify(SOURCE_MAPS)})
    sourceMaps.install()
    const vm = require('node:vm')
    // Generated line 3 (0-based 2) maps to /src/a.ts line 10 (0-based 9), column 5.
    const map = { version: 3, sources: ['/src/a.ts'], names: [], mappings: ';;AASK' }
    sourceMaps.register('/src/a.ts', Buffer.from(JSON.stringify(map)))
    const fn = new vm.Script('(function () {\\n\\n throw new Error("mapped") })', { filename: '/src/a.ts' }).runInThisContext()
    let stack
    try { fn() } catch (err) { stack = err.stack }
    let plain
    try { require('node:fs').readFileSync({}) } catch (err) { plain = err.stack.split('\\n')[0] }
    console.log(JSON.stringify({ stack, plain }))
  `
  const { stack, plain } = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
  const [head, first] = stack.split('\n')
  assert.equal(head, 'Error: mapped')
  assert.equal(first, '    at /src/a.ts:10:6')
  // Node's own errors keep their code in the first line, as Node writes it.
  assert.match(plain, /^TypeError \[ERR_INVALID_ARG_TYPE\]: /)
})
