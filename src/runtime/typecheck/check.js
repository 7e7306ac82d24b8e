// One app's incremental type check: node/tsconfig.json read as TypeScript reads it (through the
// overlay, so `extends: "@vtex/tsconfig"` and the real @vtex/api declarations resolve), a
// SemanticDiagnosticsBuilderProgram kept from check to check (only the files a save affected
// are checked again), and a check that a newer request stops between two files.
'use strict'

const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const { Overlay } = require('./overlay')

// Used when the app has no node/tsconfig.json: VTEX's shared config with the template's
// Node.js settings (VTEX's node builder brings its own tsconfig, which is not published).
const DEFAULT_TSCONFIG = {
  extends: '@vtex/tsconfig',
  compilerOptions: { module: 'commonjs', target: 'es2019', lib: ['es2019'], types: ['node'] },
  include: ['./**/*.ts'],
  exclude: ['node_modules'],
}

// Options a check without output must not carry (they ask for files the builder keeps in memory).
const DROPPED_OPTIONS = ['incremental', 'composite', 'tsBuildInfoFile', 'declaration', 'declarationMap']

class Checker {
  // ts: the TypeScript module; appRoot: the app folder; ours: the pinned set's node_modules.
  constructor(ts, appRoot, ours) {
    this.ts = ts
    this.root = appRoot
    this.nodeDir = path.join(appRoot, 'node')
    this.overlay = new Overlay(path.join(this.nodeDir, 'node_modules'), ours)
    this.files = new Map()
    // The builder of the last check that ran to its end: the next check's results start from
    // its. A cancelled check's builder is dropped (TypeScript 3.9 fails an assertion when a
    // builder is made from one left halfway through its affected files).
    this.completed = undefined
    // The newest program: the next program reuses its structure and unchanged files (a
    // program can be the old program of one new program only).
    this.lastProgram = undefined
    this.optionsKey = ''
  }

  // Checks the app; `isStale()` says a newer request arrived (the check then stops between
  // two files and answers `{cancelled: true}`). Diagnostics are the app's own files' errors.
  async check(isStale) {
    const started = performance.now()
    this.overlay.reset()
    const config = this.config()
    if (config.fatal) return this.result(config.errors, started, 0, 0, config.notes)
    if (config.key !== this.optionsKey) {
      // Other options: nothing of the old program can be reused.
      this.optionsKey = config.key
      this.completed = undefined
      this.lastProgram = undefined
    }
    const host = this.host(config.options)
    const ts = this.ts
    const program = ts.createProgram({
      rootNames: config.fileNames,
      options: config.options,
      host,
      oldProgram: this.lastProgram,
      configFileParsingDiagnostics: config.errors,
    })
    this.lastProgram = program
    const b = ts.createSemanticDiagnosticsBuilderProgram(program, host, this.completed, config.errors)
    const found = [
      ...b.getConfigFileParsingDiagnostics(),
      ...b.getOptionsDiagnostics(),
      ...b.getGlobalDiagnostics(),
      ...b.getSyntacticDiagnostics(),
    ]
    let checked = 0
    for (;;) {
      if (isStale()) return { cancelled: true }
      if (!b.getSemanticDiagnosticsOfNextAffectedFile()) break
      checked += 1
      // Lets a newer request's line be read before the next file.
      await new Promise((resolve) => setImmediate(resolve))
    }
    found.push(...b.getSemanticDiagnostics())
    this.completed = b
    const own = b
      .getProgram()
      .getSourceFiles()
      .filter((f) => this.isOwn(f.fileName)).length
    return this.result(found, started, own, checked, config.notes)
  }

  // node/tsconfig.json (or the defaults) as TypeScript parses it: root files, options, the
  // config's own problems; `fatal` when it cannot be read at all.
  config() {
    const ts = this.ts
    const file = path.join(this.nodeDir, 'tsconfig.json')
    const notes = []
    let json
    if (fs.existsSync(file)) {
      const read = ts.readConfigFile(file, (p) => this.overlay.readFile(p))
      if (read.error) return { fatal: true, errors: [read.error], notes }
      json = read.config
    } else {
      notes.push("no node/tsconfig.json: checked with @vtex/tsconfig's options (module commonjs, target es2019)")
      json = DEFAULT_TSCONFIG
    }
    const parseHost = {
      useCaseSensitiveFileNames: true,
      readDirectory: ts.sys.readDirectory,
      fileExists: (p) => this.overlay.fileExists(p),
      readFile: (p) => this.overlay.readFile(p),
    }
    const parsed = ts.parseJsonConfigFileContent(json, parseHost, this.nodeDir, undefined, file)
    const options = { ...parsed.options, noEmit: true }
    for (const o of DROPPED_OPTIONS) delete options[o]
    const key = JSON.stringify(options, (k, v) => (k === 'configFile' ? undefined : v))
    return { fileNames: parsed.fileNames, options, errors: parsed.errors, notes, key }
  }

  // A compiler host over the overlay that keeps parsed files while their text is unchanged
  // (the builder compares their `version`, a hash of the text).
  host(options) {
    const ts = this.ts
    const host = ts.createCompilerHost(options, true)
    const overlay = this.overlay
    host.fileExists = (p) => overlay.fileExists(p)
    host.readFile = (p) => overlay.readFile(p)
    host.directoryExists = (p) => overlay.directoryExists(p)
    host.getDirectories = (p) => overlay.getDirectories(p)
    // The overlay's names are the ones to keep: resolving links would leave the app's folder.
    host.realpath = (p) => p
    host.getSourceFile = (fileName, languageVersion) => this.sourceFile(fileName, languageVersion)
    return host
  }

  sourceFile(fileName, languageVersion) {
    const stat = this.overlay.stat(fileName)
    if (!stat || !stat.isFile()) return undefined
    const key = `${stat.mtimeMs}:${stat.size}:${JSON.stringify(languageVersion)}`
    const cached = this.files.get(fileName)
    if (cached && cached.key === key) return cached.file
    const text = this.overlay.readFile(fileName)
    if (text === undefined) return undefined
    const version = crypto.createHash('sha1').update(text).digest('hex')
    if (cached && cached.file.version === version) {
      cached.key = key
      return cached.file
    }
    const file = this.ts.createSourceFile(fileName, text, languageVersion)
    file.version = version
    this.files.set(fileName, { key, file })
    return file
  }

  // Whether a file is the app's own (not a package's declarations, not TypeScript's lib).
  isOwn(fileName) {
    return fileName.startsWith(this.root + path.sep) && !fileName.split(/[\\/]/).includes('node_modules')
  }

  result(found, started, files, checked, notes) {
    const diagnostics = dedupe(found.map((d) => this.wire(d)).filter((d) => d.category === 'error'))
      .filter((d) => d.file === undefined || this.isOwn(d.file))
      .map((d) => (d.file === undefined ? d : { ...d, file: path.relative(this.root, d.file) }))
      .sort(byPlace)
    return { diagnostics, elapsed_ms: round(performance.now() - started), files, checked, notes }
  }

  // A diagnostic as the session reads it: file (absolute here), 1-based line and column.
  wire(d) {
    const ts = this.ts
    const out = {
      code: d.code,
      category: ts.DiagnosticCategory[d.category].toLowerCase(),
      message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    }
    if (d.file) {
      out.file = d.file.fileName
      const at = d.file.getLineAndCharacterOfPosition(d.start || 0)
      out.line = at.line + 1
      out.column = at.character + 1
    }
    return out
  }
}

function dedupe(list) {
  const seen = new Set()
  return list.filter((d) => {
    const key = `${d.file}:${d.line}:${d.column}:${d.code}:${d.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function byPlace(a, b) {
  return (
    (a.file || '').localeCompare(b.file || '') || (a.line || 0) - (b.line || 0) || (a.column || 0) - (b.column || 0)
  )
}

function round(ms) {
  return Math.round(ms * 10) / 10
}

module.exports = { Checker, DEFAULT_TSCONFIG }
