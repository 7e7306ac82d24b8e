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
