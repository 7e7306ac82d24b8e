'use strict'
// What a GraphQLClient rejects with when the answer carries GraphQL errors (unless the call
// says `throwOnError: false`), as @vtex/api's does: the errors themselves in `graphQLErrors`.

const { messageOf } = require('./errors')

class GraphQLErrors extends Error {
  /** `client`: the client's name; `app`: the VTEX IO app that answered (an AppGraphQLClient's), if any. */
  constructor(client, app, errors) {
    const messages = errors.map((e) => messageOf(e))
    super(app ? `${client}: GraphQL errors from ${app}: ${messages.join('; ')}` : `${client}: ${messages[0]}`)
    this.name = 'GraphQLErrors'
    this.graphQLErrors = errors
  }
}

module.exports = { GraphQLErrors }
