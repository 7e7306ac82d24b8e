'use strict'
// ioctl's stand-in for the `@vtex/clients` npm package, loaded by every `require('@vtex/clients')`
// of a service run by ioctl (host/modules.js redirects the resolution here, as for @vtex/api).
// Its clients call VTEX's commerce APIs: each class extends the @vtex/api base its real
// counterpart extends, constructs fine, and any method call rejects naming the class and method.
// masterDataFor and vbaseFor delegate to ctx.clients.masterdata and ctx.clients.vbase, so they
// work as far as those do. Every runtime export of the real package exists: see
// test/exports.test.js.

const vtexApi = require('../vtex-api')
const { notEmulatedClient } = require('../vtex-api/not_emulated')

/** A client class of @vtex/clients: a method call says `Catalog.getSkuById() (@vtex/clients)`. */
const commerceClient = (className) =>
  notEmulatedClient(className, null, (method) => `${className}.${method}() (@vtex/clients)`)

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

module.exports = {
  ...Object.fromEntries(CLASSES.map((name) => [name, commerceClient(name)])),
  masterDataFor,
  vbaseFor,
}
