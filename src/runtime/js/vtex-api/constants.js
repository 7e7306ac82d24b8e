'use strict'
// @vtex/api's constants and enums. APP is read when used: a standby host learns the app's
// identity only when it loads the app.

const env = process.env

const APP = Object.freeze({
  get ID() {
    return env.VTEX_APP_ID || ''
  },
  get MAJOR() {
    return (env.VTEX_APP_VERSION || '').split('.')[0]
  },
  get NAME() {
    return env.VTEX_APP_NAME || ''
  },
  get VENDOR() {
    return env.VTEX_APP_VENDOR || ''
  },
  get VERSION() {
    return env.VTEX_APP_VERSION || ''
  },
  IS_THIRD_PARTY() {
    return this.VENDOR !== 'vtex' && this.VENDOR !== 'gocommerce'
  },
})
const LINKED = true
const PRODUCTION = false
const REGION = env.VTEX_REGION || 'local'

const LogLevel = Object.freeze({ Debug: 'debug', Info: 'info', Warn: 'warn', Error: 'error' })
const AuthType = Object.freeze({ basic: 'basic', bearer: 'bearer' })
const CacheType = Object.freeze({ None: 0, Memory: 1, Disk: 2, Any: 3 })

module.exports = { APP, LINKED, PRODUCTION, REGION, LogLevel, AuthType, CacheType }
