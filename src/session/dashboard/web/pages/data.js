// Data: the workspace's stored state as the apps and the CLI see it — app settings, VBase and
// Master Data — one tab each (#/data/settings, #/data/vbase, #/data/masterdata).
import { html } from '../vendor/htm-preact.js'
import { href } from '../lib/route.js'
import { SettingsTab } from './data/settings.js'
import { VbaseTab } from './data/vbase.js'
import { MasterDataTab } from './data/masterdata.js'

const TABS = [
  ['settings', 'Settings'],
  ['vbase', 'VBase'],
  ['masterdata', 'Master Data'],
]

export function DataPage({ tab, overview }) {
  return html`<section aria-labelledby="data-title">
    <div class="page-head"><h1 id="data-title">Data</h1></div>
    <nav class="tabs" aria-label="Data">
      ${TABS.map(
        ([t, label]) =>
          html`<a href=${href('data', t)} data-testid=${`tab-${t}`} aria-current=${tab === t ? 'page' : undefined}
            >${label}</a
          >`,
      )}
    </nav>
    ${
      tab === 'vbase'
        ? html`<${VbaseTab} />`
        : tab === 'masterdata'
          ? html`<${MasterDataTab} />`
          : html`<${SettingsTab} apps=${overview?.apps ?? []} />`
    }
  </section>`
}
