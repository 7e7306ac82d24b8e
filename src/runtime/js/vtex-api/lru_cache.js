'use strict'
// LRUCache: the lru-cache v5 API @vtex/api wraps (max, maxAge/ttl, length, dispose), plus
// CacheLayer's getOrSet and the hit statistics @vtex/api reports as metrics.

const util = require('node:util')

class LRUCache {
  constructor(options = {}) {
    const max = options.max === undefined || options.max === 0 ? Infinity : options.max
    if (typeof max !== 'number' || !(max > 0)) {
      throw new TypeError(`LRUCache: max must be a positive number, got ${util.inspect(options.max)}`)
    }
    this.max = max
    this.ttl = options.ttl || options.maxAge || 0
    this.lengthOf = typeof options.length === 'function' ? options.length : () => 1
    this.onDispose = typeof options.dispose === 'function' ? options.dispose : null
    this.storage = new Map() // insertion order = recency order, oldest first
    this.totalLength = 0
    this.hits = 0
    this.total = 0
    this.disposed = 0
  }

  get size() {
    return this.storage.size
  }
  get itemCount() {
    return this.storage.size
  }
  get length() {
    return this.totalLength
  }

  get(key) {
    this.total += 1
    const entry = this.liveEntry(key)
    if (!entry) return undefined
    this.hits += 1
    this.storage.delete(key)
    this.storage.set(key, entry)
    return entry.value
  }

  peek(key) {
    const entry = this.liveEntry(key)
    return entry ? entry.value : undefined
  }

  has(key) {
    return this.liveEntry(key) !== undefined
  }

  set(key, value, maxAge) {
    const previous = this.storage.get(key)
    if (previous) this.remove(key, previous, false)
    const length = this.lengthOf(value, key)
    if (length > this.max) return false
    const ttl = maxAge || this.ttl
    this.storage.set(key, { value, length, expires: ttl ? Date.now() + ttl : 0 })
    this.totalLength += length
    for (const [oldKey, oldEntry] of this.storage) {
      if (this.totalLength <= this.max) break
      this.remove(oldKey, oldEntry, true)
    }
    return true
  }

  delete(key) {
    const entry = this.storage.get(key)
    if (entry) this.remove(key, entry, true)
  }

  del(key) {
    this.delete(key)
  }

  clear() {
    for (const [key, entry] of this.storage) this.remove(key, entry, true)
  }

  reset() {
    this.clear()
  }

  keys() {
    return [...this.storage.keys()].reverse()
  }

  values() {
    return [...this.storage.values()].reverse().map((entry) => entry.value)
  }

  /** CacheLayer API: the cached value, or the fetcher's `{value, maxAge?}` stored and returned. */
  async getOrSet(key, fetcher) {
    if (this.has(key)) return this.get(key)
    if (!fetcher) return undefined
    const { value, maxAge } = await fetcher()
    this.set(key, value, maxAge)
    return value
  }

  /** Counters since the previous call, then reset (as @vtex/api does for its metrics). */
  getStats(name = 'lru-cache') {
    const stats = {
      disposedItems: this.disposed,
      hitRate: this.total > 0 ? this.hits / this.total : 0,
      hits: this.hits,
      itemCount: this.storage.size,
      length: this.totalLength,
      name,
      total: this.total,
    }
    this.hits = 0
    this.total = 0
    this.disposed = 0
    return stats
  }

  liveEntry(key) {
    const entry = this.storage.get(key)
    if (!entry) return undefined
    if (entry.expires && entry.expires <= Date.now()) {
      this.remove(key, entry, true)
      return undefined
    }
    return entry
  }

  remove(key, entry, dispose) {
    this.storage.delete(key)
    this.totalLength -= entry.length
    if (dispose) {
      this.disposed += 1
      if (this.onDispose) this.onDispose(key, entry.value)
    }
  }
}

module.exports = { LRUCache }
