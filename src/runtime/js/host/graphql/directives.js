'use strict'
// VTEX's native schema directives, with their local meaning: @auth has VTEX ID validate the
// request's user token through ioctl's boundary (../auth.js), @cacheControl records its hint
// for the response, @sanitize strips unsafe HTML from arguments and input fields, @settings fills
// ctx.vtex.settings from the local app settings when there are any; @smartcache, @metric,
// @translatableV2 and @translateTo are accepted (no cache, metrics or Messages service runs
// locally: the value is returned as written).

const packages = require('../../packages')
const { authenticate, userToken } = require('../auth')
const { sanitize } = require('./scalars')

const graphql = packages.load('graphql')
const { SchemaDirectiveVisitor } = packages.load('graphql-tools')

/** VTEX's default field resolver: reads root[field], never calls it (unlike graphql-js's). */
function readField(root, _args, _ctx, info) {
  return root == null ? undefined : root[info.fieldName]
}

/** Wraps `field.resolve` with `before(args, ctx, info)` (which may replace args) and/or `after(value)`. */
function wrapResolver(field, { before, after }) {
  const resolve = field.resolve || readField
  field.resolve = async function resolveWrapped(root, args, ctx, info) {
    const actualArgs = before ? (await before(args, ctx, info)) || args : args
    const value = await resolve.call(this, root, actualArgs, ctx, info)
    return after ? after(value) : value
  }
}

class Auth extends SchemaDirectiveVisitor {
  visitFieldDefinition(field, details) {
    const where = `${details.objectType.name}.${field.name}`
    wrapResolver(field, {
      async before(_args, ctx) {
        await authenticate(ctx, where)
      },
    })
  }
}

/** The hints of one request: ctx.graphql.cacheHints, summed up by `cacheControlOf`. */
function recordHint(ctx, hint) {
  if (ctx && ctx.graphql && ctx.graphql.cacheHints) ctx.graphql.cacheHints.push(hint)
}

class CacheControl extends SchemaDirectiveVisitor {
  hint() {
    return { maxAge: this.args.maxAge, scope: this.args.scope }
  }

  visitFieldDefinition(field) {
    const hint = this.hint()
    wrapResolver(field, {
      before(_args, ctx) {
        recordHint(ctx, hint)
      },
    })
  }

  visitObject(type) {
    const hint = this.hint()
    for (const field of Object.values(type.getFields())) {
      wrapResolver(field, {
        before(_args, ctx) {
          recordHint(ctx, hint)
        },
      })
    }
  }

  visitInterface(type) {
    this.visitObject(type)
  }
}

/** The response's cache policy: the smallest maxAge hinted, the most private scope (none: 0, PUBLIC). */
function cacheControlOf(hints) {
  const order = ['PUBLIC', 'SEGMENT', 'PRIVATE']
  let maxAge = null
  let scope = 'PUBLIC'
  for (const hint of hints) {
    if (Number.isInteger(hint.maxAge)) maxAge = maxAge === null ? hint.maxAge : Math.min(maxAge, hint.maxAge)
    if (hint.scope && order.indexOf(hint.scope) > order.indexOf(scope)) scope = hint.scope
  }
  return { maxAge: maxAge === null ? 0 : maxAge, scope }
}

class Sanitize extends SchemaDirectiveVisitor {
  visitArgumentDefinition(argument, details) {
    const options = { allowHTMLTags: this.args.allowHTMLTags, stripIgnoreTag: this.args.stripIgnoreTag }
    wrapResolver(details.field, {
      before(args) {
        if (!(argument.name in args)) return args
        return { ...args, [argument.name]: sanitizeDeep(args[argument.name], options) }
      },
    })
  }

  visitInputFieldDefinition(field) {
    // Input fields have no resolver: their type becomes VTEX's IOSanitizedString.
    const sanitized = this.schema.getType('IOSanitizedString')
    if (sanitized && graphql.getNamedType(field.type) === graphql.GraphQLString) {
      field.type = rewrap(field.type, sanitized)
    }
  }
}

function sanitizeDeep(value, options) {
  return Array.isArray(value) ? value.map((v) => sanitizeDeep(v, options)) : sanitize(value, options)
}

function rewrap(type, named) {
  if (type instanceof graphql.GraphQLNonNull) return new graphql.GraphQLNonNull(rewrap(type.ofType, named))
  if (type instanceof graphql.GraphQLList) return new graphql.GraphQLList(rewrap(type.ofType, named))
  return named
}

/** Directives that only say once, at build, what they do locally. */
function noted(note, log) {
  return class Noted extends SchemaDirectiveVisitor {
    visitFieldDefinition(field, details) {
      if (note) log(`@${this.name} on ${details.objectType.name}.${field.name}: ${note}`)
    }
  }
}

/** The native directives; `log(message)` reports what they do locally. */
function nativeDirectives(log) {
  class Settings extends SchemaDirectiveVisitor {
    visitFieldDefinition(field, details) {
      const where = `${details.objectType.name}.${field.name}`
      let said = false
      wrapResolver(field, {
        async before(_args, ctx) {
          try {
            const apps = ctx.clients && ctx.clients.apps
            ctx.vtex.settings = await apps.getAppSettings(process.env.VTEX_APP_ID)
          } catch (err) {
            if (!said)
              log(
                `@settings on ${where}: no local app settings reachable (${err.message}); ctx.vtex.settings stays unset`,
              )
            said = true
          }
        },
      })
    }
  }
  return {
    auth: Auth,
    cacheControl: CacheControl,
    sanitize: Sanitize,
    settings: Settings,
    smartcache: noted(null, log),
    metric: noted(null, log),
    translatableV2: noted('no Messages service runs locally: the value is returned as written', log),
    translateTo: noted('no Messages service runs locally: the value is returned as written', log),
  }
}

module.exports = { nativeDirectives, readField, cacheControlOf, userToken, wrapResolver }
