'use strict'
// Unit tests of @sanitize and IOSanitizedString (js-xss, as VTEX's runtime): known XSS vectors
// (OWASP's cheat sheet classics, entity-encoded and whitespace-split script URLs, event
// handlers, <svg>/<math>, style expressions, nested tags) leave nothing that runs, with and
// without allowHTMLTags; benign markup survives allowHTMLTags; the GraphQL paths (the directive
// on an argument and on an input field, the scalar) sanitize the same way.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { buildSchema, graphql } = require('../host/graphql/schema')
const { sanitize } = require('../host/graphql/scalars')

const VECTORS = [
  '<img/onerror=alert(1) src=x>',
  '<svg/onload=alert(1)>',
  '<a href="&#106;avascript:alert(1)">x</a>',
  '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<a href="jav\tascript:alert(1)">x</a>',
  '<a href="java\0script:alert(1)">x</a>',
  '<a href="javascript&colon;alert(1)">x</a>',
  "<IMG SRC=JaVaScRiPt:alert('XSS')>",
  '<IMG SRC="jav&#x0A;ascript:alert(\'XSS\');">',
  '<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>',
  '<a href="  javascript:alert(1)">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<body onload=alert(1)>',
  '<img src="x" onerror  =  "alert(1)">',
  '<img src=x onerror=alert(1)//',
  '<iframe src=javascript:alert(1)></iframe>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="javascript:alert(1)">',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<div style="width: expression(alert(1))">x</div>',
  '<div style="background:url(javascript:alert(1))">x</div>',
  "<style>@import 'javascript:alert(1)';</style>",
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '<svg><script>alert(1)</script></svg>',
  '<img """><script>alert("XSS")</script>">',
]

/** `text` with HTML character references decoded (with or without `;`), as a browser reads an attribute. */
function decodeEntities(text) {
  const named = { colon: ':', tab: '\t', newline: '\n', lpar: '(', rpar: ')', quot: '"', apos: "'", lt: '<', gt: '>' }
  return text
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);?/g, (_, dec) => String.fromCodePoint(Number(dec)))
    .replace(/&([a-z]+);/gi, (whole, name) => named[name.toLowerCase()] ?? whole)
    .replace(/&amp;/gi, '&')
}

/** Fails unless `out` (the sanitized `input`) holds nothing a browser would run. */
function assertSafe(out, input) {
  const why = `${JSON.stringify(input)} gave ${JSON.stringify(out)}`
  assert.doesNotMatch(out, /<\s*\/?\s*(script|style|iframe|object|embed|svg|math|body)\b/i, why)
  assert.doesNotMatch(out, /\bon\w+\s*=/i, why)
  // Browsers drop whitespace and control characters inside a URL's scheme.
  const url = decodeEntities(out).replace(/[\0-\x20\x7f]/g, '')
  assert.doesNotMatch(url, /(javascript|vbscript|livescript):/i, why)
  assert.doesNotMatch(url, /data:text/i, why)
  assert.doesNotMatch(url, /expression\(/i, why)
}

test('known XSS vectors leave nothing that runs, with and without allowHTMLTags', () => {
  for (const input of VECTORS) {
    assertSafe(sanitize(input), input)
    assertSafe(sanitize(input, { allowHTMLTags: true }), input)
  }
  // A tag left open in an unclosed quote is text, its `<` escaped: nothing after it (the page's
  // own markup) can close it into an <img onerror>.
  for (const options of [{}, { allowHTMLTags: true }]) {
    assert.equal(sanitize('<img src=x onerror="alert(1)//', options), '&lt;img src=x onerror="alert(1)//')
    assert.equal(sanitize('<scr<script>ipt>alert(1)</scr</script>ipt>', options), '&lt;script>')
  }
})

test('without allowHTMLTags every tag goes and the text stays; script and style bodies go too', () => {
  assert.equal(sanitize('<b>hi</b><script>alert(1)</script>'), 'hi')
  assert.equal(sanitize('<p>a <i>b</i></p><style>p { color: red }</style>'), 'a b')
  assert.equal(sanitize('plain text, & ampersands, 1 > 0'), 'plain text, & ampersands, 1 > 0')
  // An unclosed <script> keeps js-xss's marker, and what follows stays as text.
  assert.equal(sanitize('<script>alert(1)'), '[removed]alert(1)')
  assert.equal(sanitize(42), 42)
  assert.equal(sanitize(null), null)
})

test('allowHTMLTags keeps safe markup and drops handlers and script URLs', () => {
  const benign = '<b>bold</b> <a href="https://x" title="t">link</a> <img src="/i.png" alt="i">'
  assert.equal(sanitize(benign, { allowHTMLTags: true }), benign)
  assert.equal(sanitize('<a href="https://x">link</a>', { allowHTMLTags: true }), '<a href="https://x">link</a>')
  assert.equal(sanitize('<p onclick="y()">p</p>', { allowHTMLTags: true }), '<p>p</p>')
  assert.equal(sanitize(benign), 'bold link ')
})

test('stripIgnoreTag: false escapes the tags it does not keep, as VTEX does', () => {
  assert.equal(sanitize('<script>x</script>', { stripIgnoreTag: false }), '&lt;script&gt;x&lt;/script&gt;')
})

/** An app folder with these graphql/ files. */
function appWith(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-sanitize-'))
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    fs.writeFileSync(path.join(root, name), text)
  }
  return root
}

test('@sanitize on arguments and input fields, and IOSanitizedString, sanitize the same way', async () => {
  const schema = buildSchema(
    appWith({
      'graphql/schema.graphql': `
type Query {
  plain(text: String @sanitize): String
  rich(html: String @sanitize(allowHTMLTags: true)): String
  many(texts: [String] @sanitize): [String]
  scalar(text: IOSanitizedString): String
  post(input: PostInput): String
}
input PostInput { body: String @sanitize }
`,
    }),
    {
      resolvers: {
        Query: {
          plain: (_root, { text }) => text,
          rich: (_root, { html }) => html,
          many: (_root, { texts }) => texts,
          scalar: (_root, { text }) => text,
          post: (_root, { input }) => input.body,
        },
      },
    },
    () => {},
  )
  const query = `query($v: String, $s: IOSanitizedString, $vs: [String], $p: PostInput) {
    plain(text: $v) rich(html: $v) many(texts: $vs) scalar(text: $s) post(input: $p)
  }`
  for (const v of [...VECTORS, '<b>bold</b> <a href="https://x">link</a>']) {
    const res = await graphql.graphql(schema, query, null, {}, { v, s: v, vs: [v, v], p: { body: v } })
    assert.equal(res.errors, undefined)
    const { plain, rich, many, scalar, post } = res.data
    for (const out of [plain, rich, ...many, scalar, post]) assertSafe(out, v)
    assert.equal(plain, sanitize(v))
    assert.equal(rich, sanitize(v, { allowHTMLTags: true }))
    assert.deepEqual(many, [sanitize(v), sanitize(v)])
    assert.equal(scalar, sanitize(v))
    assert.equal(post, sanitize(v))
  }
  const res = await graphql.graphql(schema, '{ rich(html: "<b>x</b><svg/onload=alert(1)>") }')
  assert.equal(res.data.rich, '<b>x</b>')
})
