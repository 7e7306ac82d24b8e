'use strict'
// The app's GraphQL schema as VTEX's runtime builds it: every .graphql file under the app's
// graphql/ folder together, plus the declarations the runtime adds (scalars, enums, native
// directives) where the app did not declare them, built by graphql-tools 4's
// makeExecutableSchema on graphql-js 14 (the runtime's one copy, which the app's own
// `require('graphql')` also gets). Problems come back as positioned diagnostics.

const fs = require('node:fs')
const path = require('node:path')
const packages = require('../../packages')
const { nativeDirectives } = require('./directives')

const graphql = packages.load('graphql')
const { makeExecutableSchema } = packages.load('graphql-tools')
const { validateSDL } = require(path.join(path.dirname(packages.resolve('graphql')), 'validation', 'validate.js'))

/** What VTEX's runtime declares itself, each definition added only if the app lacks its name. */
const NATIVE_DECLARATIONS = [
  'scalar IOSanitizedString',
  'scalar IOUpload',
  'scalar Upload',
  'enum IOAuthScope { PUBLIC PRIVATE }',
  'enum IOCacheControlScope { SEGMENT PUBLIC PRIVATE }',
  'directive @auth(scope: IOAuthScope, productCode: String, resourceCode: String) on FIELD_DEFINITION',
  'directive @cacheControl(maxAge: Int, scope: IOCacheControlScope) on FIELD_DEFINITION | OBJECT | INTERFACE',
  'directive @smartcache(maxAge: String) on FIELD_DEFINITION',
  'directive @settings(settingsType: String) on FIELD_DEFINITION',
  'directive @translatableV2(behavior: String, withAppsMetaInfo: Boolean) on FIELD_DEFINITION',
  'directive @translateTo(language: String!) on FIELD_DEFINITION',
  'directive @sanitize(allowHTMLTags: Boolean, stripIgnoreTag: Boolean) on ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION',
  'directive @metric(name: String) on FIELD_DEFINITION',
  // @deprecated is graphql-js's own (buildASTSchema adds it unless the app declares it).
]

/**
 * The names @cacheControl(maxAge:) also takes, in seconds. @vtex/api 6.51 declares `maxAge: Int`
 * (MAX_AGE in its constants: SHORT 120, MEDIUM 3600, LONG 86400), but VTEX's graphql builder,
 * which writes the schema the runtime loads, accepts these names in any case (published apps
 * write SHORT, Short and ZERO), so they are read here as it reads them, with no warning.
 */
const MAX_AGE_SECONDS = { ZERO: 0, SHORT: 120, MEDIUM: 3600, LONG: 86400 }

/** A problem in one of the app's files: {file (relative to the app), line, column, message}. */
class SchemaProblems extends Error {
  constructor(diagnostics) {
    super(diagnostics.map((d) => (d.file ? `${d.file}:${d.line}:${d.column}: ${d.message}` : d.message)).join('\n'))
    this.name = 'GraphQLSchemaError'
    this.diagnostics = diagnostics
  }
}

/** Every .graphql file under `dir`, sorted, as paths relative to `appRoot`. */
function graphqlFiles(dir, appRoot) {
  const found = []
  const walk = (at) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue
      const full = path.join(at, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith('.graphql') || entry.name.endsWith('.gql')) found.push(full)
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return found.sort().map((full) => path.relative(appRoot, full))
}

/** A GraphQLError (or anything with nodes/locations) as diagnostics in the app's files. */
function diagnosticsOf(err) {
  const locations = err.locations || []
  const source = err.source || (err.nodes && err.nodes[0] && err.nodes[0].loc && err.nodes[0].loc.source)
  if (locations.length === 0 || !source || source.name === NATIVE_SOURCE) return [{ message: err.message }]
  return locations.slice(0, 1).map(({ line, column }) => ({ file: source.name, line, column, message: err.message }))
}

const NATIVE_SOURCE = "ioctl: VTEX's runtime declarations"

/** Parses each file (its name in locations), reads @cacheControl's named maxAge, adds VTEX's declarations. */
function schemaDocument(sources) {
  const documents = []
  const problems = []
  for (const { file, text } of sources) {
    try {
      documents.push(graphql.parse(new graphql.Source(text, file)))
    } catch (err) {
      problems.push(...diagnosticsOf(err))
    }
  }
  if (problems.length > 0) throw new SchemaProblems(problems)
  const app = graphql.concatAST(documents)
  const declared = new Set(app.definitions.filter((d) => d.name).map((d) => d.name.value))
  const added = NATIVE_DECLARATIONS.filter((sdl) => !declared.has(/^(?:\w+) @?(\w+)/.exec(sdl)[1]))
  const native = graphql.parse(new graphql.Source(added.join('\n'), NATIVE_SOURCE))
  return graphql.concatAST([readCacheControlNames(app), native])
}

/**
 * `@cacheControl(maxAge: SHORT)`, `Short`, `ZERO`... become maxAge: 120, 0... A name that is none
 * of them is a problem at its place (graphql-js would only say the value is invalid).
 */
function readCacheControlNames(document) {
  const problems = []
  const read = graphql.visit(document, {
    Directive(node) {
      if (node.name.value !== 'cacheControl') return undefined
      const args = node.arguments.map((arg) => {
        if (arg.name.value !== 'maxAge' || arg.value.kind !== 'EnumValue') return arg
        const name = arg.value.value.toUpperCase()
        if (Object.hasOwn(MAX_AGE_SECONDS, name)) {
          return { ...arg, value: { kind: 'IntValue', value: String(MAX_AGE_SECONDS[name]) } }
        }
        const [line, column] = lineColumn(arg.value.loc)
        const message =
          `@cacheControl(maxAge: ${arg.value.value}): maxAge is a number of seconds or one of ` +
          `${Object.keys(MAX_AGE_SECONDS).join(', ')} (any case)`
        problems.push({ file: arg.loc.source.name, line, column, message })
        return arg
      })
      return { ...node, arguments: args }
    },
  })
  if (problems.length > 0) throw new SchemaProblems(problems)
  return read
}

function lineColumn(loc) {
  const { line, column } = graphql.getLocation(loc.source, loc.start)
  return [line, column]
}

/** Where in the schema `Type` (of "Type.field defined in resolvers, but not in schema") is defined. */
function resolverProblem(err, document) {
  const match = /^"?(\w+)"?(?:\.(\w+))? (?:was )?defined in resolvers/.exec(err.message)
  const node = match && document.definitions.find((d) => d.name && d.name.value === match[1] && d.loc)
  const hint = ' (the resolver is in node/: remove it, or declare the field in graphql/)'
  if (!node || node.loc.source.name === NATIVE_SOURCE) return [{ message: err.message + hint }]
  const [line, column] = lineColumn(node.loc)
  return [{ file: node.loc.source.name, line, column, message: err.message + hint }]
}

/**
 * Builds the executable schema of the app at `appRoot` from its Service's `graphql` config
 * ({resolvers, schemaDirectives}). `warn(message)` reports what builds but deserves a line.
 * Throws SchemaProblems for the app's mistakes.
 */
function buildSchema(appRoot, config, warn) {
  const files = graphqlFiles(path.join(appRoot, 'graphql'), appRoot)
  if (files.length === 0) {
    throw new SchemaProblems([
      {
        message:
          'the Service declares `graphql` but the app has no .graphql file under graphql/ (graphql/schema.graphql)',
      },
    ])
  }
  const sources = files.map((file) => ({ file, text: fs.readFileSync(path.join(appRoot, file), 'utf8') }))
  return executableSchema(schemaDocument(sources), config, warn)
}

/** The schema of `document` (the app's files and VTEX's declarations) with `config`'s resolvers. */
function executableSchema(document, config, warn) {
  const sdlErrors = validateSDL(document)
  if (sdlErrors.length > 0) throw new SchemaProblems(sdlErrors.flatMap(diagnosticsOf))
  const resolvers = { ...nativeScalars(document), ...(config.resolvers || {}) }
  try {
    return makeExecutableSchema({
      typeDefs: document,
      resolvers,
      schemaDirectives: { ...nativeDirectives(warn), ...(config.schemaDirectives || {}) },
      resolverValidationOptions: { requireResolversForResolveType: false },
      inheritResolversFromInterfaces: true,
    })
  } catch (err) {
    if (err instanceof graphql.GraphQLError && err.locations) throw new SchemaProblems(diagnosticsOf(err))
    // graphql-tools 4's SchemaError is a plain-named Error: known by its message.
    if (err && /defined in resolvers/.test(err.message)) throw new SchemaProblems(resolverProblem(err, document))
    throw err
  }
}

/** What a warm-up builds: a schema using the runtime's declarations and directives. */
const WARM_UP_SDL = `
type Item @cacheControl(maxAge: 10) { id: ID, name(format: IOSanitizedString): String, tags: [String] }
input Filter { text: IOSanitizedString, limit: Int }
type Query { items(filter: Filter): [Item] @cacheControl(scope: PRIVATE), item(id: ID!): Item @auth(scope: PUBLIC) }
type Mutation { save(id: ID!, name: String): Item @metric(name: "save") }
`

/**
 * Builds a small schema with graphql-tools and graphql-js, so that a standby's first build of
 * the app's schema runs compiled code rather than paying for V8's first pass. It runs no
 * query: execution's code is left to learn from the app's own schema.
 */
function warmUp() {
  const document = schemaDocument([{ file: 'warm-up.graphql', text: WARM_UP_SDL }])
  const item = { id: '1', name: 'warm', tags: ['a'] }
  const resolvers = { Query: { items: () => [item], item: () => item }, Mutation: { save: () => item } }
  return executableSchema(document, { resolvers }, () => {})
}

/** Resolvers of VTEX's own scalars, for those the schema holds from VTEX's declarations. */
function nativeScalars(document) {
  const { sanitizedString, notSupportedUpload } = require('./scalars')
  const ours = document.definitions.filter((d) => d.loc && d.loc.source.name === NATIVE_SOURCE)
  const names = new Set(ours.map((d) => d.name.value))
  const scalars = {}
  if (names.has('IOSanitizedString')) scalars.IOSanitizedString = sanitizedString
  for (const name of ['IOUpload', 'Upload']) if (names.has(name)) scalars[name] = notSupportedUpload(name)
  return scalars
}

module.exports = { buildSchema, warmUp, graphqlFiles, SchemaProblems, NATIVE_DECLARATIONS, MAX_AGE_SECONDS, graphql }
