// Checks JSON text before it is sent and says where it is wrong as line:column. Browsers'
// JSON.parse messages differ (some give a position, some not), so a small strict scanner finds
// the first error itself; JSON.parse then builds the value of text the scanner accepted.

/**
 * @returns {{ok: true, value: any} | {ok: false, message: string, line: number, column: number, offset: number}}
 *   line and column count from 1; column counts UTF-16 code units, as editors' textareas do.
 */
export function checkJson(text) {
  const scanner = new Scanner(String(text))
  try {
    scanner.skipSpace()
    if (scanner.i >= scanner.s.length) scanner.fail('empty: expected a JSON value')
    scanner.value(0)
    scanner.skipSpace()
    if (scanner.i < scanner.s.length) scanner.fail(`unexpected ${describe(scanner.s[scanner.i])} after the JSON value`)
  } catch (e) {
    if (!(e instanceof JsonError)) throw e
    return { ok: false, message: e.message, offset: e.offset, ...lineColumn(text, e.offset) }
  }
  return { ok: true, value: JSON.parse(text) }
}

/** The 1-based line and column of a character offset. */
export function lineColumn(text, offset) {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

class JsonError extends Error {
  constructor(message, offset) {
    super(message)
    this.offset = offset
  }
}

const MAX_DEPTH = 512

class Scanner {
  constructor(s) {
    this.s = s
    this.i = 0
  }

  fail(message, at = this.i) {
    throw new JsonError(message, at)
  }

  skipSpace() {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i])) this.i++
  }

  expectEnd(what) {
    if (this.i >= this.s.length) this.fail(`unexpected end of text: expected ${what}`)
  }

  value(depth) {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`)
    this.expectEnd('a value')
    const c = this.s[this.i]
    if (c === '{') return this.object(depth)
    if (c === '[') return this.array(depth)
    if (c === '"') return this.string()
    if (c === '-' || (c >= '0' && c <= '9')) return this.number()
    for (const word of ['true', 'false', 'null']) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length
        return
      }
    }
    if (c === "'") this.fail('strings take double quotes (") in JSON')
    this.fail(`unexpected ${describe(c)}: expected a value`)
  }

  object(depth) {
    this.i++
    this.skipSpace()
    if (this.s[this.i] === '}') {
      this.i++
      return
    }
    for (;;) {
      this.skipSpace()
      this.expectEnd('a "key" or }')
      if (this.s[this.i] === '}') this.fail('trailing comma before }', this.i)
      if (this.s[this.i] !== '"') this.fail(`unexpected ${describe(this.s[this.i])}: expected a "key" in double quotes`)
      this.string()
      this.skipSpace()
      this.expectEnd(':')
      if (this.s[this.i] !== ':') this.fail(`unexpected ${describe(this.s[this.i])}: expected : after the key`)
      this.i++
      this.skipSpace()
      this.value(depth + 1)
      this.skipSpace()
      this.expectEnd(', or }')
      const c = this.s[this.i]
      this.i++
      if (c === '}') return
      if (c !== ',') this.fail(`unexpected ${describe(c)}: expected , or }`, this.i - 1)
    }
  }

  array(depth) {
    this.i++
    this.skipSpace()
    if (this.s[this.i] === ']') {
      this.i++
      return
    }
    for (;;) {
      this.skipSpace()
      this.expectEnd('a value or ]')
      if (this.s[this.i] === ']') this.fail('trailing comma before ]', this.i)
      this.value(depth + 1)
      this.skipSpace()
      this.expectEnd(', or ]')
      const c = this.s[this.i]
      this.i++
      if (c === ']') return
      if (c !== ',') this.fail(`unexpected ${describe(c)}: expected , or ]`, this.i - 1)
    }
  }

  string() {
    const start = this.i
    this.i++
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string', start)
      const c = this.s[this.i]
      if (c === '"') {
        this.i++
        return
      }
      if (c === '\\') {
        const e = this.s[this.i + 1]
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6)))
            this.fail('bad \\u escape: expected 4 hex digits')
          this.i += 6
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          this.i += 2
        } else {
          this.fail(`bad escape \\${e ?? ''}`)
        }
        continue
      }
      if (c < ' ')
        this.fail(c === '\n' ? 'unterminated string (a line break inside it)' : 'control character in a string')
      this.i++
    }
  }

  number() {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400))
    if (!m) this.fail('bad number')
    this.i += m[0].length
    const next = this.s[this.i]
    if (next !== undefined && /[0-9.eE]/.test(next)) this.fail('bad number')
  }
}

function describe(c) {
  if (c === '\n') return 'line break'
  if (c === undefined) return 'end of text'
  return `'${c}'`
}
