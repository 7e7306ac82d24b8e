'use strict'
// Who made a request to one of the app's routes, on ctx.vtex as @vtex/api 6.51.3 sets it (its
// authTokens and context middlewares): `adminUserAuthToken` from the `VtexIdclientAutCookie`
// cookie, `storeUserAuthToken` from `VtexIdclientAutCookie_{account}`, `janusEnv` from
// `vtex-commerce-env`, `segmentToken` and `sessionToken` from the `x-vtex-segment` and
// `x-vtex-session` headers; each undefined when the request lacks it, as on VTEX. The session
// decides who the request is and passes the local user's tokens (never its own control token):
// an admin's as the `VtexIdclientAutCookie` header (VTEX's @auth reads it there too, so the
// header counts as the cookie does), a shopper's as the account's cookie, and the session
// service's namespaces as `x-ioctl-session-data` (base64 JSON), which become
// `ctx.vtex.sessionData`.

const ADMIN_COOKIE = 'VtexIdclientAutCookie'

/** The session data ioctl passed (x-ioctl-session-data: base64 JSON); undefined without it. Throws when unreadable. */
function readSessionData(header) {
  if (header === undefined || header === '') return undefined
  const text = Buffer.from(String(header), 'base64').toString('utf8')
  return JSON.parse(text)
}

/**
 * Sets the identity fields of `vtex` (ctx.vtex) from the request: `cookies` (ctx.cookies),
 * `headers` (lower-case names) and the session data read from ioctl's header.
 */
function identify(vtex, { cookies, headers, sessionData }) {
  const cookie = (name) => (cookies && cookies.get(name)) || undefined
  const header = (name) => headers[name] || undefined
  vtex.adminUserAuthToken = cookie(ADMIN_COOKIE) || header(ADMIN_COOKIE.toLowerCase())
  vtex.storeUserAuthToken = cookie(`${ADMIN_COOKIE}_${vtex.account}`)
  vtex.janusEnv = cookie('vtex-commerce-env')
  vtex.segmentToken = header('x-vtex-segment')
  vtex.sessionToken = header('x-vtex-session')
  vtex.sessionData = sessionData
  return vtex
}

module.exports = { identify, readSessionData, ADMIN_COOKIE }
