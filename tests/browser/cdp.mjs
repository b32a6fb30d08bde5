// A small client of the Chrome DevTools Protocol for the browser tests and benchmark: launch
// a headless Chromium with a profile of its own, open a page, evaluate expressions in it.
// Every browser it starts is killed by PID in close(); nothing ever downloads a browser.

import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--mute-audio',
  '--remote-debugging-port=0'
]

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** One DevTools WebSocket: send() resolves with the result of a command. */
class Connection {
  constructor (ws) {
    this.ws = ws
    this.next = 1
    this.pending = new Map()
    this.console = []
    ws.on('message', data => {
      const msg = JSON.parse(data.toString())
      if (msg.method === 'Runtime.consoleAPICalled') {
        const text = msg.params.args.map(a => a.value ?? a.description ?? '').join(' ')
        this.console.push(`${msg.params.type}: ${text}`)
      } else if (msg.method === 'Runtime.exceptionThrown') {
        const d = msg.params.exceptionDetails
        this.console.push(`exception: ${d.exception?.description || d.text}`)
      }
      if (this.console.length > 200) this.console.shift()
      const p = msg.id && this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`))
      else p.resolve(msg.result)
    })
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('DevTools connection closed'))
      this.pending.clear()
    })
  }

  static open (url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 << 20 })
      ws.once('open', () => resolve(new Connection(ws)))
      ws.once('error', reject)
    })
  }

  send (method, params = {}) {
    const id = this.next++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method })
      this.ws.send(JSON.stringify({ id, method, params }))
    })
  }

  close () {
    this.ws.close()
  }
}

/** A headless Chromium with one page. */
export class Browser {
  /** Starts Chromium with a new profile under `dir` (which its caller removes: Chromium
   * may still write there for a moment after it is killed). */
  static async launch (name, dir = tmpdir(), extraFlags = []) {
    const profile = mkdtempSync(join(dir, `chromium-${name}-`))
    const child = spawn(CHROMIUM, [...FLAGS, ...extraFlags, `--user-data-dir=${profile}`, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe']
    })
    let log = ''
    child.stderr.on('data', d => {
      // Headless Chromium in a bare namespace complains about D-Bus and sound cards.
      const lines = d.toString().split('\n').filter(l => l && !/dbus|ALSA|alsa_util/.test(l))
      if (lines.length) log = (log + lines.join('\n') + '\n').slice(-20000)
    })
    const b = new Browser(name, child, profile, () => log)
    const deadline = Date.now() + 30000
    let port = null
    while (!port) {
      if (Date.now() > deadline || child.exitCode !== null) {
        b.close()
        throw new Error(`${name}: Chromium did not start: ${log.slice(-2000)}`)
      }
      try {
        port = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0].trim()
      } catch {
        await sleep(100)
      }
    }
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()
    const page = targets.find(t => t.type === 'page')
    b.page = await Connection.open(page.webSocketDebuggerUrl)
    await b.page.send('Runtime.enable')
    return b
  }

  constructor (name, child, profile, log) {
    this.name = name
    this.child = child
    this.profile = profile
    this.log = log
  }

  async goto (url) {
    await this.page.send('Page.enable')
    await this.page.send('Page.navigate', { url })
  }

  /** The value of `expression` in the page (awaited when it is a promise). */
  async eval (expression) {
    const r = await this.page.send('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true
    })
    if (r.exceptionDetails) {
      throw new Error(`${this.name}: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`)
    }
    return r.result.value
  }

  /** Waits until `expression` is truthy in the page; its value. */
  async until (expression, ms, what) {
    const deadline = Date.now() + ms
    for (;;) {
      let v = null
      try {
        v = await this.eval(expression)
      } catch {}
      if (v) return v
      if (Date.now() > deadline) throw new Error(`${this.name}: timed out waiting for ${what}`)
      await sleep(200)
    }
  }

  /** CPU seconds (user + system) of this browser's processes so far. */
  cpuSeconds () {
    const tick = 100 // USER_HZ on Linux
    const procs = new Map()
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        procs.set(Number(entry), {
          ppid: Number(fields[1]),
          cpu: (Number(fields[11]) + Number(fields[12])) / tick
        })
      } catch {}
    }
    let total = 0
    const todo = [this.child.pid]
    const seen = new Set()
    while (todo.length) {
      const pid = todo.pop()
      if (seen.has(pid)) continue
      seen.add(pid)
      total += procs.get(pid)?.cpu || 0
      for (const [p, info] of procs) if (info.ppid === pid) todo.push(p)
    }
    return total
  }

  /** The page's console messages and uncaught exceptions so far (the last 200). */
  consoleLog () {
    return this.page ? this.page.console.join('\n') : ''
  }

  close () {
    try { this.page?.close() } catch {}
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

export { sleep }
