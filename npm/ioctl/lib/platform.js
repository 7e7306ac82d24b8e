'use strict'
// Which of ioctl's platform packages fits this machine: `@ioctl-cli/ioctl-<os>-<cpu>[-<libc>]`,
// as listed in npm/targets.json (the launcher's copy: targets.json beside this file). Pure, so
// the launcher's choice is unit-tested for every platform (npm/test/).

const path = require('node:path')

/** The targets the packages are built for (npm/targets.json, copied in by npm/pack.sh). */
function loadTargets() {
  return require(path.join(__dirname, '..', 'targets.json'))
}

/**
 * The C library of a Linux machine: `glibc` when Node's own report names a glibc version
 * (Node built against glibc), else `musl` (Alpine and other musl distributions).
 */
function linuxLibc(report) {
  const header = report && report.header
  return header && header.glibcVersionRuntime ? 'glibc' : 'musl'
}

/**
 * The target for `platform`/`arch` (process.platform and process.arch) and, on Linux, `libc`;
 * null when no package is built for it.
 */
function targetFor(targets, platform, arch, libc) {
  return (
    targets.targets.find((t) => t.os === platform && t.cpu === arch && (platform !== 'linux' || t.libc === libc)) ||
    null
  )
}

/** The npm package name of a target. */
function packageName(targets, target) {
  return `${targets.scope}/ioctl-${target.key}`
}

/** What to tell a user whose machine has no package (or whose package is not installed). */
function missingMessage(targets, platform, arch, libc, target) {
  const machine = platform === 'linux' ? `${platform} ${arch} (${libc})` : `${platform} ${arch}`
  if (!target) {
    const built = targets.targets.map((t) => t.key).join(', ')
    return (
      `ioctl: no prebuilt binary for ${machine}; packages are built for ${built}.\n` +
      (platform === 'win32'
        ? 'ioctl needs a Unix system (unix sockets, POSIX signals and file modes): use WSL 2.\n'
        : '') +
      'Build it from source instead: cargo install --locked --git <ioctl repository> (needs Rust).'
    )
  }
  const name = packageName(targets, target)
  return (
    `ioctl: the package for ${machine}, ${name}, is not installed.\n` +
    `npm installs it as an optional dependency of ${targets.scope}/ioctl: reinstall without ` +
    `--no-optional / --omit=optional, or install it yourself: npm install ${name}`
  )
}

module.exports = { loadTargets, linuxLibc, targetFor, packageName, missingMessage }
