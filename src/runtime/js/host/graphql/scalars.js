'use strict'
// VTEX's own scalars: IOSanitizedString (a string with unsafe HTML removed) and the upload
// scalars (IOUpload, Upload), which ioctl does not serve locally yet; and the sanitizer the
// @sanitize directive shares.

const packages = require('../../packages')

const { GraphQLScalarType, Kind } = packages.load('graphql')

/** Elements whose content is code or embeds something: removed with what they hold. */
const UNSAFE_ELEMENTS = /<(script|style|iframe|object|embed|template|noscript)\b[^>]*>[\s\S]*?<\/\1\s*>/gi
/** Their opening tags alone (unclosed), and other tags that load or run something. */
const UNSAFE_TAGS = /<\/?(script|style|iframe|object|embed|template|noscript|link|meta|base|form)\b[^>]*>/gi
/** on*="..." handlers and javascript:/vbscript:/data: URLs inside the tags that stay. */
const EVENT_ATTRIBUTES = /\s+on[a-z]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)/gi
const SCRIPT_URLS =
  /(\s(?:href|src|action|formaction|xlink:href)\s*=\s*)(["']?)\s*(?:javascript|vbscript|data):[^"'\s>]*\2/gi
const ANY_TAG = /<\/?[a-z!][^>]*>/gi

/**
 * Unsafe HTML removed from `value`: scripts, embeds, event handlers and script URLs always;
 * every other tag too unless `allowHTMLTags` (then safe markup stays). Not a string: unchanged.
 */
function sanitize(value, { allowHTMLTags = false } = {}) {
  if (typeof value !== 'string') return value
  let out = value.replace(UNSAFE_ELEMENTS, '').replace(UNSAFE_TAGS, '')
  if (!allowHTMLTags) return out.replace(ANY_TAG, '')
  out = out.replace(EVENT_ATTRIBUTES, '').replace(SCRIPT_URLS, '$1$2#$2')
  return out
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
