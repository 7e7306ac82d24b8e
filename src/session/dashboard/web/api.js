// The dashboard's JSON API client: relative URLs under /_ioctl/api/ (so the browser sends the
// page cookie and its same-origin headers by itself), JSON in and out, and
// `Content-Type: application/json` on every request that changes something — DELETE too,
// with `{}` — since the session refuses a mutation without it (spec: Page and login).

export const BASE = '/_ioctl/api'

/** An API error: the HTTP status, the ErrorBody's `code`, and its `fields` (400) or `hash` (412). */
export class ApiError extends Error {
  constructor(status, body, what) {
    const text = body?.error || (typeof body === 'string' && body) || `HTTP ${status}`
    super(`${what}: ${text}`)
    this.status = status
    this.code = body?.code ?? (status === 401 ? 'unauthorized' : 'http_' + status)
    this.fields = Array.isArray(body?.fields) ? body.fields : []
    this.body = body
  }
}

/**
 * @param {string} path under /_ioctl/api, starting with / (`/events?limit=100`)
 * @param {{method?: string, body?: any, signal?: AbortSignal}} [opts]
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json' }, signal, credentials: 'same-origin' }
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body ?? {})
  }
  const what = `${method} ${BASE}${path}`
  let response
  try {
    response = await fetch(BASE + path, init)
  } catch (e) {
    if (e.name === 'AbortError') throw e
    throw new ApiError(0, { code: 'unreachable', error: 'the session does not answer (did `ioctl link` stop?)' }, what)
  }
  const text = await response.text()
  let parsed = text
  if (text && (response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new ApiError(response.status, { code: 'bad_json', error: 'the session answered with broken JSON' }, what)
    }
  }
  if (!response.ok) {
    if (response.status === 401) {
      parsed = {
        code: 'unauthorized',
        error: 'this page has no login any more: run `ioctl dashboard` for a fresh login link',
      }
    }
    throw new ApiError(response.status, parsed, what)
  }
  return parsed === '' ? {} : parsed
}

export const get = (path, opts) => api(path, { ...opts, method: 'GET' })
export const post = (path, body, opts) => api(path, { ...opts, method: 'POST', body })
export const del = (path, opts) => api(path, { ...opts, method: 'DELETE', body: {} })

/** Encodes one path segment (`vtex.app@1.0.0`, a bucket name, a document id). */
export const seg = (s) => encodeURIComponent(String(s))
