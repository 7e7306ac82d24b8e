// The vendored Preact + htm (vendor/htm-preact.js) must be the exact file of the pinned npm
// package (htm@3.1.1's preact/standalone.module.js, root package.json): an update is
// `npm install --save-dev --save-exact htm@X` then copying that file over the vendored one.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const root = here('../../../../../')

test('vendor/htm-preact.js is htm/preact/standalone.module.js of the pinned htm', () => {
  const pinned = JSON.parse(readFileSync(root + 'package.json', 'utf8')).devDependencies.htm
  const installed = JSON.parse(readFileSync(root + 'node_modules/htm/package.json', 'utf8')).version
  assert.equal(installed, pinned, 'node_modules has another htm than package.json pins: run npm ci')
  const upstream = readFileSync(root + 'node_modules/htm/preact/standalone.module.js', 'utf8')
  const vendored = readFileSync(here('../vendor/htm-preact.js'), 'utf8')
  assert.ok(
    vendored === upstream,
    'src/session/dashboard/web/vendor/htm-preact.js differs from node_modules/htm/preact/standalone.module.js: ' +
      'copy it over (cp node_modules/htm/preact/standalone.module.js src/session/dashboard/web/vendor/htm-preact.js)',
  )
})

test('the vendored file exports what the pages import', async () => {
  const preact = await import('../vendor/htm-preact.js')
  for (const name of ['html', 'render', 'useState', 'useEffect', 'useRef', 'useMemo', 'useCallback']) {
    assert.equal(typeof preact[name], 'function', `vendor/htm-preact.js exports no ${name}`)
  }
})
