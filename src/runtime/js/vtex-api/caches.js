'use strict'
// @vtex/api's caches: LRUCache (its wrapper of the lru-cache package, counting hits and
// evictions for metrics), DiskCache and LRUDiskCache (JSON files under a folder the app names,
// as on VTEX; an unreadable file is a miss, a failed write answers false) and MultilayeredCache
// (layers tried in order, the missed ones filled on the way back).

const fs = require('node:fs/promises')
const { existsSync } = require('node:fs')
const path = require('node:path')
const packages = require('../packages')

/** lru-cache 5 (@vtex/api's): max, maxAge, length, stale, dispose; loaded by the first cache made. */
const LRU = () => packages.loadForApp('lru-cache')

/**
 * @vtex/api's LRUCache: get, set, has and getOrSet on an lru-cache, with hit and eviction counts.
 * As on VTEX, the cache counts evictions in place of the app's own `dispose`, and a key set again
 * is no eviction (`noDisposeOnSet`).
 */
/**
 * A cache's counters since the previous call, with its lru-cache's size, then reset (as
 * @vtex/api reports them as metrics; its LRUCache and LRUDiskCache count the same way).
 */
function takeStats(cache, storage, name) {
  const stats = {
    disposedItems: cache.disposed,
    hitRate: cache.total > 0 ? cache.hits / cache.total : undefined,
    hits: cache.hits,
    itemCount: storage.itemCount,
    length: storage.length,
    max: storage.max,
    name,
    total: cache.total,
  }
  cache.hits = 0
  cache.total = 0
  cache.disposed = 0
  return stats
}

class LRUCache {
  constructor(options) {
    this.hits = 0
    this.total = 0
    this.disposed = 0
    this.storage = new (LRU())({ ...options, dispose: () => (this.disposed += 1), noDisposeOnSet: true })
    this.multilayer = new MultilayeredCache([this])
  }
  get(key) {
    const value = this.storage.get(key)
    if (this.storage.has(key)) this.hits += 1
    this.total += 1
    return value
  }
  /** The cached value, or the fetcher's `{value, maxAge?}`, stored and returned. */
  async getOrSet(key, fetcher) {
    return this.multilayer.get(key, fetcher)
  }
  set(key, value, maxAge) {
    return this.storage.set(key, value, maxAge)
  }
  has(key) {
    return this.storage.has(key)
  }
  /** Counters since the previous call, then reset (as @vtex/api reports them as metrics). */
  getStats(name = 'lru-cache') {
    return takeStats(this, this.storage, name)
  }
}

async function readJSON(file) {
  return JSON.parse(await fs.readFile(file, 'utf8'))
}

async function writeJSON(file, value) {
  await fs.mkdir(path.dirname(file), { recursive: true })
  await fs.writeFile(file, JSON.stringify(value))
}

class DiskCache {
  constructor(cachePath, readFile = readJSON, writeFile = writeJSON) {
    this.cachePath = cachePath
    this.readFile = readFile
    this.writeFile = writeFile
    this.hits = 0
    this.total = 0
  }
  getPathKey(key) {
    return path.join(this.cachePath, key)
  }
  has(key) {
    return existsSync(this.getPathKey(key))
  }
  async get(key) {
    this.total += 1
    try {
      const data = await this.readFile(this.getPathKey(key))
      this.hits += 1
      return data
    } catch {
      return null
    }
  }
  async set(key, value) {
    try {
      await this.writeFile(this.getPathKey(key), value)
      return true
    } catch {
      return false
    }
  }
  getStats(name = 'disk-cache') {
    const stats = { hits: this.hits, name, total: this.total }
    this.hits = 0
    this.total = 0
    return stats
  }
}

/** Files on disk, with an in-memory LRU index of their times of death (`max`, `maxAge`). */
class LRUDiskCache {
  constructor(cachePath, options = {}, readFile = readJSON, writeFile = writeJSON) {
    this.files = new DiskCache(cachePath, readFile, writeFile)
    this.cachePath = cachePath
    this.hits = 0
    this.total = 0
    this.disposed = 0
    this.lruStorage = new (LRU())({
      ...options,
      dispose: (key) => {
        this.disposed += 1
        fs.rm(this.files.getPathKey(key), { force: true }).catch(() => {})
      },
      noDisposeOnSet: true,
    })
  }
  has(key) {
    return this.lruStorage.has(key)
  }
  async get(key) {
    const timeOfDeath = this.lruStorage.get(key)
    this.total += 1
    if (timeOfDeath === undefined) return undefined
    const data = await this.files.get(key)
    if (data !== null) this.hits += 1
    if (timeOfDeath < Date.now()) this.lruStorage.del(key)
    return data
  }
  async set(key, value, maxAge) {
    this.lruStorage.set(key, maxAge ? maxAge + Date.now() : NaN, maxAge)
    return this.files.set(key, value)
  }
  getStats(name = 'disk-lru-cache') {
    return takeStats(this, this.lruStorage, name)
  }
}

class MultilayeredCache {
  constructor(caches) {
    this.caches = caches
    this.hits = 0
    this.total = 0
  }
  async get(key, fetcher) {
    this.total += 1
    let value
    let maxAge
    let found = -1
    for (let i = 0; i < this.caches.length; i += 1) {
      const [got, has] = await Promise.all([this.caches[i].get(key), this.caches[i].has(key)])
      value = got
      if (has) {
        this.hits += 1
        found = i
        break
      }
    }
    if (found === -1) {
      if (!fetcher) return undefined
      ;({ value, maxAge } = await fetcher())
      found = this.caches.length
    }
    await Promise.all(this.caches.slice(0, found).map((cache) => cache.set(key, value, maxAge)))
    return value
  }
  async set(key, value, maxAge) {
    return (await Promise.all(this.caches.map((cache) => cache.set(key, value, maxAge)))).some(Boolean)
  }
  async has(key) {
    return (await Promise.all(this.caches.map((cache) => cache.has(key)))).some(Boolean)
  }
  getStats(name = 'multilayred-cache') {
    const stats = {
      hitRate: this.total > 0 ? this.hits / this.total : undefined,
      hits: this.hits,
      name,
      total: this.total,
    }
    this.resetCounters()
    return stats
  }
  resetCounters() {
    this.hits = 0
    this.total = 0
  }
}

module.exports = { LRUCache, DiskCache, LRUDiskCache, MultilayeredCache }
