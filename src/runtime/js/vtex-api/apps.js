'use strict'
// ctx.clients.apps: app settings from ioctl's local storage (getAppSettings fills in the
// `default`s of the app's settingsSchema). Its other methods still need VTEX's cloud.

const { notEmulatedClient } = require('./not_emulated')
const { platformCall } = require('./local_platform')

class Apps extends notEmulatedClient('Apps', 'apps') {
  getAppSettings(app) {
    return platformCall(
      `apps.getAppSettings('${app}')`,
      { service: 'apps', method: 'getAppSettings', app: String(app) },
      Apps.prototype.getAppSettings,
    )
  }

  saveAppSettings(app, settings) {
    return platformCall(
      `apps.saveAppSettings('${app}')`,
      { service: 'apps', method: 'saveAppSettings', app: String(app), settings },
      Apps.prototype.saveAppSettings,
    ).then(() => undefined)
  }
}

module.exports = { Apps }
