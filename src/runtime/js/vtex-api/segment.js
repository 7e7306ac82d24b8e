'use strict'
// ctx.clients.segment (@vtex/api's Segment): the shopper's segment (trade policy, currency,
// locale, region) from VTEX's segment API through the Janus gateway. Locally ioctl answers it
// from the workspace's platform settings, across the boundary:
//   GET http://portal.vtexcommercestable.com.br/api/segments[/{token}]?an={account}[&{utm*,
//       cultureInfo, supportedLocales, __bindingId query}]&session_path={product}&workspace={workspace}
// with `Content-Type: application/json` and `x-vtex-product: {product}`; a new segment's token
// comes back in a `vtex_segment` Set-Cookie.

const { JanusClient } = require('./clients')

/** The query parameters VTEX's segment API reads, in key order (@vtex/api sends only these). */
const QUERY_PREFIXES = ['utm', 'cultureInfo', 'supportedLocales', '__bindingId']

function segmentQuery(query) {
  if (!query) return {}
  const keys = Object.keys(query)
    .filter((key) => key && QUERY_PREFIXES.some((prefix) => key.startsWith(prefix)))
    .sort()
  return Object.fromEntries(keys.map((key) => [key, query[key]]))
}

/** The value of cookie `name` among Set-Cookie header values (an array, or one string). */
function setCookieValue(headers, name) {
  const values = (headers && headers['set-cookie']) || []
  for (const line of Array.isArray(values) ? values : [values]) {
    const match = new RegExp(`(?:^|;\\s*)${name}=([^;]*)`).exec(String(line))
    if (match) return decodeURIComponent(match[1])
  }
  return null
}

class Segment extends JanusClient {
  /** The segment of the request (ctx.vtex.segmentToken), or a new default one without it. */
  getSegment() {
    return this.rawSegment(this.context && this.context.segmentToken).then((res) => res.data)
  }

  /** The segment a token names. */
  getSegmentByToken(token) {
    return this.rawSegment(token).then((res) => res.data)
  }

  /** -> {segmentData, segmentToken}: the token from the answer's `vtex_segment` cookie. */
  async getOrCreateSegment(query, token) {
    const { data, headers } = await this.rawSegment(token, query)
    return { segmentData: data, segmentToken: setCookieValue(headers, 'vtex_segment') }
  }

  /** The raw answer (data and headers) for `token` (none: a new segment) and the shopper's query. */
  rawSegment(token, query) {
    const { product, workspace } = this.context || {}
    return this.http.getRaw(token ? `/api/segments/${token}` : '/api/segments', {
      headers: { 'Content-Type': 'application/json', 'x-vtex-product': product || '' },
      params: { ...segmentQuery(query), session_path: product || '', workspace },
    })
  }
}

module.exports = { Segment, setCookieValue }
