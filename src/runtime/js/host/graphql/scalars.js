'use strict'
// VTEX's own scalars: IOSanitizedString (a string with unsafe HTML removed, by js-xss as on
// VTEX) and the upload scalars (IOUpload, Upload), which ioctl does not serve locally yet; and
// the sanitizer the @sanitize directive shares.

const packages = require('../../packages')

const { GraphQLScalarType, Kind } = packages.load('graphql')
const { FilterXSS } = packages.load('xss')

// VTEX's runtime (@vtex/api 6.51.3, which depends on xss ^1.0.6: lib/service/worker/runtime/
// graphql/schema/typeDefs/sanitizedString.js and schemaDirectives/Sanitize.js) runs
// IOSanitizedString and @sanitize(allowHTMLTags, stripIgnoreTag) on xss's filterXSS with
// { stripIgnoreTag (default true), whiteList: [] unless allowHTMLTags (then xss's default
// whitelist), escapeHtml: a no-op when stripIgnoreTag }. Two deliberate differences here: a `<`
// left in the text becomes `&lt;` (with the no-op, a tag split around a stripped one,
// `<scr<script>ipt>`, comes out whole as `<script>`, and one left open in an unclosed quote
// comes out raw for the page's own markup to close); and the bodies of <script> and <style> go
// with their tags (VTEX keeps them as text; an unclosed one leaves xss's `[removed]` marker).

/** Text's `<` as an entity: no tag can be put back together from what is left. */
function escapeLessThan(text) {
  return text.replace(/</g, '&lt;')
}

/** The FilterXSS of each option set, built once. */
const filters = new Map()

function filterFor(allowHTMLTags, stripIgnoreTag) {
  const key = `${allowHTMLTags}/${stripIgnoreTag}`
  let filter = filters.get(key)
  if (!filter) {
    filter = new FilterXSS({
      ...(allowHTMLTags ? {} : { whiteList: {} }),
      stripIgnoreTag,
      ...(stripIgnoreTag ? { stripIgnoreTagBody: ['script', 'style'], escapeHtml: escapeLessThan } : {}),
    })
    filters.set(key, filter)
  }
  return filter
}

/**
 * `value` filtered by js-xss: only whitelisted tags and attributes stay (none unless
 * `allowHTMLTags`), URLs only with safe schemes (entities and blanks decoded first), the others
 * removed (escaped with `stripIgnoreTag: false`), <script>/<style> with their content. Not a
 * string: unchanged.
 */
function sanitize(value, { allowHTMLTags = false, stripIgnoreTag = true } = {}) {
  if (typeof value !== 'string') return value
  return filterFor(Boolean(allowHTMLTags), stripIgnoreTag !== false).process(value)
}

const sanitizedString = new GraphQLScalarType({
  name: 'IOSanitizedString',
  description: 'A string with unsafe HTML removed (VTEX IO)',
  serialize: (value) => sanitize(value),
  parseValue: (value) => sanitize(value),
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? sanitize(ast.value) : undefined),
})

/** Why an upload cannot be read locally; also what a multipart request is answered. */
const UPLOADS_NOT_SUPPORTED =
  'GraphQL file uploads (the Upload scalar, multipart/form-data requests) are not supported by ioctl locally yet'

function notSupportedUpload(name) {
  const fail = () => {
    throw new TypeError(`${name}: ${UPLOADS_NOT_SUPPORTED}`)
  }
  return new GraphQLScalarType({ name, serialize: fail, parseValue: fail, parseLiteral: fail })
}

module.exports = { sanitize, sanitizedString, notSupportedUpload, UPLOADS_NOT_SUPPORTED }
