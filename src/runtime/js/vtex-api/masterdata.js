'use strict'
// ctx.clients.masterdata: Master Data v2 documents of the account, in ioctl's local storage,
// with @vtex/clients' signatures (objects with dataEntity, id, fields, where, pagination...).

const { notEmulatedClient } = require('./not_emulated')
const { platformCall } = require('./local_platform')

const fieldList = (fields) => (Array.isArray(fields) ? fields.map(String) : fields ? [String(fields)] : [])

class MasterData extends notEmulatedClient('MasterData', 'masterdata') {
  call(label, caller, args) {
    return platformCall(`masterdata.${label}`, { service: 'masterdata', ...args }, caller)
  }

  write(mode, caller, { dataEntity, id, fields, schema } = {}) {
    const args = { method: 'write', mode, data_entity: dataEntity, fields: fields === undefined ? {} : fields }
    if (id != null) args.id = String(id)
    if (schema != null) args.schema = String(schema)
    return this.call(`${mode}('${dataEntity}')`, caller, args)
  }

  /** -> {Id, Href, DocumentId} */
  createDocument(options) {
    return this.write('createDocument', MasterData.prototype.createDocument, options)
  }

  createOrUpdateEntireDocument(options) {
    return this.write('createOrUpdateEntireDocument', MasterData.prototype.createOrUpdateEntireDocument, options)
  }

  createOrUpdatePartialDocument(options) {
    return this.write('createOrUpdatePartialDocument', MasterData.prototype.createOrUpdatePartialDocument, options)
  }

  updateEntireDocument(options) {
    return this.write('updateEntireDocument', MasterData.prototype.updateEntireDocument, options)
  }

  updatePartialDocument(options) {
    return this.write('updatePartialDocument', MasterData.prototype.updatePartialDocument, options)
  }

  getDocument({ dataEntity, id, fields } = {}) {
    const args = { method: 'getDocument', data_entity: dataEntity, id: String(id), fields: fieldList(fields) }
    return this.call(`getDocument('${dataEntity}', '${id}')`, MasterData.prototype.getDocument, args)
  }

  deleteDocument({ dataEntity, id } = {}) {
    const args = { method: 'deleteDocument', data_entity: dataEntity, id: String(id) }
    return this.call(`deleteDocument('${dataEntity}', '${id}')`, MasterData.prototype.deleteDocument, args).then(
      () => undefined,
    )
  }

  /** `schema`: only the documents that match that schema of the entity (its v-default-fields when no fields). */
  search(caller, { dataEntity, fields, where, pagination, sort, schema } = {}) {
    const { page = 1, pageSize = 15 } = pagination || {}
    const args = {
      method: 'searchDocuments',
      data_entity: dataEntity,
      fields: fieldList(fields),
      page,
      page_size: pageSize,
    }
    if (where != null) args.where = String(where)
    if (sort != null) args.sort = String(sort)
    if (schema != null) args.schema = String(schema)
    return this.call(`searchDocuments('${dataEntity}')`, caller, args).then((answer) => ({
      data: answer.data,
      pagination: { page, pageSize, total: answer.total },
    }))
  }

  /** The page's documents. */
  searchDocuments(options) {
    return this.search(MasterData.prototype.searchDocuments, options).then((answer) => answer.data)
  }

  /** -> {data, pagination: {page, pageSize, total}} */
  searchDocumentsWithPaginationInfo(options) {
    return this.search(MasterData.prototype.searchDocumentsWithPaginationInfo, options)
  }

  /** -> {mdToken, data}: pass mdToken back for the next page; it expires when unused. */
  scrollDocuments({ dataEntity, fields, mdToken, size, sort, where, schema } = {}) {
    const args = { method: 'scrollDocuments', data_entity: dataEntity, fields: fieldList(fields) }
    if (mdToken != null) args.md_token = String(mdToken)
    if (size != null) args.size = Number(size)
    if (sort != null) args.sort = String(sort)
    if (where != null) args.where = String(where)
    if (schema != null) args.schema = String(schema)
    return this.call(`scrollDocuments('${dataEntity}')`, MasterData.prototype.scrollDocuments, args)
  }

  /**
   * The schema's body; for a schema the entity lacks, `''`. VTEX answers that with an empty 200
   * (apps rely on `if (!schema)` to create it), and @vtex/api's getSchema resolves the body as
   * axios parsed it: an empty body stays the empty string.
   */
  getSchema({ dataEntity, schema } = {}) {
    const args = { method: 'getSchema', data_entity: dataEntity, schema: String(schema) }
    const label = `getSchema('${dataEntity}', '${schema}')`
    return this.call(label, MasterData.prototype.getSchema, args).then((body) => (body == null ? '' : body))
  }

  createOrUpdateSchema({ dataEntity, schemaName, schemaBody } = {}) {
    const args = {
      method: 'createOrUpdateSchema',
      data_entity: dataEntity,
      schema_name: String(schemaName),
      schema_body: schemaBody,
    }
    const label = `createOrUpdateSchema('${dataEntity}', '${schemaName}')`
    return this.call(label, MasterData.prototype.createOrUpdateSchema, args).then(() => undefined)
  }
}

module.exports = { MasterData }
