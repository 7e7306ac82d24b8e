'use strict'
// Errors as ioctl reads them ({name, message, stack}), and as a route answers them: VTEX's
// statuses (a ResolverError's status, else err.status / err.statusCode, else 500) and codes.

const { MODULES } = require('../packages')
const { ResolverError } = require('../vtex-api/errors')

/** Stack lines of ioctl's runtime packages (koa, koa-compose, ...): noise to the app's developer. */
function withoutRuntimeFrames(stack) {
  if (!stack.includes(MODULES)) return stack
  return stack
    .split('\n')
    .filter((line) => !(line.trimStart().startsWith('at ') && line.includes(MODULES)))
    .join('\n')
}

function errorInfo(err) {
  if (err instanceof Error) {
    const name = err.name || (err.constructor && err.constructor.name) || 'Error'
    const message = err.message == null ? '' : String(err.message)
    const stack = typeof err.stack === 'string' ? withoutRuntimeFrames(err.stack) : `${name}: ${message}`
    return { name, message, stack }
  }
  const message = String(err)
  return { name: 'Error', message, stack: `Error: ${message}` }
}

const validErrorStatus = (status) => Number.isInteger(status) && status >= 400 && status <= 599

function errorStatus(err) {
  if (err instanceof ResolverError) return validErrorStatus(err.status) ? err.status : 500
  if (err !== null && typeof err === 'object') {
    if (validErrorStatus(err.status)) return err.status
    if (validErrorStatus(err.statusCode)) return err.statusCode
  }
  return 500
}

function errorCode(err, status) {
  const code = err !== null && typeof err === 'object' ? err.code : undefined
  if (typeof code === 'string' || typeof code === 'number') return code
  if (status >= 500) return 'INTERNAL_SERVER_ERROR'
  // node:http loads with the first route error (an events-only app never needs it).
  return (require('node:http').STATUS_CODES[status] || 'ERROR').toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

module.exports = { errorInfo, errorStatus, errorCode, withoutRuntimeFrames }
