import type { ClientsConfig, ServiceContext } from '@vtex/api'
import { method, Service } from '@vtex/api'

import { Clients } from './clients'
import { hcheck } from './handlers/hcheck'
import { getCachedContext } from './utils/cachedContext'

const TIMEOUT_MS = 800
const SEND_EVERY_MS = 10 * 1000

declare global {
  type Context = ServiceContext<Clients>
}

const clients: ClientsConfig<Clients> = {
  implementation: Clients,
  options: {
    default: {
      retries: 2,
      timeout: TIMEOUT_MS,
    },
  },
}

// Every few seconds, fire `send-event` through the context the healthcheck cached.
setInterval(async () => {
  const context = getCachedContext()
  if (!context) {
    console.log('no context in memory: open /_v/app/events-example/hcheck first')
    return
  }
  const random = String(Math.floor(Math.random() * 101))
  await context.clients.events.sendEvent('', 'send-event', { random })
}, SEND_EVERY_MS)

export default new Service({
  clients,
  routes: {
    hcheck: method({ GET: [hcheck] }),
  },
})
