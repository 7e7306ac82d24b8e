'use strict'
// ctx.clients.session (@vtex/api's Session): the shopper's session (its namespaces: profile,
// authentication, store, public...) from VTEX's session API through the Janus gateway. Locally
// ioctl answers it for the local user, across the boundary:
//   GET  http://portal.vtexcommercestable.com.br/api/sessions?an={account}&items={a,b (%2C)}
//   POST the same, body {public: {KEY: {value}}}   (updateSession)
// with `Content-Type: application/json` and `Cookie: vtex_session={token};`.

const { JanusClient } = require('./clients')
const { setCookieValue } = require('./segment')

class Session extends JanusClient {
  /** -> {sessionData, sessionToken}: the token a `vtex_session` Set-Cookie gives, else `token`. */
  async getSession(token, items) {
    const { data, headers } = await this.http.getRaw('/api/sessions', this.sessionConfig(token, items))
    return { sessionData: data, sessionToken: setCookieValue(headers, 'vtex_session') || token }
  }

  /** Sets `key` of the session's public namespace. */
  updateSession(key, value, items, token) {
    return this.http.post('/api/sessions', { public: { [key]: { value } } }, this.sessionConfig(token, items))
  }

  sessionConfig(token, items) {
    return {
      headers: { 'Content-Type': 'application/json', Cookie: `vtex_session=${token};` },
      params: { items: (items || []).join(',') },
    }
  }
}

module.exports = { Session }
