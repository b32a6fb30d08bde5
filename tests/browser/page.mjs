// Opens the show's pages in headless Chromium at phone and desktop sizes and reports
// layout facts as JSON, with a screenshot of each page (tests/page.rs asserts on them).
// Usage: node page.mjs --base http://127.0.0.1:PORT/ --episode e/x.html --out DIR

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Browser } from './cdp.mjs'

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1]

const SIZES = {
  phone: { width: 390, height: 844, deviceScaleFactor: 3, mobile: true },
  desktop: { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false }
}

// What each page reports: plain facts, measured in CSS pixels.
const FACTS = `(() => {
  const rect = sel => { const e = document.querySelector(sel); if (!e) return null; const r = e.getBoundingClientRect(); return { width: r.width, left: r.left, right: r.right } }
  const text = sel => [...document.querySelectorAll(sel)].map(e => e.textContent.trim())
  return {
    title: document.title,
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    header: rect('header.show'),
    wrap: rect('.wrap'),
    headerText: rect('header.show > div'),
    feedUrl: document.querySelector('#feed-url')?.value ?? null,
    apps: [...document.querySelectorAll('.apps a')].map(a => a.getAttribute('href')),
    chapters: text('.chapters li'),
    cues: text('.cues li'),
    audios: document.querySelectorAll('audio').length,
    body: document.body ? document.body.innerText.slice(0, 2000) : ''
  }
})()`

const pages = { index: '', subscribe: 'subscribe.html', episode: args.episode, feed: 'feed.xml' }
const report = {}
const browser = await Browser.launch('page', args.out)
try {
  await browser.page.send('Page.enable')
  for (const [size, metrics] of Object.entries(SIZES)) {
    await browser.page.send('Emulation.setDeviceMetricsOverride', metrics)
    for (const [name, path] of Object.entries(pages)) {
      try {
        await browser.goto(args.base + path)
        await browser.until(`document.readyState === 'complete' && location.href === ${JSON.stringify(args.base + path)}`, 20000, `${path} to load`)
      } catch (e) {
        report[`${size}/${name}`] = { error: String(e) }
        continue
      }
      const facts = await browser.eval(FACTS)
      const shot = await browser.page.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false })
      const file = join(args.out, `${args.label}-${size}-${name}.png`)
      writeFileSync(file, Buffer.from(shot.data, 'base64'))
      report[`${size}/${name}`] = { ...facts, screenshot: file }
    }
  }
} finally {
  browser.close()
}
writeFileSync(join(args.out, `${args.label}.json`), JSON.stringify(report, null, 2))
