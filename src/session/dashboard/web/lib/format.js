// How the dashboard shows times, durations and sizes: one place, so every page reads the same.

const pad = (n, w = 2) => String(n).padStart(w, '0')

/** `HH:MM:SS.mmm` in local time, as the link terminal prints it; the input as is when unparsable. */
export function formatTime(rfc3339) {
  if (!rfc3339) return ''
  const d = new Date(rfc3339)
  if (Number.isNaN(d.getTime())) return String(rfc3339)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}

/** `YYYY-MM-DD HH:MM:SS` in local time, for a title or a detail view. */
export function formatDateTime(rfc3339) {
  if (!rfc3339) return ''
  const d = new Date(rfc3339)
  if (Number.isNaN(d.getTime())) return String(rfc3339)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatTime(rfc3339).slice(0, 8)}`
}

/** A duration in milliseconds: `0.98 ms`, `12 ms`, `1.25 s`, `2 min 5 s`. */
export function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return ''
  if (ms < 0) ms = 0
  if (ms < 10) return `${trim(ms.toFixed(2))} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${trim((ms / 1000).toFixed(2))} s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.round((ms % 60_000) / 1000)
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`
}

/** A size in bytes with binary units: `512 B`, `1.5 KiB`, `86.2 MiB`. */
export function formatBytes(n) {
  if (n == null || !Number.isFinite(n)) return ''
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${trim(n.toFixed(1))} ${units[i]}`
}

/** A count with thousands separators that do not depend on the browser's locale: `100 000`. */
export function formatCount(n) {
  if (n == null) return '0'
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f')
}

/** `vendor.name@1.2.3` → { name: 'vendor.name', version: '1.2.3' }. */
export function splitAppId(id) {
  const at = String(id).lastIndexOf('@')
  return at > 0 ? { name: id.slice(0, at), version: id.slice(at + 1) } : { name: String(id), version: '' }
}

function trim(fixed) {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed
}
