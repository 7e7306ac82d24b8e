'use strict'
// Keeps the dashboard's Events page open in a real browser (Debian's chromium through
// playwright-core) while the benchmark publishes events, and measures the page when asked:
// the JS heap in use, the DOM's size, the event rows drawn (a virtualised list keeps them few)
// and the records the page was told it skipped.
// Usage: node tests/browser/dashboard_open.js LOGIN_URL
// Prints `open` once the page shows its event list; then each line `measure` on stdin prints
// one JSON line {heap_mb, dom_nodes, rows, skipped, errors}; stdin's end closes the browser.
// (benches/ioctl.rs's `dashboard` figure runs it.)

/* global document -- page.evaluate's callbacks run in the page */
const readline = require('node:readline')
const { chromium } = require('playwright-core')

async function measure(page, cdp, errors) {
  await cdp.send('HeapProfiler.collectGarbage')
  const { metrics } = await cdp.send('Performance.getMetrics')
  const metric = (name) => (metrics.find((m) => m.name === name) || { value: 0 }).value
  const drawn = await page.evaluate(() => ({
    rows: document.querySelectorAll('[data-testid="event-row"]').length,
    skipped: Number((document.querySelector('[data-testid="lagged"]') || { dataset: {} }).dataset.skipped || 0),
  }))
  return {
    heap_mb: Math.round((metric('JSHeapUsedSize') / 1048576) * 10) / 10,
    dom_nodes: metric('Nodes'),
    rows: drawn.rows,
    skipped: drawn.skipped,
    errors: errors.length,
  }
}

async function main() {
  const [loginUrl] = process.argv.slice(2)
  const browser = await chromium.launch({
    executablePath: process.env.IOCTL_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const errors = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(loginUrl)
    await page.evaluate(() => {
      document.location.hash = '#/events'
    })
    await page.waitForSelector('[data-testid="events-filter-q"]', { timeout: 20000 })
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Performance.enable')
    console.log('open')
    const lines = readline.createInterface({ input: process.stdin })
    for await (const line of lines) {
      if (line.trim() === 'measure') console.log(JSON.stringify(await measure(page, cdp, errors)))
    }
  } finally {
    await browser.close()
  }
}

main().catch((err) => {
  console.error(`dashboard page failed: ${err.stack || err}`)
  process.exit(1)
})
