'use strict'
// Values made on first read: the stand-in's rarely used parts (not-emulated clients, the local
// platform clients, disk caches) cost an app nothing until it touches them.

/**
 * Defines `object[name]` as `make()`, called on the first read and kept from then on. The
 * property stays enumerable, so spreading or `import *` sees it like any other.
 */
function lazy(object, name, make) {
  Object.defineProperty(object, name, {
    enumerable: true,
    configurable: true,
    get() {
      const value = make()
      Object.defineProperty(object, name, { value, enumerable: true, configurable: true, writable: true })
      return value
    },
    set(value) {
      Object.defineProperty(object, name, { value, enumerable: true, configurable: true, writable: true })
    },
  })
}

module.exports = { lazy }
