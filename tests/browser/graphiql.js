'use strict'
// Drives the session's GraphQL IDE in a real browser (Debian's chromium through
// playwright-core): opens the one-time login link `ioctl link` printed, runs the query the
// page was opened with, waits for the result on the page and takes a screenshot.
// Usage: node tests/browser/graphiql.js LOGIN_URL EXPECTED_TEXT SCREENSHOT.png
// (tests/e2e/graphql.rs runs it; .ci/run installs chromium and playwright-core).

/* global document -- page.waitForFunction's and $eval's callbacks run in the page */
const { chromium } = require('playwright-core')

async function main() {
  const [loginUrl, expected, screenshot] = process.argv.slice(2)
  const browser = await chromium.launch({
    executablePath: process.env.IOCTL_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
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
    console.log(`ok: ${app} answered in the IDE with ${JSON.stringify(expected)}; screenshot ${screenshot}`)
  } finally {
    await browser.close()
  }
}

main().catch((err) => {
  console.error(`browser test failed: ${err.stack || err}`)
  process.exit(1)
})
