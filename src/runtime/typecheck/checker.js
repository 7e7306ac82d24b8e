// The type checker's process: one per linked app, started by the session after the app's first
// good build and kept for the link. Reads `{"type":"check","id":N}` lines on stdin, answers each
// with `done` (the diagnostics) or `cancelled` (a newer request came first) on stdout, one JSON
// object a line. Its config (app root, TypeScript to use, the pinned set) is argv[2], as JSON.
'use strict'

const fs = require('fs')
const path = require('path')
const readline = require('readline')
const { Checker } = require('./check')

// The app's own TypeScript (node/node_modules/typescript) when it has one, else the builder's.
function loadTypeScript(appRoot, builderTs) {
  const own = path.join(appRoot, 'node', 'node_modules', 'typescript')
  if (fs.existsSync(path.join(own, 'package.json'))) {
    return { ts: require(own), own: true }
  }
  return { ts: require(builderTs), own: false }
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n')
}

function main() {
  const config = JSON.parse(process.argv[2])
  let loaded
  try {
    loaded = loadTypeScript(config.app_root, config.typescript)
  } catch (e) {
    send({ type: 'fatal', message: `cannot load TypeScript: ${e.message}` })
    process.exit(1)
  }
  const checker = new Checker(loaded.ts, config.app_root, config.modules)
  send({ type: 'ready', typescript: loaded.ts.version, own: loaded.own })

  // The newest request not yet started; a running check stops when another arrives.
  let pending = null
  let running = false
  const run = async () => {
    running = true
    while (pending !== null) {
      const id = pending
      pending = null
      try {
        const result = await checker.check(() => pending !== null)
        send(result.cancelled ? { type: 'cancelled', id } : { type: 'done', id, ...result })
      } catch (e) {
        send({ type: 'failed', id, message: e && e.stack ? e.stack : String(e) })
      }
    }
    running = false
  }
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    let request
    try {
      request = JSON.parse(line)
    } catch {
      return send({ type: 'failed', id: null, message: `not JSON: ${line.slice(0, 80)}` })
    }
    if (request.type !== 'check') return
    pending = request.id
    if (!running) run()
  })
  // The session closed our stdin (the link ended, or the session went): nothing left to do.
  lines.on('close', () => process.exit(0))
}

if (require.main === module) main()

module.exports = { loadTypeScript }
