// The checker's view of the files: the app's own, with ioctl's pinned declarations standing in
// under node/node_modules wherever the app has not installed a package. So `@vtex/api`,
// `@types/node` or `extends: "@vtex/tsconfig"` resolve as if installed, the app's own copies
// win, and nothing is written into the app folder.
'use strict'

const fs = require('fs')
const path = require('path')

class Overlay {
  // appModules: the app's node/node_modules; ours: the pinned set's node_modules.
  constructor(appModules, ours) {
    this.appModules = appModules + path.sep
    this.ours = ours
    // Existence answers for paths under node_modules, kept for one check (an install between
    // checks is then seen); the app's own files are always asked afresh.
    this.known = new Map()
  }

  // A new check: forget what node_modules held.
  reset() {
    this.known.clear()
  }

  // The path to read for `p`: the app's file, else ours when `p` is under node/node_modules
  // and the app lacks it.
  resolve(p) {
    if (!p.startsWith(this.appModules)) return p
    let hit = this.known.get(p)
    if (hit === undefined) {
      const theirs = exists(p)
      const ours = path.join(this.ours, p.slice(this.appModules.length))
      hit = theirs || !exists(ours) ? p : ours
      this.known.set(p, hit)
    }
    return hit
  }

  fileExists(p) {
    return isFile(this.resolve(p))
  }

  directoryExists(p) {
    if (isDir(p)) return true
    return p.startsWith(this.appModules) || p + path.sep === this.appModules
      ? isDir(path.join(this.ours, p.slice(this.appModules.length)))
      : false
  }

  readFile(p) {
    try {
      return fs.readFileSync(this.resolve(p), 'utf8')
    } catch {
      return undefined
    }
  }

  // Subfolders of `p`: the app's and ours together (automatic @types inclusion lists them).
  getDirectories(p) {
    const names = new Set(subdirs(p))
    const inside = p + path.sep === this.appModules || p.startsWith(this.appModules)
    if (inside) {
      for (const d of subdirs(path.join(this.ours, p.slice(this.appModules.length)))) names.add(d)
    }
    return [...names]
  }

  stat(p) {
    try {
      return fs.statSync(this.resolve(p))
    } catch {
      return undefined
    }
  }
}

function exists(p) {
  try {
    fs.statSync(p)
    return true
  } catch {
    return false
  }
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

function isDir(p) {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

function subdirs(p) {
  try {
    return fs
      .readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
  } catch {
    return []
  }
}

module.exports = { Overlay }
