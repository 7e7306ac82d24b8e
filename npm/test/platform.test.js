'use strict'
// The launcher's choice of platform package (npm/ioctl/lib/platform.js) for each machine.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { linuxLibc, targetFor, packageName, missingMessage } = require('../ioctl/lib/platform')

const targets = require(path.join(__dirname, '..', 'targets.json'))

test('each built target is found by its own platform, arch and libc', () => {
  for (const t of targets.targets) {
    const found = targetFor(targets, t.os, t.cpu, t.os === 'linux' ? t.libc : null)
    assert.equal(found, t)
    assert.match(packageName(targets, found), /^@ioctl-cli\/ioctl-(linux|darwin)-(x64|arm64)(-gnu|-musl)?$/)
  }
})

test('glibc and musl machines get different packages', () => {
  assert.equal(targetFor(targets, 'linux', 'x64', 'glibc').key, 'linux-x64-gnu')
  assert.equal(targetFor(targets, 'linux', 'x64', 'musl').key, 'linux-x64-musl')
  assert.equal(linuxLibc({ header: { glibcVersionRuntime: '2.36' } }), 'glibc')
  assert.equal(linuxLibc({ header: {} }), 'musl')
})

test('a machine without a package is told which exist and how to build from source', () => {
  assert.equal(targetFor(targets, 'win32', 'x64', null), null)
  const windows = missingMessage(targets, 'win32', 'x64', null, null)
  assert.match(windows, /no prebuilt binary for win32 x64/)
  assert.match(windows, /WSL 2/)
  assert.match(missingMessage(targets, 'freebsd', 'x64', null, null), /cargo install --locked/)
})

test('a missing optional package names itself and how to install it', () => {
  const t = targetFor(targets, 'linux', 'arm64', 'glibc')
  const text = missingMessage(targets, 'linux', 'arm64', 'glibc', t)
  assert.match(text, /linux arm64 \(glibc\)/)
  assert.match(text, /npm install @ioctl-cli\/ioctl-linux-arm64-gnu/)
})
