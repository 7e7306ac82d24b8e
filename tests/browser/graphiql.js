'use strict'
// Drives the session's GraphQL IDE in a real browser (Debian's chromium through
// playwright-core): opens the one-time login link `ioctl link` printed, runs the query the
// page was opened with, waits for the result on the page and takes a screenshot; then a page
// on another port of this host, which the browser also gives the login cookie, forges a
// mutation (POST text/plain and an <img> GET), which must not run.
// Usage: node tests/browser/graphiql.js LOGIN_URL EXPECTED_TEXT SCREENSHOT.png
// (tests/e2e/graphql.rs runs it; .ci/run installs chromium and playwright-core).

/* global document -- page.waitForFunction's and $eval's callbacks run in the page */
const http = require('node:http')
const { chromium } = require('playwright-core')

const FORGED = 'mutation { addBook(title: "Forged", author: "Mallory") { title } }'

/** A page on another port of this host: the browser sends it (and its requests) the login
 * cookie too, as cookies are not per port. It forges a mutation the way a CSRF does. */
function startForger(target) {
  const script = `fetch(${JSON.stringify(target)}, {
    method: 'POST', mode: 'no-cors', credentials: 'include',
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ query: ${JSON.stringify(FORGED)} }),
  }).finally(() => { document.title = 'sent' })`
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html')
    res.end(`<!doctype html><img src="${target}?query=${encodeURIComponent(FORGED)}"><script>${script}</script>`)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** How many books the app has, asked from the IDE's own page. */
function countBooks(page, path) {
  return page.evaluate(async (p) => {
    const body = JSON.stringify({ query: '{ books { title } }' })
    const res = await fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })
    return (await res.json()).data.books.length
  }, path)
}

/** A mutation forged from another origin must not run. */
async function checkForgery(page, loginUrl) {
  const apps = await page.evaluate(async () => (await fetch('/_ioctl/ide/apps')).json())
  const path = apps[0].path
  const before = await countBooks(page, path)
  const forger = await startForger(new URL(path, loginUrl).href)
  try {
    const other = await page.context().newPage()
    await other.goto(`http://127.0.0.1:${forger.address().port}/`)
    await other.waitForFunction(() => document.title === 'sent', null, { timeout: 20000 })
    await other.close()
  } finally {
    forger.close()
  }
  const after = await countBooks(page, path)
  if (after !== before)
    throw new Error(`a page on another port ran a mutation with the login cookie (${before} → ${after} books)`)
}

async function main() {
  const [loginUrl, expected, screenshot] = process.argv.slice(2)
  const browser = await chromium.launch({
    executablePath: process.env.IOCTL_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    const failures = []
    page.on('pageerror', (err) => failures.push(err.message))
    // The login link sets the cookie and sends the browser on to the page (no token in its URL).
    const query = encodeURIComponent('{ books { title author { name } } }')
    await page.goto(`${loginUrl}&query=${query}`)
    await page.waitForSelector('.graphiql-execute-button', { timeout: 20000 })
    const cookies = await page.context().cookies()
    const login = cookies.find((c) => c.name === 'ioctl_login')
    if (!login || !login.httpOnly || login.sameSite !== 'Strict') {
      throw new Error(`no HttpOnly SameSite=Strict login cookie: ${JSON.stringify(cookies)}`)
    }
    if (page.url().includes('login=')) throw new Error(`the login stayed in the URL: ${page.url()}`)
    const app = await page.$eval('#app', (select) => select.value)
    await page.click('.graphiql-execute-button')
    try {
      await page.waitForFunction(
        (text) => {
          const result = document.querySelector('.graphiql-response')
          return result && result.textContent.includes(text)
        },
        expected,
        { timeout: 20000 },
      )
    } catch (err) {
      await page.screenshot({ path: screenshot })
      const shown = await page.$eval('body', (body) => body.innerText.slice(0, 2000))
      throw new Error(`${err.message}\nthe page shows (screenshot ${screenshot}):\n${shown}\n${failures.join('; ')}`)
    }
    await page.screenshot({ path: screenshot })
    if (failures.length > 0) throw new Error(`errors on the page: ${failures.join('; ')}`)
    await checkForgery(page, loginUrl)
    console.log(`ok: ${app} answered in the IDE with ${JSON.stringify(expected)}; screenshot ${screenshot}`)
  } finally {
    await browser.close()
  }
}

main().catch((err) => {
  console.error(`browser test failed: ${err.stack || err}`)
  process.exit(1)
})
