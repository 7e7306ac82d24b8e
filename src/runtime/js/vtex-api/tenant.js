'use strict'
// ctx.clients.tenant (@vtex/api's TenantClient): the account's tenant (bindings, locales,
// currency) from VTEX's tenant API through the Janus gateway. Locally ioctl answers it from the
// workspace's platform settings (`ioctl platform show`), across the boundary:
//   GET http://portal.vtexcommercestable.com.br/api/tenant/tenants?an={account}&q={account}

const { JanusClient } = require('./clients')

class TenantClient extends JanusClient {
  constructor(context, options = {}) {
    // As @vtex/api: `q` names the account, replacing any params of the options (`an` is Janus's).
    super(context, { ...options, params: { q: context && context.account } })
  }

  /** -> {id, slug, title, edition, infra, bindings: [...], defaultLocale, locales, currencyCode, ...} */
  info(config) {
    return this.http.get('/api/tenant/tenants', config)
  }
}

module.exports = { TenantClient }
