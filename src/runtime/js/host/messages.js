'use strict'
// The messages the host sends ioctl, each built here and nowhere else: the JavaScript side of
// src/runtime/protocol.rs. Every field is snake_case, as on the rest of ioctl's wire (its
// control API, its streams). src/runtime/fixtures/host-messages/ holds an example line of each
// message, both directions, which test/host_messages.test.js checks this side against and
// protocol.rs's tests the Rust side: a field renamed on one side fails the other's tests.

/** A warm standby host is up and waits for `load`. */
function standby() {
  return { type: 'standby' }
}

/**
 * The host runs under --inspect: its inspector's WebSocket URL; `waiting` when it waits for a
 * debugger before it requires the app (--inspect-brk).
 */
function inspector(url, waiting) {
  return { type: 'inspector', url, waiting }
}

/** The answer to ioctl's `ping` (the event loop is not blocked). */
function pong(id) {
  return { type: 'pong', id: id === undefined ? null : id }
}

/**
 * The app's Service loaded: what it declares, where its routes are served (`routesSocket`, null
 * without routes or GraphQL), what the next standby should preload and how long loading took
 * (`timings`: {requireMs, schemaMs, runtimeModules, cachedModules}).
 */
function loaded({ events, badEvents, routes, clientOptions, routesSocket, graphql, preload, timings }) {
  const message = {
    type: 'loaded',
    events,
    bad_events: badEvents,
    routes,
    client_options: clientOptions,
    graphql,
    preload,
    timings: {
      require_ms: timings.requireMs,
      schema_ms: timings.schemaMs,
      runtime_modules: timings.runtimeModules,
      cached_modules: timings.cachedModules,
    },
  }
  if (routesSocket != null) message.routes_socket = routesSocket
  return message
}

/** Loading the app failed (the host exits after this); `diagnostics`: [{file, line, column, message}]. */
function loadError(message, stack, diagnostics) {
  const answer = { type: 'load_error', message, stack }
  if (diagnostics != null) answer.diagnostics = diagnostics
  return answer
}

/** One log line, attributed to a handler and its delivery (null for a route or none). */
function log(level, message, handler, delivery) {
  return { type: 'log', level, message, handler, delivery }
}

/** One attempt of delivery `delivery` finished: ok unless `error` ({name, message, stack}). */
function result(delivery, elapsedMs, error) {
  if (error == null) return { type: 'result', delivery, ok: true, elapsed_ms: elapsedMs }
  return { type: 'result', delivery, ok: false, elapsed_ms: elapsedMs, error }
}

/**
 * One call of a local platform client ({service, method, ...its arguments}), answered by
 * `platform_result`; `trace` (when the call was made inside a request or delivery) names it.
 */
function platform(request, call, trace) {
  if (trace == null) return { type: 'platform', request, call }
  return { type: 'platform', request, trace, call }
}

/**
 * `send_event`, serialized by hand: the body once, when the app calls sendEvent (a body that
 * cannot be serialized is the app's error then), the request id once a slot is free. Returns
 * `(request) => line`.
 */
function sendEventLine(subject, key, bodyJson) {
  const rest = `"subject":${JSON.stringify(subject)},"key":${JSON.stringify(key)},"body":${bodyJson}}`
  return (request) => `{"type":"send_event","request":${request},${rest}`
}

module.exports = { standby, inspector, pong, loaded, loadError, log, result, platform, sendEventLine }
