// The checker's unit tests: the overlay's view of node_modules, and incremental checks (an error
// found with its place and code, a fix found clean, a stale check cancelled, a broken tsconfig
// positioned). Run on the pinned set's TypeScript: `npm ci` in src/runtime/typecheck first.
'use strict'

const test = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { Overlay } = require('../overlay')
const { Checker } = require('../check')

const ours = path.join(__dirname, '..', 'node_modules')

function tempApp(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-check-'))
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    fs.writeFileSync(path.join(root, name), text)
  }
  return root
}

const TSCONFIG = JSON.stringify({
  compilerOptions: { strict: true, module: 'commonjs', target: 'es2019', lib: ['es2019'], types: [] },
  include: ['./**/*.ts'],
})

test('the overlay shows the app its own packages first, ours where it has none', () => {
  const root = tempApp({
    'node/node_modules/left/index.d.ts': 'export {}',
    'ours/left/x.d.ts': '',
    'ours/right/y.d.ts': '',
  })
  const overlay = new Overlay(path.join(root, 'node/node_modules'), path.join(root, 'ours'))
  const mods = path.join(root, 'node/node_modules')
  assert.equal(overlay.resolve(path.join(mods, 'left/index.d.ts')), path.join(mods, 'left/index.d.ts'))
  assert.equal(overlay.resolve(path.join(mods, 'right/y.d.ts')), path.join(root, 'ours/right/y.d.ts'))
  assert.ok(overlay.fileExists(path.join(mods, 'right/y.d.ts')))
  assert.ok(!overlay.fileExists(path.join(mods, 'nothing/z.d.ts')))
  assert.deepStrictEqual(overlay.getDirectories(mods).sort(), ['left', 'right'])
  // Outside node_modules nothing is redirected.
  assert.equal(overlay.resolve(path.join(root, 'node/index.ts')), path.join(root, 'node/index.ts'))
})

test('a type error is found with its place and code, and its fix is clean, checking only what changed', async () => {
  const ts = require(path.join(ours, 'typescript'))
  const files = {}
  for (let i = 0; i < 20; i++) files[`node/m${i}.ts`] = `export const v${i}: number = ${i}\n`
  const root = tempApp({
    'node/tsconfig.json': TSCONFIG,
    'node/index.ts': "import { v1 } from './m1'\nexport const x = v1\n",
    ...files,
  })
  const checker = new Checker(ts, root, ours)
  const first = await checker.check(() => false)
  assert.deepStrictEqual(first.diagnostics, [])
  assert.equal(first.files, 21)

  fs.writeFileSync(path.join(root, 'node/m3.ts'), "export const v3: number = 'x'\n")
  const broken = await checker.check(() => false)
  assert.deepStrictEqual(
    broken.diagnostics.map((d) => [d.file, d.line, d.column, d.code]),
    [[path.join('node', 'm3.ts'), 1, 14, 2322]],
  )
  assert.match(broken.diagnostics[0].message, /not assignable to type 'number'/)
  assert.ok(broken.checked < first.checked, `${broken.checked} files checked again of ${first.checked}`)

  fs.writeFileSync(path.join(root, 'node/m3.ts'), 'export const v3: number = 3\n')
  assert.deepStrictEqual((await checker.check(() => false)).diagnostics, [])
})

test('a newer request cancels a running check between two files; the next check still sees everything', async () => {
  const ts = require(path.join(ours, 'typescript'))
  const root = tempApp({
    'node/tsconfig.json': TSCONFIG,
    'node/a.ts': 'export const a: string = 1\n',
    'node/b.ts': 'export const b = 2\n',
  })
  const checker = new Checker(ts, root, ours)
  assert.deepStrictEqual(await checker.check(() => true), { cancelled: true })
  const done = await checker.check(() => false)
  assert.deepStrictEqual(
    done.diagnostics.map((d) => d.code),
    [2322],
  )
})

test('a broken tsconfig is a positioned diagnostic, and no check runs', async () => {
  const ts = require(path.join(ours, 'typescript'))
  const root = tempApp({
    'node/tsconfig.json': '{\n  "compilerOptions": {\n    "strict": true,,\n  }\n}\n',
    'node/a.ts': '',
  })
  const result = await new Checker(ts, root, ours).check(() => false)
  assert.equal(result.diagnostics.length, 1)
  const [d] = result.diagnostics
  assert.deepStrictEqual([d.file, d.line], [path.join('node', 'tsconfig.json'), 3])
})

test('without a tsconfig, @vtex/tsconfig and the real @vtex/api declarations resolve from the pinned set', async () => {
  const ts = require(path.join(ours, 'typescript'))
  const root = tempApp({
    'node/index.ts':
      "import { Service, ServiceContext } from '@vtex/api'\n" +
      'export async function h(ctx: ServiceContext) {\n  ctx.status = 200\n  ctx.body = ctx.vtex.account\n}\n' +
      'export default new Service({ routes: {} })\n' +
      "const n: number = ctx2()\nfunction ctx2(): string { return 'x' }\nexport { n }\n",
  })
  const result = await new Checker(ts, root, ours).check(() => false)
  assert.match(result.notes[0], /no node\/tsconfig.json/)
  assert.deepStrictEqual(
    result.diagnostics.map((d) => [d.line, d.code]),
    [[7, 2322]],
    JSON.stringify(result.diagnostics),
  )
})

// TypeScript 3.9 asserts when a builder is made from one cancelled halfway through its
// affected files, or when one program is the old program of two: checks after a cancelled
// one must still work, and see every change.
test('checks after one cancelled halfway through its files still run and see every change', async () => {
  const ts = require(path.join(ours, 'typescript'))
  const files = {}
  for (let i = 0; i < 10; i++) files[`node/m${i}.ts`] = `export const v${i}: number = ${i}\n`
  const lib = 'export interface Shape { n: number }\nexport const shape: Shape = { n: 1 }\n'
  const root = tempApp({ 'node/tsconfig.json': TSCONFIG, 'node/shape.ts': lib, ...files })
  for (let i = 0; i < 10; i++)
    fs.appendFileSync(path.join(root, `node/m${i}.ts`), "import { shape } from './shape'\nexport const s = shape.n\n")
  const checker = new Checker(ts, root, ours)
  await checker.check(() => false)
  // A change every file depends on, then a check stopped after its first affected file.
  fs.writeFileSync(path.join(root, 'node/shape.ts'), lib.replace('n: number', 'n: string').replace('n: 1', "n: '1'"))
  let asked = 0
  assert.deepStrictEqual(await checker.check(() => asked++ > 1), { cancelled: true })
  fs.writeFileSync(path.join(root, 'node/m4.ts'), "export const v4: number = 'x'\n")
  const after = await checker.check(() => false)
  assert.deepStrictEqual(
    after.diagnostics.map((d) => [d.file, d.code]),
    [[path.join('node', 'm4.ts'), 2322]],
  )
  fs.writeFileSync(path.join(root, 'node/m4.ts'), 'export const v4: number = 4\n')
  assert.deepStrictEqual((await checker.check(() => false)).diagnostics, [])
})
