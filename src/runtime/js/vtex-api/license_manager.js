'use strict'
// ctx.clients.licenseManager (@vtex/api's LicenseManager): the admin's access to License
// Manager resources, and the account's data, through the Janus gateway. Locally ioctl answers
// the resource check for its users across the boundary (the local admin holds every resource);
// the rest goes on to fixtures or `--cloud`:
//   GET http://portal.vtexcommercestable.com.br/api/license-manager/resources/{key}/access?an={account}
//   GET .../api/license-manager/account, .../site/pvt/newtopbar, .../binding/site/{tenant}
// each with the user's token as the `VtexIdclientAutCookie` header (the app's own for bindings).

const { JanusClient } = require('./clients')

const BASE = '/api/license-manager'

class LicenseManager extends JanusClient {
  /** The account's data, as the user `token` sees it. */
  getAccountData(token, config = {}) {
    return this.http.get(`${BASE}/account`, withToken(config, token))
  }

  /** The admin's top bar. */
  getTopbarData(token, config = {}) {
    return this.http.get(`${BASE}/site/pvt/newtopbar`, withToken(config, token))
  }

  /** Whether the user `token` may use `resourceKey`: any failure reads as "no", as @vtex/api's. */
  canAccessResource(token, resourceKey, config = {}) {
    const path = `${BASE}/resources/${encodeURIComponent(resourceKey)}/access`
    return this.http.get(path, withToken(config, token)).then(
      () => true,
      () => false,
    )
  }

  /** The bindings of a tenant, with the app's token. */
  listBindings(tenant, config = {}) {
    const token = this.context && this.context.authToken
    return this.http.get(`${BASE}/binding/site/${encodeURIComponent(tenant)}`, withToken(config, token))
  }
}

function withToken(config, token) {
  return { ...config, headers: { ...(config && config.headers), VtexIdclientAutCookie: token } }
}

module.exports = { LicenseManager }
