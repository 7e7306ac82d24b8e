// Lays out a trace's spans as a waterfall: each span's offset and width as percentages of the
// trace's length, plus a few round ticks for the time axis. Pure (no DOM).

/**
 * @param {{elapsed_ms?: number, spans: {start_ms: number, elapsed_ms: number}[]}} trace
 * @returns {{total: number, rows: {span: object, left: number, width: number}[], ticks: {at: number, left: number}[]}}
 */
export function layoutWaterfall(trace, { minWidth = 0.5 } = {}) {
  const spans = [...(trace?.spans ?? [])].sort((a, b) => (a.start_ms ?? 0) - (b.start_ms ?? 0))
  const ends = spans.map((s) => (s.start_ms ?? 0) + (s.elapsed_ms ?? 0))
  const total = Math.max(trace?.elapsed_ms ?? 0, ...ends, 0)
  const rows = spans.map((span) => {
    if (total <= 0) return { span, left: 0, width: 100 }
    let left = clamp(((span.start_ms ?? 0) / total) * 100, 0, 100)
    // A span too short to see still gets a sliver, kept inside the track.
    const width = clamp(Math.max(((span.elapsed_ms ?? 0) / total) * 100, minWidth), 0, 100)
    if (left + width > 100) left = 100 - width
    return { span, left, width }
  })
  return { total, rows, ticks: ticks(total) }
}

/** About 4–5 ticks at round steps (1, 2, 5 × 10ⁿ ms). */
export function ticks(total, wanted = 4) {
  if (!(total > 0)) return []
  const raw = total / wanted
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)
  const out = []
  for (let at = 0; at <= total + 1e-9; at += step) out.push({ at: round(at), left: (at / total) * 100 })
  return out
}

function clamp(x, lo, hi) {
  return Math.min(hi, Math.max(lo, x))
}

function round(x) {
  return Math.round(x * 1e6) / 1e6
}
