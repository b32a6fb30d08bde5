// Three bittorrent-tracker clients (WebTorrent's tracker client) against a WebSocket
// tracker: A announces, B announces with offers that reach A, A's answer reaches B, B
// scrapes, and C announces an unknown torrent. Prints what each saw as one JSON line.
//
//   node --import ./register.mjs ws-tracker-clients.mjs ws://HOST:PORT/announce HASH UNKNOWN
import Client from 'bittorrent-tracker'

const [url, infoHash, unknownHash] = process.argv.slice(2)
const seen = {}
const clients = []

function finish (code) {
  process.stdout.write(JSON.stringify(seen) + '\n')
  for (const c of clients) c.destroy()
  process.exit(code)
}

setTimeout(() => {
  seen.timeout = true
  finish(1)
}, 30000)

function client (peerId, hash) {
  const c = new Client({
    infoHash: hash,
    peerId,
    announce: [url],
    port: 6881,
    getAnnounceOpts: () => ({ numwant: 2, left: 1000 })
  })
  c.on('error', err => {
    seen.error = err.message
    finish(1)
  })
  clients.push(c)
  return c
}

// "-WW0208-" and 12 bytes: A's end in 0xaa, B's in 0xbb, C's in 0xcc.
const id = byte => '2d5757303230382d' + byte.repeat(12)

const a = client(id('aa'), infoHash)
a.on('warning', err => { seen.a_warning = err.message })
a.on('update', data => {
  if (seen.a_update) return
  seen.a_update = { complete: data.complete, incomplete: data.incomplete }
  startB()
})
a.on('peer', peer => {
  peer.on('error', () => {})
  seen.a_offer_from = peer.id
})
a.start()

function startB () {
  const b = client(id('bb'), infoHash)
  b.on('warning', err => { seen.b_warning = err.message })
  b.on('update', data => {
    if (!seen.b_update) seen.b_update = { complete: data.complete, incomplete: data.incomplete }
  })
  b.on('peer', peer => {
    peer.on('error', () => {})
    if (seen.b_answer_from) return
    seen.b_answer_from = peer.id
    b.scrape()
  })
  b.on('scrape', data => {
    seen.scrape = { complete: data.complete, incomplete: data.incomplete, downloaded: data.downloaded }
    startC()
  })
  b.start()
}

function startC () {
  const c = client(id('cc'), unknownHash)
  c.on('warning', err => {
    seen.unknown_warning = err.message
    finish(0)
  })
  c.start()
}
