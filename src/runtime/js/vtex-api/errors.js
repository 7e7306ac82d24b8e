'use strict'
// @vtex/api's error classes. A route that throws one answers with its `status` (host/routes.js).

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

class UserInputError extends ResolverError {
  constructor(message) {
    super(message, 400, 'USER_INPUT_ERROR')
  }
}

class AuthenticationError extends ResolverError {
  constructor(message) {
    super(message, 401, 'UNAUTHENTICATED')
  }
}

class ForbiddenError extends ResolverError {
  constructor(message) {
    super(message, 403, 'FORBIDDEN')
  }
}

class NotFoundError extends ResolverError {
  constructor(message) {
    super(message, 404, 'NOT_FOUND')
  }
}

class TooManyRequestsError extends ResolverError {
  constructor(message) {
    super(message, 429, 'TOO_MANY_REQUESTS')
  }
}

// @vtex/api only sets `code`; 499 ("client closed request") gives it a status like the others.
class RequestCancelledError extends Error {
  constructor(message = 'Request cancelled') {
    super(messageOf(message))
    this.status = 499
    this.code = 'request_cancelled'
  }
}

// Names on the prototypes, so that stack headers read `NotFoundError: ...`.
for (const ErrorClass of [
  ResolverError,
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
  UserInputError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  RequestCancelledError,
}
