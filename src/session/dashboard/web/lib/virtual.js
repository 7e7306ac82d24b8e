// Virtual list math: which rows of a long list of fixed-height rows to put in the DOM for a
// scroll position, so 100,000 events cost as many DOM nodes as fit in the window.

/**
 * @param {{scrollTop: number, viewport: number, rowHeight: number, count: number, overscan?: number}} p
 * @returns {{start: number, end: number, top: number, height: number}} rows [start, end) go at
 *   `top` px inside a spacer `height` px tall.
 */
export function visibleRange({ scrollTop, viewport, rowHeight, count, overscan = 8 }) {
  if (!(rowHeight > 0)) throw new Error(`rowHeight must be positive, got ${rowHeight}`)
  const height = count * rowHeight
  if (count === 0) return { start: 0, end: 0, top: 0, height: 0 }
  const maxScroll = Math.max(0, height - viewport)
  const top = Math.min(Math.max(0, scrollTop), maxScroll)
  const first = Math.floor(top / rowHeight)
  const last = Math.ceil((top + Math.max(0, viewport)) / rowHeight)
  const start = Math.max(0, first - overscan)
  const end = Math.min(count, last + overscan)
  return { start, end, top: start * rowHeight, height }
}

/** Whether the window is within `rows` rows of the list's end (time to fetch an older page). */
export function nearEnd({ scrollTop, viewport, rowHeight, count, rows = 20 }) {
  return scrollTop + viewport >= (count - rows) * rowHeight
}

/** The scrollTop that brings row `index` into view, or null when it already is. */
export function scrollToShow({ scrollTop, viewport, rowHeight, index }) {
  const rowTop = index * rowHeight
  if (rowTop < scrollTop) return rowTop
  if (rowTop + rowHeight > scrollTop + viewport) return rowTop + rowHeight - viewport
  return null
}
