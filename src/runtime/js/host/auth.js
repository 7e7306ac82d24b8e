'use strict'
// VTEX's native `@auth` directive, locally: the field resolves only for a request that carries a
// user's token (`VtexIdclientAutCookie`, cookie or header, as VTEX's runtime reads it: the
// session passes the local admin's there for `ioctl graphql`, `--as admin` and the IDE) which
// VTEX ID validates for the linked account. Validation crosses ioctl's boundary like any VTEX
// call, so the session answers it for the local user (and a fixture or --cloud could):
//   POST http://vtexid.vtex.com.br/api/vtexid/credential/validate  {"token": TOKEN}
//   -> {authStatus: "Success", id, user, account, audience, tokenType}
// (@vtex/api 6.51.3's own @auth asks `GET .../api/vtexid/pub/authenticated/user?authToken=` and
// then license-manager for productCode/resourceCode; ioctl does not check those codes.)

const { AuthenticationError } = require('../vtex-api/errors')
const { ADMIN_COOKIE } = require('./identity')

let vtexId = null

/** The HttpClient of VTEX ID (made on first use: apps without @auth never load it). */
function vtexIdClient() {
  if (!vtexId) {
    const { HttpClient } = require('../vtex-api/http')
    vtexId = new HttpClient({ baseURL: 'http://vtexid.vtex.com.br/api/vtexid', name: '@auth' })
  }
  return vtexId
}

/** The user token of the request: the cookie, else the header (ctx.vtex.adminUserAuthToken). */
function userToken(ctx) {
  const cookie = ctx.cookies && ctx.cookies.get(ADMIN_COOKIE)
  return cookie || (ctx.get ? ctx.get(ADMIN_COOKIE) : '') || ''
}

/** Resolves when the request's user is authenticated for `where` (a field name); else AuthenticationError. */
async function authenticate(ctx, where) {
  const token = userToken(ctx)
  if (!token) {
    throw new AuthenticationError(
      `${where} is behind @auth: VtexIdclientAutCookie not found (ioctl graphql and the IDE send the local ` +
        "admin's; `ioctl graphql --as anonymous` sends none)",
    )
  }
  let user
  try {
    user = await vtexIdClient().post('/credential/validate', { token }, { headers: { Accept: 'application/json' } })
  } catch (err) {
    // VTEX ID refusing the token is "not authenticated"; anything else (nothing answers it, ioctl
    // could not ask: EIOCTL) says why.
    const status = err.code !== 'EIOCTL' && err.response && err.response.status
    if (status !== 400 && status !== 401 && status !== 403 && status !== 404) throw err
  }
  const account = ctx.vtex && ctx.vtex.account
  if (!user || user.authStatus !== 'Success' || (user.account && account && user.account !== account)) {
    throw new AuthenticationError(`${where} is behind @auth: VTEX ID does not validate the VtexIdclientAutCookie sent`)
  }
  return user
}

module.exports = { authenticate, userToken }
