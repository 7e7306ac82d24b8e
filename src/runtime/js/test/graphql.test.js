'use strict'
// Unit tests of GraphQL apps: the schema from graphql/ with VTEX's declarations, positioned
// schema problems, @cacheControl's named maxAge, native and app directives, execution as VTEX's
// (null root, a default resolver that only reads), errors and cache policy in the answer, GET
// and POST, uploads refused; the app's `graphql` is the runtime's copy.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const logging = require('../host/logging')
const modules = require('../host/modules')
const packages = require('../packages')
const vtexApi = require('../vtex-api')
const { loaded } = require('../host/service')
const { RouteServer } = require('../host/routes')
const { buildSchema, SchemaProblems, warmUp, graphql } = require('../host/graphql/schema')
const { sanitize } = require('../host/graphql/scalars')
const { cacheControlOf } = require('../host/graphql/directives')

const logs = []
logging.setSink((message) => logs.push(message))
modules.install()

const { SchemaDirectiveVisitor } = require('graphql-tools')
const { defaultFieldResolver } = require('graphql')

/** An app folder with these graphql/ files. */
function appWith(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-gql-'))
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    fs.writeFileSync(path.join(root, name), text)
  }
  return root
}

class Upper extends SchemaDirectiveVisitor {
  visitFieldDefinition(field) {
    const { resolve = defaultFieldResolver } = field
    field.resolve = async (...args) => String(await resolve(...args)).toUpperCase()
  }
}

const SCHEMA = {
  'graphql/schema.graphql': `
type Query {
  hello(name: String @sanitize): String @upper
  book(id: ID!): Book @cacheControl(maxAge: SHORT)
  secret: String @auth
  fails: String
  method: String
}
type Mutation { add(a: Int!, b: Int!): Int }
`,
  'graphql/types/book.graphql':
    'type Book @cacheControl(maxAge: 3600, scope: PRIVATE) { id: ID! title: String author: String }',
  'graphql/directives.graphql': 'directive @upper on FIELD_DEFINITION',
}

const resolvers = {
  Query: {
    hello: (_root, { name }) => `hello ${name}`,
    book: (_root, { id }) => ({ id, title: 'Dune', author: () => 'called' }),
    secret: () => 'the secret',
    fails: () => {
      throw new vtexApi.UserInputError('bad input here')
    },
  },
  Mutation: { add: (_root, { a, b }) => a + b },
  Book: { title: (book) => book.title.toUpperCase() },
}

test('the schema is every .graphql file with VTEX declarations; a named maxAge builds without a warning', () => {
  const warnings = []
  const schema = buildSchema(appWith(SCHEMA), { resolvers, schemaDirectives: { upper: Upper } }, (w) =>
    warnings.push(w),
  )
  assert.ok(schema.getType('Book') && schema.getType('IOSanitizedString') && schema.getType('IOCacheControlScope'))
  assert.ok(schema.getDirective('auth') && schema.getDirective('smartcache') && schema.getDirective('translatableV2'))
  assert.deepEqual(warnings, [])
})

test('schema problems are positioned in the .graphql file', () => {
  const build =
    (files, config = {}) =>
    () =>
      buildSchema(appWith(files), config, () => {})
  assert.throws(build({ 'graphql/schema.graphql': 'type Query {\n  a: String\n  b: \n}' }), (err) => {
    assert.ok(err instanceof SchemaProblems)
    assert.equal(err.diagnostics[0].file, 'graphql/schema.graphql')
    assert.deepEqual([err.diagnostics[0].line, err.diagnostics[0].column], [4, 1])
    return true
  })
  assert.throws(build({ 'graphql/a.graphql': 'type Query {\n  a: Missing\n}' }), (err) => {
    assert.match(err.diagnostics[0].message, /Unknown type "Missing"/)
    assert.deepEqual([err.diagnostics[0].line, err.diagnostics[0].column], [2, 6])
    return true
  })
  const extra = { resolvers: { Query: { nope: () => 1 } } }
  assert.throws(build({ 'graphql/s.graphql': '\n\ntype Query { a: String }' }, extra), (err) => {
    assert.match(err.diagnostics[0].message, /Query\.nope defined in resolvers, but not in schema/)
    assert.deepEqual([err.diagnostics[0].file, err.diagnostics[0].line], ['graphql/s.graphql', 3])
    return true
  })
  assert.throws(build({}), /no \.graphql file under graphql\//)
})

test('the app gets the runtime copies of graphql and graphql-tools', () => {
  assert.equal(require.resolve('graphql'), packages.resolve('graphql'))
  assert.equal(require.resolve('graphql/language/parser'), packages.resolve('graphql/language/parser'))
  assert.equal(require('graphql-tools').SchemaDirectiveVisitor, packages.load('graphql-tools').SchemaDirectiveVisitor)
})

test('sanitize strips unsafe HTML; cache hints sum up to the smallest maxAge and most private scope', () => {
  assert.equal(sanitize('<b>hi</b><script>alert(1)</script>'), 'hi')
  // js-xss keeps a whitelisted attribute whose URL it refuses as a bare name (no '#' put in).
  assert.equal(sanitize('<a href="javascript:x()" onclick="y()">a</a>', { allowHTMLTags: true }), '<a href>a</a>')
  assert.deepEqual(cacheControlOf([]), { maxAge: 0, scope: 'PUBLIC' })
  assert.deepEqual(cacheControlOf([{ maxAge: 120 }, { maxAge: 3600, scope: 'PRIVATE' }]), {
    maxAge: 120,
    scope: 'PRIVATE',
  })
})

/** One request to the route server's socket as ioctl proxies a GraphQL request. */
function request(socketPath, { method = 'POST', path: at = '/', body, headers = {} }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path: at,
        headers: { 'x-ioctl-route-id': 'graphql', 'x-ioctl-route-type': 'graphql', ...headers },
      },
      (res) => {
        let text = ''
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(text) }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

test('execution as VTEX runs it: GET and POST, errors, cache policy, @auth, uploads refused', async (t) => {
  // VTEX ID, as the session answers it across the boundary: the local admin's token is valid.
  const validations = []
  const savedPlatform = vtexApi.__ioctl.platform
  vtexApi.__ioctl.platform = async (call) => {
    validations.push(call)
    const { token } = JSON.parse(Buffer.from(call.body, 'base64').toString())
    const answer = token === 't0k' ? { authStatus: 'Success', user: 'dev@local', account: '' } : { message: 'bad' }
    const body = Buffer.from(JSON.stringify(answer)).toString('base64')
    return {
      status: token === 't0k' ? 200 : 401,
      headers: { 'content-type': 'application/json' },
      body,
      source: 'local',
    }
  }
  t.after(() => {
    vtexApi.__ioctl.platform = savedPlatform
  })
  loaded.service = new vtexApi.Service({ graphql: { resolvers } })
  loaded.schema = buildSchema(appWith(SCHEMA), { resolvers, schemaDirectives: { upper: Upper } }, () => {})
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioctl-test-'))
  const server = new RouteServer(path.join(dir, 'routes.sock'))
  const { socket } = await server.start()
  t.after(() => {
    server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const post = (query, variables, headers = {}) =>
    request(socket, {
      body: JSON.stringify({ query, variables }),
      headers: { 'content-type': 'application/json', ...headers },
    })

  let res = await post('query($n: String) { hello(name: $n) book(id: "7") { id title author } }', { n: '<i>you</i>' })
  assert.equal(res.status, 200)
  assert.equal(res.headers['cache-control'], 'no-store')
  // @sanitize, then the app's @upper; Book.title's resolver; author only read, never called.
  assert.deepEqual(res.body.data, { hello: 'HELLO YOU', book: { id: '7', title: 'DUNE', author: null } })
  assert.deepEqual(res.body.extensions.cacheControl, { maxAge: 120, scope: 'PRIVATE' })

  res = await request(socket, { method: 'GET', path: `/?query=${encodeURIComponent('{ hello(name: "x") }')}` })
  assert.deepEqual(res.body.data, { hello: 'HELLO X' })
  res = await request(socket, { method: 'GET', path: `/?query=${encodeURIComponent('mutation { add(a: 2, b: 3) }')}` })
  assert.equal(res.status, 405, 'a GET may only query')
  assert.equal(res.headers.allow, 'POST')
  assert.equal(res.body.errors[0].extensions.code, 'METHOD_NOT_ALLOWED')
  res = await post('mutation { add(a: 2, b: 3) }')
  assert.deepEqual(res.body.data, { add: 5 })

  res = await post('{ fails method }')
  assert.equal(res.status, 200)
  assert.deepEqual(res.body.data, { fails: null, method: null })
  const [error] = res.body.errors
  assert.equal(error.message, 'bad input here')
  assert.deepEqual(error.path, ['fails'])
  assert.deepEqual(error.locations, [{ line: 1, column: 3 }])
  assert.equal(error.extensions.code, 'USER_INPUT_ERROR')
  assert.match(error.extensions.exception.stacktrace.join('\n'), /graphql\.test\.js/)
  assert.ok(
    logs.some((l) => l.level === 'error' && /graphql fails failed: UserInputError: bad input here/.test(l.message)),
  )

  res = await post('{ secret }')
  assert.equal(res.body.errors[0].extensions.code, 'UNAUTHENTICATED')
  assert.match(res.body.errors[0].message, /VtexIdclientAutCookie not found/)
  assert.equal(validations.length, 0, 'no token: nothing to validate')
  res = await post('{ secret }', {}, { VtexIdclientAutCookie: 't0k' })
  assert.deepEqual(res.body.data, { secret: 'the secret' })
  assert.deepEqual(
    [validations[0].method, validations[0].url, validations[0].via],
    ['POST', 'http://vtexid.vtex.com.br/api/vtexid/credential/validate', '@auth'],
  )
  res = await post('{ secret }', {}, { cookie: 'VtexIdclientAutCookie=t0k' })
  assert.deepEqual(res.body.data, { secret: 'the secret' }, 'the cookie counts as the header does')
  res = await post('{ secret }', {}, { VtexIdclientAutCookie: 'forged' })
  assert.equal(res.body.errors[0].extensions.code, 'UNAUTHENTICATED')
  assert.match(res.body.errors[0].message, /VTEX ID does not validate/)
  // ioctl itself unable to ask VTEX ID is no verdict on the token: the error says why.
  vtexApi.__ioctl.platform = () => Promise.reject({ status: 400, message: 'unknown platform call' })
  res = await post('{ secret }', {}, { VtexIdclientAutCookie: 't0k' })
  assert.match(
    res.body.errors[0].message,
    /ioctl could not answer POST http:\/\/vtexid\.vtex\.com\.br\/\S+: unknown platform call$/,
  )

  res = await post('{ nope }')
  assert.equal(res.status, 400)
  assert.equal(res.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED')
  res = await post('{ hello(')
  assert.equal(res.body.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED')
  assert.deepEqual(res.body.errors[0].locations, [{ line: 1, column: 9 }])

  res = await request(socket, { body: '--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' } })
  assert.equal(res.status, 400)
  assert.equal(res.body.errors[0].extensions.code, 'UPLOADS_NOT_SUPPORTED')
})

test("the standby's warm-up builds a schema with VTEX's declarations and directives", () => {
  const schema = warmUp()
  assert.ok(schema instanceof graphql.GraphQLSchema)
  assert.deepEqual(Object.keys(schema.getQueryType().getFields()), ['items', 'item'])
  assert.ok(schema.getType('IOSanitizedString'), 'VTEX scalar declared')
})
