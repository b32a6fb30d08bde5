// podseed's show page player (ours; WebTorrent itself is installed by npm and copied beside
// this file by `podseed publish`, checked against the release podseed pins).
//
// Every episode on the page is a plain <audio> with the MP3's URL: without JavaScript, or
// where peer to peer is not possible, that is what plays. Here, when a listener presses
// play, the episode streams with WebTorrent instead: from other listeners of the page over
// WebRTC (found through podseed's WebSocket tracker, named in the episode's .torrent) and
// from the MP3's own URL as a web seed. Peers come first: the web seed joins at once only
// when the tracker knows no other listener; otherwise after a short grace, or when the audio
// buffered ahead of the playhead runs low, and it leaves again while peers keep up.
//
// WebTorrent streams to <audio> through its service worker (sw.min.js, beside the page): the
// worker turns the element's range requests, seeking included, into torrent reads.
// `navigator.serviceWorker.ready` resolves before the worker controls this page, so the
// episodes switch to their stream URLs only once it does (`controllerchange`); a request
// made before would go to the server. Pressing play must not start an HTTP download either,
// so each <audio> gets its stream URL as soon as the worker controls the page (preload="none"
// fetches nothing until play).
//
// Playback must start as fast as plain HTTP's, but a torrent needs its .torrent, its peers
// or web seed and a verified piece before its first byte. So the first request of an episode
// played here is answered by this script itself: its first HEAD_BYTES (a few seconds of
// audio) straight from the MP3's URL, then the rest from the torrent, which meanwhile got
// ready and fetched what follows. Later requests (seeking) go to WebTorrent's server; those
// that arrive before the torrent is ready are held here and handed over once it is.
//
// Nothing here may break listening: any failure puts the episode's MP3 URL back into the
// <audio> at the same position, without a word.

const STORE_KEY = 'podseed.sharing'
/** A User Timing mark (DevTools' performance panel and the browser tests read them). */
function mark (what) {
  try {
    performance.mark(`podseed ${what}`)
  } catch {}
}
/** How long a listener waits for other listeners before the web seed joins. */
const GRACE_MS = 3000
/** Audio buffered ahead below which the web seed joins while peers are slower than playback. */
const LOW_AHEAD_S = 10
/** Audio buffered ahead above which a web seed leaves while peers keep up. */
const HIGH_AHEAD_S = 40
/** Nothing at all arrived this long after play: this episode plays plain HTTP instead. */
const NOTHING_MS = 15000
/** How long the service worker may take to control the page before plain HTTP is kept. */
const CONTROL_MS = 10000
/** Worker requests held at most (other tabs of the page see this tab's requests too). */
const MAX_HELD = 32
/**
 * Bytes at the start of an episode's first request that come over plain HTTP (16 s at
 * 128 kbit/s): enough to start playing while the torrent gets ready and finds peers, small
 * against an episode (the page's listeners pay it once each; the browser test bounds it).
 */
const HEAD_BYTES = 256 * 1024
/** The torrent starts this long after play at the latest, even if the head is not playing. */
const START_MS = 1000

const script = document.querySelector('script[data-podseed-player]')
const iceServers = (script?.dataset.iceServers || '')
  .split(/\s+/)
  .filter(Boolean)
  .map(urls => ({ urls }))
const scope = new URL('./', import.meta.url).href

let client = null // the WebTorrent client, made at the first play
let server = null // its streaming server, which answers the worker
let clientReady = null // the promise of it
const sessions = new Map() // <audio> → its Session
const readyHashes = new Set() // info hashes WebTorrent's server can answer for
let held = [] // [infoHash, MessageEvent] of worker requests waiting for their torrent
const played = new Map() // info hash → { audio, torrent: Promise } of episodes played here

/** Whether this browser can share at all; if not, the page plays plain HTTP, silently. */
function capable () {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return false
  if (typeof RTCPeerConnection !== 'function') return false
  const c = navigator.connection
  if (c && (c.saveData || c.type === 'cellular')) return false
  return true
}

function sharingWanted () {
  try {
    return localStorage.getItem(STORE_KEY) !== 'off'
  } catch {
    return true
  }
}

function rememberSharing (on) {
  try {
    localStorage.setItem(STORE_KEY, on ? 'on' : 'off')
  } catch {}
}

/** Resolves with the registration once its worker controls this page and is activated. */
async function controllingWorker () {
  await navigator.serviceWorker.register(new URL('sw.min.js', import.meta.url).href, { scope })
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no controller')), CONTROL_MS)
      navigator.serviceWorker.addEventListener('controllerchange', () => {
        clearTimeout(timer)
        resolve()
      }, { once: true })
    })
  }
  const registration = await navigator.serviceWorker.ready
  const worker = registration.active
  if (worker && worker.state !== 'activated') {
    await new Promise(resolve => {
      worker.addEventListener('statechange', () => {
        if (worker.state === 'activated') resolve()
      })
    })
  }
  return registration
}

/** The client and its streaming server, made once. */
function webtorrent () {
  if (!clientReady) {
    clientReady = (async () => {
      const registration = await controllingWorker()
      const { default: WebTorrent } = await import(new URL('webtorrent.min.js', import.meta.url).href)
      if (!WebTorrent.WEBRTC_SUPPORT) throw new Error('no WebRTC')
      // webSeeds: false keeps the torrent's url-list out, so the web seed joins only when
      // this script decides; rtcConfig replaces simple-peer's default STUN (Google's).
      const wt = new WebTorrent({
        webSeeds: false,
        dht: false,
        lsd: false,
        tracker: { rtcConfig: { iceServers } }
      })
      wt.on('error', () => {})
      server = wt.createServer({ controller: registration })
      client = wt
      mark('client ready')
      return wt
    })()
    clientReady.catch(() => {
      clientReady = null
    })
  }
  return clientReady
}

/** The info hash a worker request is for, when it is one of WebTorrent's streams. */
function requestHash (data) {
  if (data?.type !== 'webtorrent' || typeof data.url !== 'string') return null
  const prefix = scope + 'webtorrent/'
  if (!data.url.startsWith(prefix)) return null
  const hash = data.url.slice(prefix.length).split('/')[0]
  return /^[0-9a-f]{40}$/.test(hash) ? hash : null
}

/**
 * Holds the worker's requests for torrents not ready yet. Registered before WebTorrent's
 * server (which would answer them with 404), so it sees them first.
 */
function holdEarlyRequests (event) {
  const hash = requestHash(event.data)
  if (!hash) return
  const episode = played.get(hash)
  if (episode && !episode.headed && event.data.method === 'GET' && event.ports[0]) {
    event.stopImmediatePropagation()
    episode.headed = true
    serveWithHead(event, episode)
    return
  }
  if (readyHashes.has(hash)) return
  event.stopImmediatePropagation()
  episode?.start()
  hold(hash, event)
}

/** Keeps a worker request until its torrent is ready (or handles it now if it is). */
function hold (hash, event) {
  if (readyHashes.has(hash) && server) {
    server.wrapRequest(event)
    return
  }
  held.push([hash, event])
  while (held.length > MAX_HELD) held.shift()
}

/** The first and last byte a request's Range header asks for (last: null for "to the end"). */
function requestedRange (headers) {
  const m = /^bytes=(\d+)-(\d*)$/.exec((headers?.range || '').trim())
  if (!m) return { first: 0, last: null }
  return { first: Number(m[1]), last: m[2] === '' ? null : Number(m[2]) }
}

/**
 * Answers a worker request for `episode` with a 206 stream whose first HEAD_BYTES come from
 * the MP3's URL and the rest from the torrent. Speaks the protocol of WebTorrent's worker
 * (sw.min.js): a first message with status and headers, then one chunk per pull, null at
 * the end. If the MP3's URL does not answer with a range, the request waits for the
 * torrent like any other.
 */
async function serveWithHead (event, episode) {
  const port = event.ports[0]
  const hash = requestHash(event.data)
  const { first, last } = requestedRange(event.data.headers)
  const controller = new AbortController()
  let response
  let total
  try {
    response = await fetch(episode.http, {
      headers: { range: `bytes=${first}-${first + HEAD_BYTES - 1}` },
      cache: 'no-store',
      signal: controller.signal
    })
    total = Number(/\/(\d+)$/.exec(response.headers.get('content-range') || '')?.[1])
    if (response.status !== 206 || !response.body || !(total > first)) throw new Error('no range')
    // A range that ends before it starts is not one this page answers.
    if (last !== null && last < first) throw new Error('empty range')
  } catch {
    controller.abort()
    episode.start()
    hold(hash, event)
    return
  }
  mark(`head ${first}-`)
  const end = Math.min(last ?? total - 1, total - 1)
  let reader = response.body.getReader()
  let next = first // the next byte to send
  let rest = null // the torrent's iterator from where the head stops
  let restFrom = -1
  let over = false
  const headStop = Math.min(
    Number(/^bytes \d+-(\d+)\//.exec(response.headers.get('content-range') || '')?.[1]) + 1 || first,
    end + 1
  )
  const torrentFrom = from => episode.torrent.then(torrent => {
    if (over || torrent.destroyed) return null
    if (!rest || restFrom !== from) {
      rest?.return()
      rest = torrent.files[0][Symbol.asyncIterator]({ start: from, end })
      restFrom = from
    }
    return rest
  })
  // The torrent starts on what follows the head at once, not when the head runs out.
  if (headStop <= end) torrentFrom(headStop).catch(() => {})
  const finish = () => {
    if (over) return
    over = true
    port.onmessage = null
    controller.abort()
    reader = null
    rest?.return()
  }
  let pending = null // a read of the head that arrived too late for the last message
  const headChunk = async () => {
    // What has arrived goes in one message: each message is a hop between this page and
    // the worker, and the audio waits for its first few.
    const parts = []
    let size = 0
    let read = await (pending || reader.read())
    pending = null
    while (!read.done && read.value?.length) {
      const part = read.value.subarray(0, end + 1 - next - size)
      parts.push(part)
      size += part.length
      if (next + size > end || size >= HEAD_BYTES) break
      const more = reader.read()
      read = await Promise.race([more, new Promise(resolve => setTimeout(resolve, 0))])
      if (!read) {
        pending = more
        break
      }
    }
    if (read?.done || next + size > end) reader = null
    if (!size) return null
    next += size
    if (parts.length === 1) return parts[0]
    const joined = new Uint8Array(size)
    let at = 0
    for (const part of parts) {
      joined.set(part, at)
      at += part.length
    }
    return joined
  }
  const chunk = async () => {
    if (reader) {
      try {
        const part = await headChunk()
        if (part) return part
      } catch {}
      reader = null
    }
    if (next > end) return null
    // A torrent that never gets ready must not leave the listener in silence.
    let timer
    const late = new Promise(resolve => {
      timer = setTimeout(() => resolve('late'), NOTHING_MS)
    })
    const iterator = await Promise.race([torrentFrom(next), late]).finally(() => clearTimeout(timer))
    if (iterator === 'late') {
      plainHttp(episode.audio)
      return null
    }
    const { value, done } = (await iterator?.next()) || { done: true }
    if (done || !value?.length) return null
    next += value.length
    if (restFrom === next - value.length) restFrom = next
    return value
  }
  port.onmessage = async ({ data }) => {
    if (!data) return finish()
    let part = null
    try {
      part = await chunk()
    } catch {}
    if (over) return
    port.postMessage(part)
    if (!part) finish()
  }
  port.postMessage({
    status: 206,
    headers: {
      'Content-Type': response.headers.get('content-type') || 'audio/mpeg',
      'Content-Range': `bytes ${first}-${end}/${total}`,
      'Content-Length': String(end - first + 1),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store'
    },
    body: 'STREAM'
  })
}

/** Hands the held requests for `hash` to WebTorrent's server (ok) or answers them 404. */
function releaseHeld (hash, ok) {
  const mine = held.filter(([h]) => h === hash)
  held = held.filter(([h]) => h !== hash)
  for (const [, event] of mine) {
    if (ok && server) {
      // BrowserServer's own message handler, as if the message had reached it.
      server.wrapRequest(event)
    } else {
      event.ports[0]?.postMessage({ status: 404, headers: {}, body: '' })
    }
  }
}

function humanBytes (n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + ' GB'
  if (n >= 1e6) return (n / 1e6).toFixed(1) + ' MB'
  if (n >= 1e3) return Math.round(n / 1e3) + ' kB'
  return n + ' B'
}

/** Seconds of audio buffered ahead of the playhead. */
function aheadSeconds (audio) {
  const t = audio.currentTime
  const b = audio.buffered
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.5 && b.end(i) >= t) return b.end(i) - t
  }
  return 0
}

/** The status line under an episode's player. */
function statusLine (audio) {
  let line = audio.nextElementSibling
  if (!line || !line.classList.contains('p2p')) {
    line = document.createElement('p')
    line.className = 'p2p'
    line.setAttribute('aria-live', 'polite')
    audio.after(line)
  }
  return line
}

/** Puts the MP3 URL back, at the same position, playing if it was. */
function plainHttp (audio) {
  const session = sessions.get(audio)
  if (session) session.stop()
  sessions.delete(audio)
  // This episode plays plain HTTP for the rest of the visit (or until sharing is switched on).
  audio.dataset.plain = '1'
  if (audio.dataset.infoHash) {
    played.delete(audio.dataset.infoHash)
    releaseHeld(audio.dataset.infoHash, false)
  }
  const http = audio.dataset.http
  if (!http || audio.getAttribute('src') === http) return
  const t = audio.currentTime
  const wasPlaying = !audio.paused
  audio.src = http
  if (t > 0) audio.currentTime = t
  if (wasPlaying) audio.play().catch(() => {})
  statusLine(audio).textContent = ''
}

/** One episode streaming from its torrent. */
class Session {
  constructor (audio, torrent) {
    this.audio = audio
    this.torrent = torrent
    this.webSeed = new URL(audio.dataset.http, document.baseURI).href
    this.webSeedOn = false
    this.others = null // other listeners the tracker knows, once it has said
    this.fromPeers = 0
    this.fromWeb = 0
    this.toPeers = 0
    this.started = Date.now()
    this.peerBytesAt = [] // [time, fromPeers] samples for the peers' rate
    const count = wire => {
      wire.on('download', n => {
        if (wire.type === 'webSeed') this.fromWeb += n
        else this.fromPeers += n
      })
      wire.on('upload', n => {
        if (wire.type !== 'webSeed') this.toPeers += n
      })
    }
    torrent.wires.forEach(count)
    torrent.on('wire', count)
    const tracker = torrent.discovery?.tracker
    if (tracker) {
      tracker.on('update', reply => {
        // The tracker counts this listener too.
        const swarm = (reply.complete || 0) + (reply.incomplete || 0)
        if (this.others === null) mark(`tracker: ${swarm - 1} others`)
        this.others = Math.max(swarm - 1, 0)
        this.tick()
      })
    }
    this.timer = setInterval(() => this.tick(), 1000)
    this.onWaiting = () => this.tick()
    audio.addEventListener('waiting', this.onWaiting)
  }

  peerWires () {
    return this.torrent.wires.filter(w => w.type === 'webrtc').length
  }

  /** Bytes per second from peers over the last few seconds. */
  peerRate () {
    const now = Date.now()
    this.peerBytesAt.push([now, this.fromPeers])
    while (this.peerBytesAt.length > 5) this.peerBytesAt.shift()
    const [t0, b0] = this.peerBytesAt[0]
    return now > t0 ? (this.fromPeers - b0) * 1000 / (now - t0) : 0
  }

  tick () {
    const t = this.torrent
    if (t.destroyed) return
    const audio = this.audio
    const duration = Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : 0
    // Bytes per second playback needs; 16 kB/s (128 kbit/s) until the duration is known.
    const needed = duration ? t.length / duration : 16000
    const keepingUp = this.peerRate() >= 1.5 * needed
    const ahead = aheadSeconds(audio)
    const graceOver = Date.now() - this.started >= GRACE_MS
    if (t.done) {
      this.dropWebSeed()
    } else if (!this.webSeedOn) {
      const alone = this.others === 0
      const noPeers = graceOver && this.peerWires() === 0
      const starving = graceOver && ahead < LOW_AHEAD_S && !keepingUp
      if (alone || noPeers || starving) this.addWebSeed()
    } else if (this.peerWires() > 0 && ahead > HIGH_AHEAD_S && keepingUp) {
      this.dropWebSeed()
    }
    if (!this.fromPeers && !this.fromWeb && Date.now() - this.started > NOTHING_MS) {
      plainHttp(audio)
      return
    }
    this.show()
  }

  addWebSeed () {
    if (this.webSeedOn || this.torrent.destroyed) return
    mark('web seed')
    this.torrent.addWebSeed(this.webSeed)
    this.webSeedOn = true
  }

  dropWebSeed () {
    if (!this.webSeedOn || this.torrent.destroyed) return
    this.torrent.removePeer(this.webSeed)
    this.webSeedOn = false
  }

  show () {
    const line = statusLine(this.audio)
    const peers = this.peerWires()
    line.dataset.peers = String(peers)
    line.dataset.fromPeers = String(this.fromPeers)
    line.dataset.fromWeb = String(this.fromWeb)
    line.dataset.toPeers = String(this.toPeers)
    line.dataset.webSeed = this.webSeedOn ? 'on' : 'off'
    const got = this.fromPeers + this.fromWeb
    const who = peers === 1 ? '1 other listener' : `${peers} other listeners`
    let text = peers ? `Sharing with ${who}` : 'Sharing: no other listener right now'
    if (got > 0) text += ` · ${humanBytes(this.fromPeers)} of ${humanBytes(got)} came from them`
    if (this.toPeers > 0) text += ` · ${humanBytes(this.toPeers)} passed on`
    line.textContent = text
  }

  stop () {
    clearInterval(this.timer)
    this.audio.removeEventListener('waiting', this.onWaiting)
  }
}

/**
 * A torrent's pieces in memory (the abstract-chunk-store interface WebTorrent stores into).
 * WebTorrent's browser default keeps pieces in the origin's private file system, which
 * costs a few hundred milliseconds before the first byte and leaves whole episodes behind
 * in the listener's browser when the page closes; an episode in memory is gone with the tab.
 */
class MemoryStore {
  constructor (chunkLength, opts = {}) {
    this.chunkLength = Number(chunkLength)
    this.chunks = []
    this.closed = false
    const length = Number(opts.length) || Infinity
    this.lastIndex = Math.ceil(length / this.chunkLength) - 1
    this.lastLength = length % this.chunkLength || this.chunkLength
  }

  put (index, buf, cb = () => {}) {
    const want = index === this.lastIndex ? this.lastLength : this.chunkLength
    if (this.closed) return queueMicrotask(() => cb(new Error('Storage is closed')))
    if (buf.length !== want) return queueMicrotask(() => cb(new Error(`Chunk length must be ${want}`)))
    this.chunks[index] = buf
    queueMicrotask(() => cb(null))
  }

  get (index, opts, cb = () => {}) {
    if (typeof opts === 'function') return this.get(index, null, opts)
    if (this.closed) return queueMicrotask(() => cb(new Error('Storage is closed')))
    const buf = this.chunks[index]
    if (!buf) {
      const err = new Error('Chunk not found')
      err.notFound = true
      return queueMicrotask(() => cb(err))
    }
    const offset = opts?.offset || 0
    const length = opts?.length || buf.length - offset
    queueMicrotask(() => cb(null, offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length)))
  }

  close (cb = () => {}) {
    this.closed = true
    this.chunks = null
    queueMicrotask(() => cb(null))
  }

  destroy (cb) {
    this.close(cb)
  }
}

/** The WebSocket trackers a browser here can use (an https: page cannot open ws:). */
function webSocketTrackers (trackers) {
  const secure = location.protocol === 'https:'
  return trackers.filter(u => u.startsWith('wss://') || (!secure && u.startsWith('ws://')))
}

/**
 * How many browsers the WebSocket tracker among `trackers` knows for `hash`, by a scrape,
 * or null when it cannot say within a second, or -1 when it cannot be reached at all. WebTorrent's own announce answers this too,
 * but only after it has gathered the network addresses of its WebRTC offers (about 0.2 s):
 * a lone listener's web seed need not wait for that.
 */
function scrapeCount (trackers, hash) {
  const url = webSocketTrackers(trackers)[0]
  if (!url || !/^[0-9a-f]{40}$/.test(hash)) return Promise.resolve(null)
  // The WebTorrent protocol's ids: one character per byte.
  const binary = hash.match(/../g).map(h => String.fromCharCode(parseInt(h, 16))).join('')
  return new Promise(resolve => {
    let ws = null
    const done = n => {
      clearTimeout(timer)
      try { ws?.close() } catch {}
      resolve(n)
    }
    const timer = setTimeout(() => done(null), 1000)
    try {
      ws = new WebSocket(url)
    } catch {
      return done(null)
    }
    ws.onopen = () => ws.send(JSON.stringify({ action: 'scrape', info_hash: binary }))
    ws.onerror = () => done(-1)
    ws.onmessage = event => {
      try {
        const counts = JSON.parse(event.data).files?.[binary]
        done(counts ? (counts.complete || 0) + (counts.incomplete || 0) : null)
      } catch {
        done(null)
      }
    }
  })
}

/** The torrent of `audio`'s episode, added to the client without its web seed; resolves
 * once it is ready to stream. */
async function addTorrent (wt, audio) {
  const response = await fetch(new URL(audio.dataset.torrent, document.baseURI).href)
  if (!response.ok) throw new Error(`torrent: HTTP ${response.status}`)
  const bytes = new Uint8Array(await response.arrayBuffer())
  return new Promise((resolve, reject) => {
    const torrent = wt.add(bytes, { store: MemoryStore, storeCacheSlots: 0 }, resolve)
    torrent.once('error', reject)
  })
}

/** Streams `audio`'s episode peer to peer (its element already asks the worker for it);
 * resolves with the torrent once it can stream, rejects once the episode plays plain HTTP. */
async function stream (audio) {
  statusLine(audio).textContent = 'Looking for other listeners…'
  try {
    const wt = await webtorrent()
    if (!sharingWanted()) throw new Error('sharing was switched off')
    const torrent = await addTorrent(wt, audio)
    mark('torrent ready')
    torrent.once('wire', () => mark('first peer'))
    torrent.once('verified', () => mark('first piece'))
    if (torrent.infoHash !== audio.dataset.infoHash) throw new Error('another torrent')
    const session = new Session(audio, torrent)
    sessions.set(audio, session)
    const trackers = webSocketTrackers(torrent.announce || [])
    // No tracker a browser can use: no other listener can be found.
    if (!trackers.length) session.others = 0
    scrapeCount(trackers, torrent.infoHash).then(n => {
      // Nobody, not even this listener's own announce yet, or no way to find anybody: the
      // web seed is the only source.
      if ((n === 0 || (n === -1 && trackers.length === 1)) && session.others === null) {
        mark(n === 0 ? 'tracker: nobody' : 'tracker: unreachable')
        session.others = 0
        session.tick()
      }
    })
    torrent.on('error', () => plainHttp(audio))
    const file = torrent.files[0]
    if (new URL(file.streamURL, scope).href !== audio.src) {
      // Not the URL this script made for it: let WebTorrent set its own.
      const t = audio.currentTime
      file.streamTo(audio)
      if (t > 0) audio.currentTime = t
      audio.play().catch(() => {})
    }
    readyHashes.add(torrent.infoHash)
    releaseHeld(torrent.infoHash, true)
    session.tick()
    return torrent
  } catch (err) {
    plainHttp(audio)
    throw err
  }
}

/** `audio`'s stream URL under the worker's scope, or null when its file name would not
 * survive WebTorrent's decoding of the URL (then it plays plain HTTP). */
function streamUrl (audio) {
  const { infoHash, name } = audio.dataset
  if (!infoHash || !name) return null
  const encoded = encodeURIComponent(name)
  if (decodeURI(encoded) !== name) return null
  return `${scope}webtorrent/${infoHash}/${encoded}`
}

/** Points every idle episode at its stream: nothing is fetched until play. */
function arm () {
  for (const audio of document.querySelectorAll('audio[data-stream]')) {
    const idle = audio.paused && audio.currentTime === 0 && audio.getAttribute('src') === audio.dataset.http
    if (idle && !audio.dataset.plain) audio.src = audio.dataset.stream
  }
  // WebTorrent loaded while the page is idle, so pressing play does not wait for it.
  const idle = window.requestIdleCallback || (f => setTimeout(f, 1000))
  idle(() => webtorrent().then(() => {
    document.documentElement.dataset.podseedPlayer = 'ready'
  }, () => {}))
}

function onPlay (event) {
  const audio = event.target
  mark('play')
  if (sessions.has(audio) || audio.getAttribute('src') !== audio.dataset.stream) return
  // Played again before its torrent was ready (a double click): already on its way.
  if (played.get(audio.dataset.infoHash)?.audio === audio) return
  // Registered before the element's first request reaches this page through the worker.
  let ready, failed
  const torrent = new Promise((resolve, reject) => {
    ready = resolve
    failed = reject
  })
  torrent.catch(() => {})
  // The torrent starts once the head plays: parsing it and WebTorrent's WebRTC offers take
  // the page's main thread, through which the head's bytes pass on their way to the audio.
  let started = false
  const start = () => {
    if (started) return
    started = true
    clearTimeout(timer)
    stream(audio).then(ready, failed)
  }
  const timer = setTimeout(start, START_MS)
  audio.addEventListener('playing', () => {
    mark('playing')
    start()
  }, { once: true })
  played.set(audio.dataset.infoHash, {
    audio,
    http: new URL(audio.dataset.http, document.baseURI).href,
    torrent,
    headed: false,
    start
  })
}

/** Turns sharing off: every episode goes back to its MP3 URL where it stands. */
function stopSharing () {
  for (const audio of document.querySelectorAll('audio[data-stream]')) plainHttp(audio)
  if (client) client.destroy()
  client = null
  server = null
  clientReady = null
  readyHashes.clear()
  played.clear()
  delete document.documentElement.dataset.podseedPlayer
}

/** The switch above the episodes, remembered in this browser. */
function sharingSwitch () {
  const heading = document.getElementById('episodes')
  if (!heading) return
  const box = document.createElement('p')
  box.className = 'sharing'
  const label = document.createElement('label')
  const input = document.createElement('input')
  input.type = 'checkbox'
  input.checked = sharingWanted()
  input.addEventListener('change', () => {
    rememberSharing(input.checked)
    if (input.checked) {
      for (const audio of document.querySelectorAll('audio[data-plain]')) delete audio.dataset.plain
      controllingWorker().then(arm, () => {})
    } else {
      stopSharing()
    }
  })
  label.append(input, 'Share episodes with other listeners while this page is open (saves the show bandwidth)')
  box.append(label)
  heading.after(box)
}

function main () {
  if (!capable()) return
  const audios = [...document.querySelectorAll('audio[data-torrent]')]
  for (const audio of audios) {
    audio.dataset.http = audio.getAttribute('src')
    const url = streamUrl(audio)
    if (!url) continue
    audio.dataset.stream = url
    audio.addEventListener('play', onPlay)
  }
  if (!document.querySelector('audio[data-stream]')) return
  navigator.serviceWorker.addEventListener('message', holdEarlyRequests)
  sharingSwitch()
  if (sharingWanted()) controllingWorker().then(arm, () => {})
}

main()
