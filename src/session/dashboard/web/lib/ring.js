// A bounded list, newest first, that grows at both ends in O(1): live records come in at the
// front, older pages fetched with `before=` go at the back. At capacity, adding at one end
// drops from the other, so memory stays bounded whatever the session sends.

export class Ring {
  constructor(capacity) {
    if (!(capacity > 0)) throw new Error(`Ring capacity must be positive, got ${capacity}`)
    this.capacity = capacity
    this.buf = new Array(capacity)
    this.start = 0 // index of the newest item
    this.length = 0
  }

  /** Adds the newest item; returns the oldest one it dropped, or undefined. */
  pushNewest(item) {
    this.start = (this.start - 1 + this.capacity) % this.capacity
    const dropped = this.length === this.capacity ? this.buf[this.start] : undefined
    this.buf[this.start] = item
    if (this.length < this.capacity) this.length++
    return dropped
  }

  /** Adds an item older than all held; returns the newest one it dropped, or undefined. */
  pushOldest(item) {
    if (this.length < this.capacity) {
      this.buf[(this.start + this.length) % this.capacity] = item
      this.length++
      return undefined
    }
    const dropped = this.buf[this.start]
    this.buf[this.start] = item
    this.start = (this.start + 1) % this.capacity
    return dropped
  }

  /** The i-th item, 0 = newest. */
  get(i) {
    if (i < 0 || i >= this.length) return undefined
    return this.buf[(this.start + i) % this.capacity]
  }

  newest() {
    return this.get(0)
  }

  oldest() {
    return this.get(this.length - 1)
  }

  clear() {
    this.buf = new Array(this.capacity)
    this.start = 0
    this.length = 0
  }

  /** Newest first. */
  toArray() {
    const out = new Array(this.length)
    for (let i = 0; i < this.length; i++) out[i] = this.get(i)
    return out
  }

  /** Newest first, only the items `keep` accepts. */
  filter(keep) {
    const out = []
    for (let i = 0; i < this.length; i++) {
      const item = this.get(i)
      if (keep(item)) out.push(item)
    }
    return out
  }
}
