'use strict'
// Serving the app's GraphQL on Koa, as VTEX's runtime does: a query from a POST JSON body
// {query, variables, operationName} or GET ?query=&variables=, executed with the route ctx as
// contextValue and a null rootValue; errors in the standard `errors` array (message,
// locations, path, extensions.code and, while linked, the stack mapped to .ts) and in the link
// terminal; `Cache-Control: no-store` (VTEX's answer while linked) and the computed cache
// policy in extensions.cacheControl.

const path = require('node:path')
const packages = require('../../packages')
const { errorInfo } = require('../errors')
const { log } = require('../logging')
const { cacheControlOf, readField } = require('./directives')
const { UPLOADS_NOT_SUPPORTED } = require('./scalars')

const graphql = packages.load('graphql')
const coBody = packages.load('co-body')

/** Largest request body read (VTEX's per-field upload limit is 1 MB; queries are smaller). */
const BODY_LIMIT = '1mb'
/** Parsed and validated documents, by query text: a repeated query skips both. */
const DOCUMENT_CACHE_SIZE = 256

/** The app's folder: paths in stacks are shown relative to it. */
const APP_ROOT = path.dirname(process.cwd()) + path.sep

class RequestError extends Error {
  constructor(message, code, status = 400) {
    super(message)
    this.code = code
    this.status = status
  }
}

/** {query, variables, operationName} of the request. */
async function readRequest(ctx) {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    const { query, variables, operationName } = ctx.query
    return { query, variables: parseJson(variables, 'the variables parameter'), operationName }
  }
  if (ctx.method !== 'POST')
    throw new RequestError(`GraphQL is served by GET and POST, not ${ctx.method}`, 'METHOD_NOT_ALLOWED', 405)
  if (ctx.is('multipart/form-data')) throw new RequestError(UPLOADS_NOT_SUPPORTED, 'UPLOADS_NOT_SUPPORTED')
  let body
  try {
    body = await coBody.json(ctx.req, { limit: BODY_LIMIT, strict: true })
  } catch (err) {
    throw new RequestError(`the request body is not JSON: ${err.message}`, 'BAD_REQUEST', err.status || 400)
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError('the request body must be a JSON object {query, variables, operationName}', 'BAD_REQUEST')
  }
  const variables = typeof body.variables === 'string' ? parseJson(body.variables, 'variables') : body.variables
  return { query: body.query, variables, operationName: body.operationName }
}

function parseJson(text, what) {
  if (text === undefined || text === null || text === '') return undefined
  if (typeof text !== 'string') return text
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new RequestError(`${what} is not JSON: ${err.message}`, 'BAD_REQUEST')
  }
}

/** Parses and validates `query` against `schema`, remembering the outcome per schema. */
function documentFor(schema, query) {
  let cache = documentCaches.get(schema)
  if (!cache) documentCaches.set(schema, (cache = new Map()))
  const known = cache.get(query)
  if (known) return known
  let outcome
  try {
    const document = graphql.parse(new graphql.Source(query, 'query'))
    const errors = graphql.validate(schema, document)
    outcome = errors.length > 0 ? { errors, code: 'GRAPHQL_VALIDATION_FAILED' } : { document }
  } catch (err) {
    outcome = { errors: [err], code: 'GRAPHQL_PARSE_FAILED' }
  }
  if (cache.size >= DOCUMENT_CACHE_SIZE) cache.delete(cache.keys().next().value)
  cache.set(query, outcome)
  return outcome
}
const documentCaches = new WeakMap()

/** Stack lines with the app's paths relative to the app (node/resolvers.ts:12:9). */
function appStack(stack) {
  return stack.split('\n').map((line) => line.split(APP_ROOT).join(''))
}

/** The code of an error as VTEX's clients read it in extensions.code. */
function codeOf(original, fallback) {
  if (original && (typeof original.code === 'string' || typeof original.code === 'number')) return original.code
  return fallback
}

/** One GraphQLError in the response's shape; resolver errors are logged with their stack. */
function formatError(err, fallbackCode) {
  const original = err.originalError
  const formatted = { message: err.message, locations: err.locations, path: err.path }
  const extensions = { ...(err.extensions || {}), code: codeOf(original, fallbackCode) }
  if (original && !(original instanceof graphql.GraphQLError)) {
    const info = errorInfo(original)
    extensions.exception = { name: info.name, stacktrace: appStack(info.stack) }
    const at = err.path ? err.path.join('.') : '?'
    log('error', `graphql ${at} failed: ${info.stack}`)
  }
  formatted.extensions = extensions
  return formatted
}

/**
 * Runs the request in `ctx` against `schema`: ctx.graphql holds the query and the cache hints
 * of its fields while it runs. Answers 200 with data and errors (resolver errors included),
 * 400 when the query cannot run at all.
 */
async function serveGraphql(ctx, schema) {
  ctx.set('Cache-Control', 'no-store')
  let request
  try {
    request = await readRequest(ctx)
  } catch (err) {
    answer(ctx, err.status || 400, { errors: [{ message: err.message, extensions: { code: err.code } }] })
    return
  }
  if (typeof request.query !== 'string' || request.query.trim() === '') {
    const message = 'no query: send {"query": "..."} as JSON (POST) or ?query= (GET)'
    answer(ctx, 400, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] })
    return
  }
  const outcome = documentFor(schema, request.query)
  if (outcome.errors) {
    answer(ctx, 400, { errors: outcome.errors.map((e) => formatError(e, outcome.code)) })
    return
  }
  // A GET is a link or an <img> away for any page: it may only read (as express-graphql and
  // Apollo Server refuse GET mutations).
  const operation = graphql.getOperationAST(outcome.document, request.operationName)
  if ((ctx.method === 'GET' || ctx.method === 'HEAD') && operation && operation.operation !== 'query') {
    ctx.set('Allow', 'POST')
    const message = `a ${operation.operation} needs POST: a GET request may only query`
    answer(ctx, 405, { errors: [{ message, extensions: { code: 'METHOD_NOT_ALLOWED' } }] })
    return
  }
  const hints = []
  ctx.graphql = { query: request, cacheHints: hints }
  const result = await graphql.execute({
    schema,
    document: outcome.document,
    rootValue: null,
    contextValue: ctx,
    variableValues: request.variables,
    operationName: request.operationName,
    fieldResolver: readField,
  })
  const body = {}
  if (result.errors)
    body.errors = result.errors.map((e) => formatError(e, e.originalError ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT'))
  body.data = result.data
  body.extensions = { cacheControl: cacheControlOf(hints) }
  answer(ctx, result.data === undefined ? 400 : 200, body)
}

function answer(ctx, status, body) {
  ctx.status = status
  ctx.type = 'application/json; charset=utf-8'
  ctx.body = JSON.stringify(body)
}

module.exports = { serveGraphql, readRequest, formatError, appStack }
