'use strict'
// ioctl's `@vtex/clients`, loaded by every `require('@vtex/clients')` of a service run by ioctl
// (host/modules.js redirects the resolution here, as for @vtex/api). When the app has the real
// package installed (node/node_modules/@vtex/clients, as every app that uses it does), its
// commerce classes (Catalog, OMS, Checkout, Logistics, ...) are the real ones, loaded on ioctl's
// @vtex/api: they extend its JanusClient/AppClient/ExternalClient, so their real calls, VTEX's
// paths, cross ioctl's boundary (a fixture or --cloud answers them). Without it, each class
// extends the @vtex/api base its real counterpart extends, constructs fine, and a method call
// rejects naming the class and method. masterDataFor and vbaseFor are always ioctl's: they go
// through ctx.clients.masterdata and ctx.clients.vbase, which run locally. Every runtime export
// of the real package exists: see test/exports.test.js.

const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const vtexApi = require('../vtex-api')
const { notEmulatedClient } = require('../vtex-api/not_emulated')

const INSTALL_HINT =
  '; install @vtex/clients in node/ (npm install) and ioctl runs the real client, whose calls a fixture or --cloud answers'

/** A client class of @vtex/clients: a method call says `Catalog.getSkuById() (@vtex/clients)`. */
const commerceClient = (className) =>
  notEmulatedClient(className, null, (method) => `${className}.${method}() (@vtex/clients)`, INSTALL_HINT)

/**
 * The app's own @vtex/clients, found as the app's require would find it (from node/ up), loaded
 * with its `require('@vtex/api')` answered by ioctl's stand-in; null when the app has none, or
 * it does not load (said once in the log).
 */
function appsOwnCopy() {
  const root = process.env.IOCTL_APP_ROOT
  if (!root) return null
  for (const dir of Module._nodeModulePaths(path.join(root, 'node'))) {
    const folder = path.join(dir, '@vtex', 'clients')
    if (!fs.existsSync(path.join(folder, 'package.json'))) continue
    try {
      return require(folder)
    } catch (err) {
      vtexApi.__ioctl.log(
        'warn',
        `${folder} does not load on ioctl's @vtex/api (${err.message}): its classes fail when called instead`,
      )
      return null
    }
  }
  return null
}

/** The stand-in's own ctx.clients.<key> for a client's IOContext and options. */
function platformClient(key, context, options) {
  return new vtexApi.IOClients({ [key]: options }, context)[key]
}

/**
 * masterDataFor(entity, providerAppId?): a client of one Master Data entity of the app, named
 * `{vendor}_{name}_{entity}` with the schema `{version}-{workspace}`, as @vtex/clients does.
 * (The real one keeps the last call's entity for every class; here each class keeps its own.)
 */
function masterDataFor(entityName, providerAppId) {
  const normalize = (name) => name.replace(/(\.)|-|:|@/gi, '_')
  return class MasterDataEntityV1 extends vtexApi.JanusClient {
    constructor(context, options) {
      super(context, options)
      const app = vtexApi.parseAppId(providerAppId || process.env.VTEX_APP_ID || '')
      this.dataEntity = normalize(`${app.name}_${entityName}`)
      this.schema = `${app.version}${context && context.production ? '' : `-${context && context.workspace}`}`
      this.inner = platformClient('masterdata', context, options)
    }
    save(fields) {
      return this.inner.createDocument({ dataEntity: this.dataEntity, fields, schema: this.schema })
    }
    update(id, fields) {
      return this.inner.updatePartialDocument({ dataEntity: this.dataEntity, id, fields, schema: this.schema })
    }
    saveOrUpdate(fields) {
      return this.inner.createOrUpdateEntireDocument({ dataEntity: this.dataEntity, fields, schema: this.schema })
    }
    saveOrUpdatePartial(fields) {
      return this.inner.createOrUpdatePartialDocument({ dataEntity: this.dataEntity, fields, schema: this.schema })
    }
    delete(id) {
      return this.inner.deleteDocument({ dataEntity: this.dataEntity, id })
    }
    search(pagination, fields, sort, where) {
      const query = { dataEntity: this.dataEntity, pagination, fields: fields.map(String), sort, where }
      return this.inner.searchDocuments({ ...query, schema: this.schema })
    }
    searchRaw(pagination, fields, sort, where) {
      const query = { dataEntity: this.dataEntity, pagination, fields: fields.map(String), sort, where }
      return this.inner.searchDocumentsWithPaginationInfo({ ...query, schema: this.schema })
    }
    get(id, fields) {
      return this.inner.getDocument({ dataEntity: this.dataEntity, id, fields: fields.map(String) })
    }
    async scroll(input) {
      const { mdToken, data } = await this.inner.scrollDocuments({
        ...input,
        dataEntity: this.dataEntity,
        fields: input.fields.map(String),
        schema: this.schema,
      })
      return { mdToken, data }
    }
  }
}

/** vbaseFor(bucket): a client of one VBase bucket of the app, over ctx.clients.vbase. */
function vbaseFor(bucket) {
  return class VBaseEntityRepository extends vtexApi.VBase {
    constructor(context, options) {
      super(context, options)
      this.inner = platformClient('vbase', context, options)
    }
    save(key, entity, ifMatch) {
      return this.inner.saveJSON(bucket, key, entity, undefined, ifMatch)
    }
    get(key, nullIfNotFound = false) {
      return this.inner.getJSON(bucket, key, nullIfNotFound)
    }
    getRaw(key, nullIfNotFound = false) {
      return this.inner.getRawJSON(bucket, key, nullIfNotFound)
    }
    async getWithMetadata(key, nullIfNotFound = false) {
      const res = await this.getRaw(key, nullIfNotFound)
      const metadata = { hash: res.headers && res.headers.etag }
      if (res.status === 404 && nullIfNotFound) return { entity: null, metadata }
      return { entity: res.data, metadata }
    }
    trySaveIfHashMatches(key, hash, entity) {
      return this.inner.saveJSON(bucket, key, entity, undefined, hash)
    }
  }
}

const CLASSES = [
  'Affiliate',
  'Catalog',
  'Checkout',
  'Conditions',
  'Logistics',
  'MasterDataEntity',
  'OMS',
  'OMSProxy',
  'RatesAndBenefits',
  'Search',
  'Suggestions',
]

const real = appsOwnCopy()

module.exports = {
  ...(real || Object.fromEntries(CLASSES.map((name) => [name, commerceClient(name)]))),
  masterDataFor,
  vbaseFor,
}
