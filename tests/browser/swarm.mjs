// Listeners on the show page, for tests/browser.rs and scripts/bench-browser-swarm.sh: starts
// `podseed serve` on a published show, then N headless Chromium that each open the page and
// play one episode, and writes what they saw as JSON. Run it inside tests/browser/netns.sh.
//
//   node swarm.mjs --podseed BIN --show DIR --file EPISODE.mp3 --size BYTES --out FILE
//                  [--listeners 2] [--stagger-ms 0] [--after-whole] [--mode p2p|http]
//                  [--play-ms 0] [--timeout-ms 120000]
//
// --after-whole: each listener starts once the one before holds the whole episode.
// --seek F: once the last listener plays, it seeks to F (0..1) of the episode and must play
//           on from there (its report then has seeked_to and seek_ms).
// --mode http: the page has no player (plain HTTP): listeners play for --play-ms.
// --mode fallback: the page has the player, which is expected to fall back to plain HTTP.
// Every process it starts is killed by PID before it exits, and it exits by itself after
// --timeout-ms at the latest.

import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync, createWriteStream, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Browser, sleep } from './cdp.mjs'

function args () {
  const a = { listeners: 2, 'stagger-ms': 0, mode: 'p2p', 'play-ms': 0, 'timeout-ms': 120000 }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '')
    if (k === 'after-whole') a[k] = true
    else a[k] = argv[++i]
  }
  for (const k of ['listeners', 'stagger-ms', 'size', 'play-ms', 'timeout-ms']) a[k] = Number(a[k])
  a.seek = a.seek === undefined ? null : Number(a.seek)
  return a
}

const opt = args()
const started = []
const browsers = []

function stopAll () {
  for (const b of browsers) b.close()
  for (const c of started) if (c.exitCode === null) c.kill('SIGKILL')
}

const overall = setTimeout(() => {
  console.error('swarm.mjs: overall timeout')
  stopAll()
  process.exit(3)
}, opt['timeout-ms'])

async function startServe () {
  const ready = join(opt.show, 'swarm.ready.json')
  rmSync(ready, { force: true })
  const log = createWriteStream(join(opt.show, 'serve.log'))
  const child = spawn(opt.podseed, ['serve', '-c', 'podcast.yaml', '--ready-file', ready], {
    cwd: opt.show,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  child.stderr.pipe(log)
  started.push(child)
  const deadline = Date.now() + 20000
  for (;;) {
    try {
      return JSON.parse(readFileSync(ready, 'utf8'))
    } catch {}
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('podseed serve did not start; see serve.log')
    await sleep(100)
  }
}

/** In the page: the episode's <audio>, found by its MP3's file name. */
const FIND = `(() => {
  const name = ${JSON.stringify('/' + encodeURI(opt.file))}
  return [...document.querySelectorAll('audio')]
    .find(a => (a.dataset.http || a.getAttribute('src') || '').endsWith(name))
})()`

/** In the page: note when the audio first moves after play is pressed; the play button's
 * place on the screen. */
const PREPARE = `(() => {
  const a = ${FIND}
  a.scrollIntoView({ block: 'center' })
  window.__podseedTest = { t0: null, ttfa: null }
  a.addEventListener('play', () => {
    const t = window.__podseedTest
    if (t.t0 !== null) return
    t.t0 = performance.now()
    // Polled, not read from 'timeupdate', which Chromium fires only every 250 ms.
    const poll = setInterval(() => {
      if (a.currentTime > 0 && t.ttfa === null) t.ttfa = performance.now() - t.t0
      if (t.ttfa !== null || performance.now() - t.t0 > 60000) clearInterval(poll)
    }, 5)
  })
  const r = a.getBoundingClientRect()
  return { x: r.left + 20, y: r.top + r.height / 2 }
})()`

/** Presses the <audio>'s own play button with the mouse, as a listener does. */
async function pressPlay (b) {
  const at = await b.eval(PREPARE)
  for (const type of ['mousePressed', 'mouseReleased']) {
    await b.page.send('Input.dispatchMouseEvent', { type, x: at.x, y: at.y, button: 'left', clickCount: 1 })
  }
  await b.until('window.__podseedTest.t0 !== null', 10000, 'the play button to start playback')
}

/** In the page: what the listener has and hears. */
const STATE = `(() => {
  const a = ${FIND}
  const line = a.nextElementSibling && a.nextElementSibling.classList.contains('p2p') ? a.nextElementSibling.dataset : {}
  return {
    current_time: a.currentTime,
    paused: a.paused,
    error: a.error ? a.error.code : null,
    src_is_stream: (a.getAttribute('src') || '').includes('/webtorrent/'),
    ttfa_ms: window.__podseedTest ? window.__podseedTest.ttfa : null,
    peers: Number(line.peers || 0),
    from_peers: Number(line.fromPeers || 0),
    from_web: Number(line.fromWeb || 0),
    uploaded: Number(line.uploaded || 0),
    web_seed: line.webSeed || null,
    marks: performance.getEntriesByType('mark').filter(m => m.name.startsWith('podseed ')).map(m => m.name.slice(8) + ' ' + Math.round(m.startTime - (window.__podseedTest && window.__podseedTest.t0 !== null ? window.__podseedTest.t0 : 0))),
    status: a.nextElementSibling && a.nextElementSibling.classList.contains('p2p') ? a.nextElementSibling.textContent : ''
  }
})()`

async function listener (i, pageUrl) {
  // Profiles live in the show's folder, which the test or the benchmark removes.
  const b = await Browser.launch(`listener${i}`, opt.show)
  browsers.push(b)
  await b.goto(pageUrl)
  await b.until(`document.readyState === 'complete' && !!${FIND}`, 20000, 'the page')
  if (opt.mode !== 'http') {
    await b.until("document.documentElement.dataset.podseedPlayer === 'ready'", 20000, 'the player')
  }
  await pressPlay(b)
  return b
}

function whole (s) {
  return s.from_peers + s.from_web >= opt.size
}

async function main () {
  const ready = await startServe()
  const pageUrl = `http://${ready.http}/`
  const t0 = Date.now()
  for (let i = 0; i < opt.listeners; i++) {
    const b = await listener(i, pageUrl)
    if (opt['after-whole'] && i + 1 < opt.listeners) {
      await b.until(`(${STATE}).from_peers + (${STATE}).from_web >= ${opt.size}`, 60000, 'the whole episode')
    } else if (opt['stagger-ms'] > 0 && i + 1 < opt.listeners) {
      await sleep(opt['stagger-ms'])
    }
  }
  // Everyone has the whole episode (p2p) or has played --play-ms (http), and hears it.
  const playUntil = Date.now() + opt['play-ms']
  for (const b of browsers) {
    if (opt.mode === 'p2p') {
      await b.until(`(() => { const s = ${STATE}; return s.from_peers + s.from_web >= ${opt.size} && s.current_time > 1 })()`, 90000, 'the whole episode and playback')
    } else {
      await b.until(`(${STATE}).current_time > 1`, 60000, 'playback')
    }
  }
  let seek = null
  if (opt.seek !== null) {
    const last = browsers[browsers.length - 1]
    const target = await last.eval(`(() => { const a = ${FIND}; const t = a.duration * ${opt.seek}; a.currentTime = t; window.__podseedSeek = { t, at: performance.now(), ms: null }; a.addEventListener('timeupdate', () => { const s = window.__podseedSeek; if (s.ms === null && a.currentTime > s.t + 0.5) s.ms = performance.now() - s.at }); return t })()`)
    const ms = await last.until('window.__podseedSeek.ms', 60000, 'playback after the seek')
    seek = { name: last.name, seeked_to: target, seek_ms: ms }
  }
  if (Date.now() < playUntil) await sleep(playUntil - Date.now())
  const listeners = []
  for (const b of browsers) {
    const s = await b.eval(STATE)
    listeners.push({ name: b.name, ...s, whole: whole(s), cpu_s: b.cpuSeconds() })
  }
  const stats = await (await fetch(`${pageUrl}stats`)).json()
  writeFileSync(opt.out, JSON.stringify({ size: opt.size, elapsed_ms: Date.now() - t0, listeners, seek, stats }, null, 2))
}

main()
  .then(() => {
    clearTimeout(overall)
    stopAll()
    process.exit(0)
  })
  .catch(async e => {
    console.error(`swarm.mjs: ${e.stack || e}`)
    for (const b of browsers) {
      try { console.error(`${b.name}:`, JSON.stringify(await b.eval(STATE))) } catch {}
      console.error(`${b.name} console:\n${b.consoleLog().slice(-4000)}`)
      console.error(`${b.name} log tail:`, b.log().slice(-3000))
    }
    clearTimeout(overall)
    stopAll()
    process.exit(1)
  })
