'use strict'
// @vtex/api's pure helpers, behaving as the real ones do (app ids and versions, timings, header
// values, error cleaning, retry predicates, translatable strings): written from their sources'
// behaviour. Versions are compared by the semver package, as @vtex/api compares them.

const packages = require('../packages')
const { VALUES } = require('./constants')

// App ids: `vendor.name@1.2.3+build`. `name` below includes the vendor, as in @vtex/api.
const removeBuild = (id) => id.split('+')[0]
const removeVersionFromAppId = (appId) => appId.split('@')[0]
const extractVersionFromAppId = (appId) => appId.split('@').slice(-1)[0]
const transformToLinkedLocator = (appId) => appId.replace(/\+build.*$/, '+linked')
const formatLocator = (name, versionAndBuild) => `${name}@${removeBuild(versionAndBuild)}`
const isLinkedApp = (app) => app.id.includes('+build')

function parseAppId(appId) {
  const name = removeVersionFromAppId(appId)
  const version = extractVersionFromAppId(appId)
  const [plainVersion, build] = version.split('+')
  return { build, locator: formatLocator(name, version), name, version: plainVersion }
}

const formatAppId = ({ locator, build }) => (build ? `${locator}+${build}` : locator)
const versionToMajor = (version) => version.split('.')[0]
const versionToMajorRange = (version) => `${versionToMajor(version)}.x`
const formatMajorLocator = (name, version) => `${name}@${versionToMajorRange(version)}`
function appIdToAppAtMajor(appId) {
  const { name, version } = parseAppId(appId)
  return `${name}@${versionToMajorRange(version)}`
}
const APP_ID_REGEX =
  /^[\w-]+\.[\w-]+@(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-[\da-z-]+(?:\.[\da-z-]+)*)?(?:\+[\da-z-]+(?:\.[\da-z-]+)*)?$/
const isValidAppIdOrLocator = (appId) => APP_ID_REGEX.test(appId)
const sameMajor = (v1, v2) => versionToMajor(v1) === versionToMajor(v2)
const majorEqualAndGreaterThan = (v1, v2) => sameMajor(v1, v2) && packages.loadForApp('semver').gt(v1, v2)
const satisfies = (appId, range) => packages.loadForApp('semver').satisfies(parseAppId(appId).version, range)

// Tenant and binding headers.
const formatTenantHeaderValue = (tenant) => tenant.locale
const parseTenantHeaderValue = (value) => ({ locale: value })

function formatBindingHeaderValue(binding, format = 'v0+webframework') {
  if (format === 'v0+webframework') return Buffer.from(JSON.stringify(binding), 'utf8').toString('base64')
  if (format === 'v0+kuberouter') {
    return ['0', binding.id || '', binding.rootPath || '', binding.locale || '', binding.currency || ''].join(',')
  }
  throw new Error(`Unkown binding format: ${format}`)
}

function parseBindingHeaderValue(value) {
  if (value[0] === '0' && value[1] === ',') {
    const [, id, rootPath, locale, currency] = value.split(',')
    return { currency: currency || undefined, id: id || undefined, locale, rootPath: rootPath || undefined }
  }
  return JSON.parse(Buffer.from(value, 'base64').toString('utf8'))
}

const isFreeBillingOptions = (billingOptions) => billingOptions.type === 'free'

// Timings: [seconds, nanoseconds] pairs of process.hrtime.
const hrToMillis = ([seconds, nanoseconds]) => Math.round(seconds * 1e3 + nanoseconds / 1e6)
const hrToMillisFloat = ([seconds, nanoseconds]) => seconds * 1e3 + nanoseconds / 1e6
const nanosecondsToSeconds = (nanoseconds) => nanoseconds / 1e9
const hrToNano = ([seconds, nanoseconds]) => seconds * 1e9 + nanoseconds
const formatNano = (nanoseconds) => `${(nanoseconds / 1e9).toFixed(0)}s ${((nanoseconds / 1e6) % 1e3).toFixed(0)}ms`
const reduceHrToNano = (list) => list.reduce((acc, hr) => acc + hrToNano(hr), 0)
const shrinkTimings = (name) => name.replace(/graphql/g, 'gql').replace(/server/g, 'srv')
const formatTimingName = ({ hopNumber, target, source }) =>
  `${Number.isNaN(hopNumber) ? '' : hopNumber}.${source || ''}#${target || ''}`
function parseTimingName(timing) {
  const [hopNumber, sourceAndTarget] = timing ? timing.split('.') : [null, null]
  const [source, target] = sourceAndTarget ? sourceAndTarget.split('#') : [null, null]
  return { hopNumber: Number.isNaN(hopNumber) ? null : Number(hopNumber), source, target }
}
const reduceTimings = (timings) => Object.entries(timings).reduce((acc, [key, dur]) => `${key};dur=${dur}, ${acc}`, '')

// Errors as @vtex/api logs them: no functions, no `_private` fields, no circular references,
// long strings truncated, axios parts reduced to PICKED_AXIOS_PROPS without credentials.
const MAX_ERROR_STRING_LENGTH = process.env.MAX_ERROR_STRING_LENGTH
  ? parseInt(process.env.MAX_ERROR_STRING_LENGTH, 10)
  : 8 * 1024
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'vtexidclientautcookie']

function destroyCircular(from, seen) {
  const to = Array.isArray(from) ? [] : {}
  seen.push(from)
  for (const [key, value] of Object.entries(from)) {
    if (typeof value === 'function' || key.startsWith('_')) continue
    if (!value || typeof value !== 'object') {
      to[key] =
        typeof value === 'string' && value.length > MAX_ERROR_STRING_LENGTH
          ? `${value.substr(0, MAX_ERROR_STRING_LENGTH)}[...TRUNCATED]`
          : value
    } else {
      to[key] = seen.includes(value) ? '[Circular]' : destroyCircular(value, seen.slice())
    }
  }
  for (const property of ['name', 'message', 'stack', 'code']) {
    if (typeof from[property] === 'string') to[property] = from[property]
  }
  for (const property of ['config', 'request', 'response']) {
    if (to[property] == null || typeof to[property] !== 'object') continue
    const picked = {}
    for (const prop of VALUES.PICKED_AXIOS_PROPS) if (prop in to[property]) picked[prop] = to[property][prop]
    to[property] = picked
    const headers = picked.headers
    if (headers) {
      for (const credential of CREDENTIAL_HEADERS) {
        const name = Object.keys(headers).find((h) => h.toLocaleLowerCase() === credential)
        if (name) delete headers[name]
      }
    }
  }
  if (!to.code && to.response) to.code = (to.response.status && `E_HTTP_${to.response.status}`) || 'E_UNKNOWN'
  return to
}

function cleanError(value) {
  if (typeof value === 'object') return destroyCircular(value, [])
  if (typeof value === 'function') return `[Function: ${value.name || 'anonymous'}]`
  return value
}

// Retry predicates (axios-retry's, which @vtex/api re-exports, and its own).
const IDEMPOTENT_HTTP_METHODS = ['get', 'head', 'options', 'put', 'delete']
const SAFE_HTTP_METHODS = ['get', 'head', 'options']
// Codes that retrying cannot fix (is-retry-allowed's list): a missing host, bad certificates.
const NOT_RETRYABLE_CODES = new Set([
  'ENOTFOUND',
  'ENETUNREACH',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'OUT_OF_MEM',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
])

const isNetworkError = (e) =>
  !e.response && Boolean(e.code) && e.code !== 'ECONNABORTED' && !NOT_RETRYABLE_CODES.has(e.code)
const isRetryableError = (e) =>
  e.code !== 'ECONNABORTED' && (!e.response || (e.response.status >= 500 && e.response.status <= 599))
const methodIn = (e, methods) => Boolean(e.config) && methods.includes(e.config.method)
const isNetworkOrIdempotentRequestError = (e) =>
  isNetworkError(e) || (isRetryableError(e) && methodIn(e, IDEMPOTENT_HTTP_METHODS))
const isSafeRequestError = (e) => isRetryableError(e) && methodIn(e, SAFE_HTTP_METHODS)

function exponentialDelay(retryNumber = 0) {
  const delay = 2 ** retryNumber * 100
  return delay + delay * 0.2 * Math.random()
}

function printRetryLabel(e, message) {
  if (e && e.config && e.config.label) console.warn(e.config.label, message)
}

function isNetworkErrorOrRouterTimeout(e) {
  if (isNetworkOrIdempotentRequestError(e)) {
    printRetryLabel(e, 'Retry from network error')
    return true
  }
  if (e && isSafeRequestError(e) && e.response && e.response.data && e.response.data.code === VALUES.TIMEOUT_CODE) {
    printRetryLabel(e, 'Retry from timeout')
    return true
  }
  return false
}

function isAbortedOrNetworkErrorOrRouterTimeout(e) {
  if (e && e.code === 'ECONNABORTED') {
    printRetryLabel(e, 'Retry from abort')
    return true
  }
  return isNetworkErrorOrRouterTimeout(e)
}

// The keys single-flight requests are grouped by.
const inflightURL = ({ baseURL, url }) => baseURL + url
function inflightUrlWithQuery({ baseURL, url, params }) {
  const qs = packages.load('qs')
  return baseURL + url + qs.stringify(params, { arrayFormat: 'repeat', addQueryPrefix: true })
}

// Translatable strings: `content (((context))) <<<from>>>`.
const CONTEXT_REGEX = /\(\(\((?<context>(.)*)\)\)\)/
const FROM_REGEX = /<<<(?<from>(.)*)>>>/
const CONTENT_REGEX = /\(\(\((?<context>(.)*)\)\)\)|<<<(?<from>(.)*)>>>/g
function parseTranslatableStringV2(rawMessage) {
  const context = rawMessage.match(CONTEXT_REGEX)?.groups?.context
  const from = rawMessage.match(FROM_REGEX)?.groups?.from
  const content = rawMessage.replace(CONTENT_REGEX, '')
  return { content: content?.trim(), context: context?.trim(), from: from?.trim() }
}
const formatTranslatableStringV2 = ({ from, content, context }) =>
  `${content} ${context ? `(((${context})))` : ''} ${from ? `<<<${from}>>>` : ''}`

// License Manager bindings.
function buildAddressPath(basePath, localizationKey) {
  if (basePath === '') return `/${localizationKey}`
  if (localizationKey === '') return `/${basePath}`
  return `/${basePath}/${localizationKey}`
}

function getCanonicalAndAlternateAddresses(lmBinding) {
  let canonicalBaseAddress = ''
  const alternateBaseAddresses = []
  for (const entry of lmBinding.Addresses) {
    const keys = Object.keys(entry.Localization)
    for (const key of keys) alternateBaseAddresses.push(entry.Host + buildAddressPath(entry.BasePath, key))
    if (entry.IsCanonical) {
      const [shortest = ''] = [...keys].sort((a, b) => a.length - b.length)
      canonicalBaseAddress = entry.Host + buildAddressPath(entry.BasePath, shortest)
    }
  }
  const index = alternateBaseAddresses.indexOf(canonicalBaseAddress)
  if (index !== -1) alternateBaseAddresses.splice(index, 1)
  return { canonicalBaseAddress, alternateBaseAddresses }
}

function inferTargetProduct(canonicalBaseAddress, alternateBaseAddresses) {
  const admin = (address) => address.endsWith('myvtex.com/admin')
  return admin(canonicalBaseAddress) || alternateBaseAddresses.some(admin) ? 'vtex-admin' : 'vtex-storefront'
}

module.exports = {
  removeBuild,
  removeVersionFromAppId,
  extractVersionFromAppId,
  transformToLinkedLocator,
  formatLocator,
  isLinkedApp,
  parseAppId,
  formatAppId,
  satisfies,
  versionToMajor,
  versionToMajorRange,
  formatMajorLocator,
  appIdToAppAtMajor,
  isValidAppIdOrLocator,
  sameMajor,
  majorEqualAndGreaterThan,
  formatTenantHeaderValue,
  parseTenantHeaderValue,
  formatBindingHeaderValue,
  parseBindingHeaderValue,
  isFreeBillingOptions,
  hrToMillis,
  hrToMillisFloat,
  nanosecondsToSeconds,
  hrToNano,
  formatNano,
  reduceHrToNano,
  shrinkTimings,
  formatTimingName,
  parseTimingName,
  reduceTimings,
  cleanError,
  isNetworkOrIdempotentRequestError,
  exponentialDelay,
  isNetworkErrorOrRouterTimeout,
  isAbortedOrNetworkErrorOrRouterTimeout,
  inflightURL,
  inflightUrlWithQuery,
  parseTranslatableStringV2,
  formatTranslatableStringV2,
  getCanonicalAndAlternateAddresses,
  inferTargetProduct,
}
