'use strict'
// @vtex/api's error classes. A route that throws one answers with its `status` (host/routes.js).
// As in @vtex/api, the 4xx ones extend ResolverWarning (handled by the app: logged as warnings).

function messageOf(message) {
  if (typeof message === 'string') return message
  if (message && typeof message.message === 'string') return message.message
  return String(message)
}

class ResolverError extends Error {
  constructor(message, status = 500, code = 'RESOLVER_ERROR') {
    super(messageOf(message))
    this.status = status
    this.code = code
    if (message instanceof Error) this.originalError = message
  }
}

class ResolverWarning extends ResolverError {
  constructor(message, status = 422, code = 'RESOLVER_WARNING') {
    super(message, status, code)
  }
}

class UserInputError extends ResolverWarning {
  constructor(message) {
    super(message, 400, 'USER_INPUT_ERROR')
  }
}

class AuthenticationError extends ResolverWarning {
  constructor(message) {
    super(message, 401, 'UNAUTHENTICATED')
  }
}

class ForbiddenError extends ResolverWarning {
  constructor(message) {
    super(message, 403, 'FORBIDDEN')
  }
}

class NotFoundError extends ResolverWarning {
  constructor(message) {
    super(message, 404, 'NOT_FOUND')
  }
}

class TooManyRequestsError extends ResolverError {
  constructor(message) {
    super(message, 429, 'TOO_MANY_REQUESTS')
  }
}

const tooManyRequestsStatus = 429
const cancelledRequestStatus = 499
const cancelledErrorCode = 'request_cancelled'

// @vtex/api only sets `code`; 499 ("client closed request") gives it a status like the others.
class RequestCancelledError extends Error {
  constructor(message = 'Request cancelled') {
    super(messageOf(message))
    this.status = cancelledRequestStatus
    this.code = cancelledErrorCode
  }
}

// Names on the prototypes, so that stack headers read `NotFoundError: ...`.
for (const ErrorClass of [
  ResolverError,
  ResolverWarning,
  UserInputError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  RequestCancelledError,
]) {
  Object.defineProperty(ErrorClass.prototype, 'name', { value: ErrorClass.name, writable: true, configurable: true })
}

module.exports = {
  messageOf,
  ResolverError,
  ResolverWarning,
  UserInputError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  RequestCancelledError,
  tooManyRequestsStatus,
  cancelledRequestStatus,
  cancelledErrorCode,
}
