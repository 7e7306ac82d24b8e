'use strict'
// Keeps the dashboard's Events page open in a real browser (Debian's chromium through
// playwright-core) while the benchmark publishes events, and measures the page when asked:
// the JS heap in use, the DOM's size, the event rows drawn (a virtualised list keeps them few)
// and the records the page was told it skipped.
// Usage: node tests/browser/dashboard_open.js, then lines on stdin:
// - `open LOGIN_URL` opens a fresh page (closing the previous one) and prints `open` once it
//   shows its event list and its first work is done (the main thread idle), as a developer's
//   page is when a burst comes: the browser starts once, so its own start-up is not measured;
// - `measure` prints one JSON line {task_s, script_s, style_s, layout_s, heap_mb, dom_nodes, rows,
//   skipped, errors};
// - `trace-start` / `trace-stop` record a chromium trace between them and print (on stderr)
//   where its time went, by process, thread and task (the bench does so with
//   IOCTL_BENCH_TRACE=1, for one burst);
// - `close` closes the page (its live stream too) and prints `closed`, so that the bursts
//   measured without a page have none;
// stdin's end closes the browser. (benches/ioctl.rs's `dashboard` figure runs it.)

/* global document, requestIdleCallback -- page.evaluate's callbacks run in the page */
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
    // The page's main thread since it opened, in seconds: all its tasks, and of them script,
    // style and layout.
    task_s: metric('TaskDuration'),
    script_s: metric('ScriptDuration'),
    style_s: metric('RecalcStyleDuration'),
    layout_s: metric('LayoutDuration'),
    heap_mb: Math.round((metric('JSHeapUsedSize') / 1048576) * 10) / 10,
    dom_nodes: metric('Nodes'),
    rows: drawn.rows,
    skipped: drawn.skipped,
    errors: errors.length,
  }
}

/** Opens the dashboard's Events page at `loginUrl` and waits until it has settled. */
async function open(browser, loginUrl) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const errors = []
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(loginUrl)
  await page.evaluate(() => {
    document.location.hash = '#/events'
  })
  await page.waitForSelector('[data-testid="events-filter-q"]', { timeout: 20000 })
  // Settled: two idle periods of the main thread in a row (its first fetches and draws done).
  for (let i = 0; i < 2; i++) {
    await page.evaluate(() => new Promise((resolve) => requestIdleCallback(resolve, { timeout: 2000 })))
  }
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Performance.enable')
  return { page, cdp, errors }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.IOCTL_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    let current = null
    const lines = readline.createInterface({ input: process.stdin })
    for await (const line of lines) {
      const [command, arg] = line.trim().split(/\s+/)
      if (command === 'open') {
        if (current) await current.page.close()
        current = await open(browser, arg)
        console.log('open')
      } else if (command === 'measure' && current) {
        console.log(JSON.stringify(await measure(current.page, current.cdp, current.errors)))
      } else if (command === 'trace-start' && current) {
        await current.page
          .context()
          .browser()
          .startTracing(current.page, {
            categories: [
              'devtools.timeline',
              'disabled-by-default-devtools.timeline',
              'v8',
              'blink',
              'cc',
              'viz',
              'toplevel',
            ],
          })
        console.log('tracing')
      } else if (command === 'trace-stop' && current) {
        const buf = await current.page.context().browser().stopTracing()
        const events = JSON.parse(buf.toString()).traceEvents
        const by = new Map()
        for (const e of events) {
          if (e.ph !== 'X' || !e.dur) continue
          const k = `${e.pid}:${e.tid}:${e.name}`
          by.set(k, (by.get(k) || 0) + e.dur)
        }
        const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 40)
        for (const [k, v] of top) console.error(`trace ${(v / 1000).toFixed(1)} ms ${k}`)
        console.log('traced')
      } else if (command === 'close') {
        if (current) await current.page.close()
        current = null
        console.log('closed')
      }
    }
  } finally {
    await browser.close()
  }
}

main().catch((err) => {
  console.error(`dashboard page failed: ${err.stack || err}`)
  process.exit(1)
})
