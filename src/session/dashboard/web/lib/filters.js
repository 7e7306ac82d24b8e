// Which events, requests and log lines a page's filters keep — the same rules the session's
// history API applies (spec: /api/events, /api/requests, /api/logs), so a live record is kept
// or not exactly as it would be in a fresh page fetched with those filters.

/** Event ids are the session's 6-hex-digit prefix, a dash and a number (`49deac-5`). */
export const EVENT_ID = /^[0-9a-f]{6}-\d+$/i

/** Whether `q` (trimmed) is an event id, so the filter also opens that event. */
export function looksLikeEventId(q) {
  return EVENT_ID.test(String(q ?? '').trim())
}

export const EVENT_FILTERS = ['sender', 'key', 'app', 'handler', 'outcome', 'q']

/** A filter with only its set fields, trimmed. */
export function cleanFilter(filter, fields = EVENT_FILTERS) {
  const out = {}
  for (const f of fields) {
    const v = filter?.[f]
    if (v != null && String(v).trim() !== '') out[f] = String(v).trim()
  }
  return out
}

/** The query string of a list request: the filter plus paging (`before`, `limit`). */
export function toQuery(filter, paging = {}) {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries({ ...filter, ...paging })) {
    if (v != null && String(v) !== '') params.set(k, String(v))
  }
  const s = params.toString()
  return s ? `?${s}` : ''
}

/**
 * Whether an EventSummary passes the filter. `q` looks in the id, sender and key (the session
 * also looks in the body, which a summary has not: a live event that matches only by its body
 * shows after the next fetch); an exact id matches that event only.
 */
export function matchesEvent(summary, filter) {
  const f = cleanFilter(filter)
  if (f.sender && summary.sender !== f.sender) return false
  if (f.key && summary.key !== f.key) return false
  if (f.outcome && summary.outcome !== f.outcome) return false
  if (f.app || f.handler) {
    const ok = (summary.deliveries ?? []).some(
      (d) => (!f.app || d.app === f.app || appName(d.app) === f.app) && (!f.handler || d.handler === f.handler),
    )
    if (!ok) return false
  }
  if (f.q) {
    if (looksLikeEventId(f.q)) return summary.id.toLowerCase() === f.q.toLowerCase()
    const q = f.q.toLowerCase()
    return [summary.id, summary.sender, summary.key].some((s) =>
      String(s ?? '')
        .toLowerCase()
        .includes(q),
    )
  }
  return true
}

/** Whether a RequestSummary passes `{app, q}` (q over path, route, operation, method, status). */
export function matchesRequest(summary, filter) {
  const f = cleanFilter(filter, ['app', 'q'])
  if (f.app && summary.app !== f.app && appName(summary.app) !== f.app) return false
  if (f.q) {
    const q = f.q.toLowerCase()
    const fields = [summary.path, summary.route, summary.operation, summary.method, summary.status, summary.user]
    return fields.some((s) =>
      String(s ?? '')
        .toLowerCase()
        .includes(q),
    )
  }
  return true
}

export const LEVELS = ['debug', 'info', 'warn', 'error']

/** Whether `level` is at least `minimum` (an unknown level counts as info). */
export function atLeast(level, minimum) {
  if (!minimum) return true
  const rank = (l) => {
    const i = LEVELS.indexOf(l)
    return i < 0 ? 1 : i
  }
  return rank(level) >= rank(minimum)
}

/** Whether a log line passes `{app, level, q}` (q over the message and handler). */
export function matchesLog(line, filter) {
  const f = cleanFilter(filter, ['app', 'level', 'q'])
  if (f.app && line.app !== f.app && appName(line.app) !== f.app) return false
  if (!atLeast(line.level, f.level)) return false
  if (f.q) {
    const q = f.q.toLowerCase()
    return [line.message, line.handler].some((s) =>
      String(s ?? '')
        .toLowerCase()
        .includes(q),
    )
  }
  return true
}

function appName(id) {
  const at = String(id ?? '').lastIndexOf('@')
  return at > 0 ? id.slice(0, at) : id
}
