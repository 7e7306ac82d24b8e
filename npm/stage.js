'use strict'
// Writes the package.json files of the npm packages being packed (npm/pack.sh runs it):
// node npm/stage.js LAUNCHER_DIR PLATFORM_DIR TARGET_KEY VERSION
// The launcher gets the version and one optional dependency per target (all at the same
// version); the platform package gets its name, `os`, `cpu` and, on Linux, `libc`, so npm
// installs only the one that fits a machine.

const fs = require('node:fs')
const path = require('node:path')

function main() {
  const [launcherDir, platformDir, key, version] = process.argv.slice(2)
  if (!version) throw new Error('usage: node npm/stage.js LAUNCHER_DIR PLATFORM_DIR TARGET_KEY VERSION')
  const targets = require(path.join(__dirname, 'targets.json'))
  const target = targets.targets.find((t) => t.key === key)
  if (!target) throw new Error(`no target ${key} in npm/targets.json`)
  const name = (t) => `${targets.scope}/ioctl-${t.key}`

  const launcher = JSON.parse(fs.readFileSync(path.join(__dirname, 'ioctl', 'package.json'), 'utf8'))
  launcher.version = version
  launcher.optionalDependencies = Object.fromEntries(targets.targets.map((t) => [name(t), version]))
  fs.writeFileSync(path.join(launcherDir, 'package.json'), `${JSON.stringify(launcher, null, 2)}\n`)

  const platform = {
    name: name(target),
    version,
    description: `The ioctl binary for ${key}, with the Node packages its first link needs (see ${targets.scope}/ioctl)`,
    license: launcher.license,
    os: [target.os],
    cpu: [target.cpu],
    ...(target.libc ? { libc: [target.libc] } : {}),
    files: ['bin', 'packages', 'README.md'],
    preferUnplugged: true,
  }
  fs.writeFileSync(path.join(platformDir, 'package.json'), `${JSON.stringify(platform, null, 2)}\n`)
}

main()
