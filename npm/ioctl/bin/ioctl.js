#!/usr/bin/env node
'use strict'
// The `ioctl` command of the npm package: finds this machine's platform package (an optional
// dependency npm installed beside this one, found with require.resolve) and runs its binary
// with the same arguments, standard streams and exit code. The package sets ioctl's first link
// would install with npm travel in the platform package (packages/): IOCTL_PACKAGES points the
// binary at them, so that link needs no network.

const { spawn } = require('node:child_process')
const path = require('node:path')
const { loadTargets, linuxLibc, targetFor, packageName, missingMessage } = require('../lib/platform')

function main() {
  const targets = loadTargets()
  const libc = process.platform === 'linux' ? linuxLibc(process.report.getReport()) : null
  const target = targetFor(targets, process.platform, process.arch, libc)
  let dir = null
  if (target) {
    try {
      dir = path.dirname(require.resolve(`${packageName(targets, target)}/package.json`))
    } catch {
      dir = null
    }
  }
  if (!dir) {
    process.stderr.write(`${missingMessage(targets, process.platform, process.arch, libc, target)}\n`)
    process.exit(1)
  }
  const env = { ...process.env }
  if (!env.IOCTL_PACKAGES) env.IOCTL_PACKAGES = path.join(dir, 'packages')
  const child = spawn(path.join(dir, 'bin', 'ioctl'), process.argv.slice(2), { stdio: 'inherit', env })
  // Ctrl-C reaches ioctl from the terminal itself (the whole foreground group gets it): the
  // launcher waits for ioctl to end rather than dying first. Signals sent to the launcher
  // alone (a process manager's SIGTERM) are passed on.
  process.on('SIGINT', () => {})
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGQUIT']) {
    process.on(signal, () => child.kill(signal))
  }
  child.on('error', (err) => {
    process.stderr.write(`ioctl: cannot run ${path.join(dir, 'bin', 'ioctl')}: ${err.message}\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    if (signal) {
      // End the way ioctl ended, so a shell sees the same status.
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
      return
    }
    process.exit(code == null ? 1 : code)
  })
}

main()
