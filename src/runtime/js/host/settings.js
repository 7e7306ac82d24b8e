'use strict'
// ctx.vtex.settings for the routes and events whose node/service.json entry declares a
// `settingsType`: the app's settings (saved ones over its settingsSchema's defaults), read
// through ctx.clients.apps. service.json is read once per process (a relink starts a new one).

const fs = require('node:fs')
const path = require('node:path')

let declared = null

/** service.json beside the built app (the host runs in the app's node/ folder). */
function serviceJson() {
  if (declared === null) {
    try {
      declared = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'service.json'), 'utf8').replace(/^\uFEFF/, ''))
    } catch {
      declared = {}
    }
  }
  return declared
}

/** Whether `kind` ('routes' | 'events') entry `id` declares a settingsType. */
function wantsSettings(kind, id) {
  const entries = serviceJson()[kind]
  const entry = entries && Object.prototype.hasOwnProperty.call(entries, id) ? entries[id] : null
  return Boolean(entry && entry.settingsType)
}

/**
 * Sets ctx.vtex.settings when the entry asks for it: a promise then, null otherwise (so the
 * common case costs a handler no extra turn of the event loop).
 */
function fillSettings(kind, id, ctx) {
  if (!wantsSettings(kind, id)) return null
  return ctx.clients.apps.getAppSettings(process.env.VTEX_APP_ID || '').then((settings) => {
    ctx.vtex.settings = settings
  })
}

module.exports = { fillSettings, wantsSettings }
