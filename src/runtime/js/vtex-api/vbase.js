'use strict'
// ctx.clients.vbase: files per app in buckets of the workspace, in ioctl's local storage, with
// @vtex/api's signatures: JSON and raw files, streams, gzip and ttl flags, listings with a
// `next` marker, and `ifMatch` saves that fail with 409 on a stale hash.

const { Readable } = require('node:stream')
const { notEmulatedClient } = require('./not_emulated')
const { platformCall } = require('./local_platform')

const JSON_TYPE = 'application/json'

/** The content of a save: a Buffer, a string, a typed array, or a readable stream. */
async function bytesOf(content) {
  if (Buffer.isBuffer(content)) return content
  if (typeof content === 'string') return Buffer.from(content)
  if (content instanceof Uint8Array) return Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  if (content && typeof content[Symbol.asyncIterator] === 'function') {
    const chunks = []
    for await (const chunk of content) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    return Buffer.concat(chunks)
  }
  throw new TypeError('saveFile needs a Buffer, a string or a readable stream')
}

function headersOf(file) {
  const headers = { 'content-type': file.content_type, etag: file.hash }
  if (file.gzip) headers['x-vtex-content-encoding'] = 'gzip'
  return headers
}

class VBase extends notEmulatedClient('VBase', 'vbase') {
  call(label, caller, args) {
    return platformCall(`vbase.${label}`, { service: 'vbase', ...args }, caller)
  }

  /** The JSON at `path`; a missing file rejects with status 404, or is null with `nullIfNotFound`. */
  async getJSON(bucket, path, nullIfNotFound) {
    const raw = await this.getRawJSON(bucket, path, nullIfNotFound)
    return raw === null ? null : raw.data
  }

  /** `{data, headers, status}`: the JSON and its etag (the hash `ifMatch` compares with). */
  getRawJSON(bucket, path, nullIfNotFound) {
    return this.fileOrNull('getRawJSON', VBase.prototype.getRawJSON, bucket, path, nullIfNotFound).then((file) => {
      if (file === null) return null
      const text = Buffer.from(file.data, 'base64').toString('utf8')
      let data
      try {
        data = JSON.parse(text)
      } catch (err) {
        throw new SyntaxError(`vbase.getJSON('${bucket}', '${path}'): the file is not JSON (${err.message})`)
      }
      return { data, headers: headersOf(file), status: 200 }
    })
  }

  fileOrNull(label, caller, bucket, path, nullIfNotFound) {
    const args = { method: 'getFile', bucket: String(bucket), path: String(path) }
    return this.call(`${label}('${bucket}', '${path}')`, caller, args).catch((err) => {
      if (nullIfNotFound && err.status === 404) return null
      throw err
    })
  }

  saveJSON(bucket, path, data, ifMatch) {
    const body = Buffer.from(JSON.stringify(data === undefined ? null : data))
    return this.save('saveJSON', VBase.prototype.saveJSON, bucket, path, body, JSON_TYPE, false, undefined, ifMatch)
  }

  /** `{data: Buffer, headers}` of the file at `path` (404 when missing). */
  getFile(bucket, path) {
    return this.fileOrNull('getFile', VBase.prototype.getFile, bucket, path, false).then((file) => ({
      data: Buffer.from(file.data, 'base64'),
      headers: headersOf(file),
    }))
  }

  /** The file at `path` as a readable stream. */
  getFileStream(bucket, path) {
    return this.fileOrNull('getFileStream', VBase.prototype.getFileStream, bucket, path, false).then((file) => {
      const stream = Readable.from([Buffer.from(file.data, 'base64')])
      stream.headers = headersOf(file)
      return stream
    })
  }

  /**
   * saveFile(bucket, path, streamOrBuffer, gzip = true, ttl?, tracingConfig?, ifMatch?): `ttl`
   * in seconds; the 6th argument may also be the ifMatch hash itself.
   */
  async saveFile(bucket, path, content, gzip = true, ttl, tracingConfig, ifMatch) {
    const match = typeof tracingConfig === 'string' ? tracingConfig : ifMatch
    const type = (content && content.headers && content.headers['content-type']) || 'application/octet-stream'
    const bytes = await bytesOf(content)
    return this.save('saveFile', VBase.prototype.saveFile, bucket, path, bytes, type, gzip, ttl, match)
  }

  save(label, caller, bucket, path, bytes, contentType, gzip, ttl, ifMatch) {
    const args = {
      method: 'saveFile',
      bucket: String(bucket),
      path: String(path),
      data: bytes.toString('base64'),
      content_type: contentType,
      gzip: Boolean(gzip),
    }
    if (ttl != null) args.ttl = Number(ttl)
    if (ifMatch != null) args.if_match = String(ifMatch)
    return this.call(`${label}('${bucket}', '${path}')`, caller, args).then(() => undefined)
  }

  deleteFile(bucket, path) {
    const args = { method: 'deleteFile', bucket: String(bucket), path: String(path) }
    return this.call(`deleteFile('${bucket}', '${path}')`, VBase.prototype.deleteFile, args).then(() => undefined)
  }

  /** listFiles(bucket, prefix | {prefix, next (or _next, marker), limit (or _limit)}) -> {data: [{path, hash}], next}. */
  listFiles(bucket, options) {
    const opts = typeof options === 'string' ? { prefix: options } : options || {}
    const args = { method: 'listFiles', bucket: String(bucket) }
    if (opts.prefix != null) args.prefix = String(opts.prefix)
    const marker = opts.next != null ? opts.next : opts._next != null ? opts._next : opts.marker
    if (marker != null) args.marker = String(marker)
    const limit = opts.limit != null ? opts.limit : opts._limit
    if (limit != null) args.limit = Number(limit)
    return this.call(`listFiles('${bucket}')`, VBase.prototype.listFiles, args)
  }
}

module.exports = { VBase, bytesOf }
