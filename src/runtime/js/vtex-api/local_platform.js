'use strict'
// The calls the local platform clients (apps, vbase, masterdata) make to ioctl's storage, and
// the errors they reject with: shaped like @vtex/api's HTTP errors, so `err.response.status`
// (404, 409, 400...) and `err.status` read as apps expect.

const hooks = require('./hooks')

/** An error of a local platform call, named for the client method (`vbase.getJSON`). */
function platformError(label, reason, failure) {
  const status = reason && Number.isInteger(reason.status) ? reason.status : 500
  const message = reason && reason.message != null ? String(reason.message) : String(reason)
  failure.message = `${label}: ${message}`
  failure.status = status
  failure.response = { status, data: { message }, headers: {} }
  return failure
}

/**
 * Runs `call` ({service, method, ...args}); `label` names it in errors, and `caller` is the
 * client method whose frame the error's stack starts above (the app's call site).
 */
function platformCall(label, call, caller) {
  const failure = new Error()
  Error.captureStackTrace(failure, caller || platformCall)
  return hooks.platform(call).catch((reason) => {
    throw platformError(label, reason, failure)
  })
}

/** Local services ioctl runs, for the errors of the clients that still need VTEX's cloud. */
const LOCAL_SERVICES =
  'ioctl runs these locally: ctx.clients.apps getAppSettings/saveAppSettings, ctx.clients.vbase, ' +
  'ctx.clients.masterdata, ctx.clients.events, and tenant, segment and session'

module.exports = { platformCall, platformError, LOCAL_SERVICES }
