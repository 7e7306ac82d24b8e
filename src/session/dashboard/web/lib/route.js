// The dashboard's hash routes: `#/events/<id>` → {page: 'events', id}. Pure, so the router's
// table is tested without a browser.

export const PAGES = ['overview', 'events', 'dead-letters', 'requests', 'logs', 'data']
export const DATA_TABS = ['settings', 'vbase', 'masterdata']

/** @returns {{page: string, id?: string, tab?: string}} */
export function parseHash(hash) {
  const path = String(hash ?? '')
    .replace(/^#/, '')
    .replace(/^\//, '')
  const [page, ...rest] = path.split('/')
  const tail = rest.length ? decodeURIComponent(rest.join('/')) : undefined
  if (!PAGES.includes(page)) return { page: 'overview' }
  if (page === 'data') return { page, tab: DATA_TABS.includes(tail) ? tail : 'settings' }
  if ((page === 'events' || page === 'requests') && tail) return { page, id: tail }
  return { page }
}

export function href(page, id) {
  return id == null ? `#/${page}` : `#/${page}/${encodeURIComponent(id)}`
}

/** The parameters of a service.json route path: `/_v/order/:id/*rest` → ['id', 'rest']. */
export function routeParams(template) {
  return [...String(template ?? '').matchAll(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1])
}

/**
 * The path with each `:param` (and `*param`) replaced by its value, URL-encoded (a `*` param
 * keeps its slashes); a parameter without a value stays as written, so it shows what is missing.
 */
export function fillRoute(template, values) {
  return String(template ?? '').replace(/([:*])([A-Za-z_][A-Za-z0-9_]*)/g, (whole, kind, name) => {
    const v = values?.[name]
    if (v == null || v === '') return whole
    return kind === '*' ? String(v).split('/').map(encodeURIComponent).join('/') : encodeURIComponent(v)
  })
}
