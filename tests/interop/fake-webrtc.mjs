// A stand-in for the `webrtc-polyfill` module (libdatachannel, a native build) so that the
// real bittorrent-tracker client runs in Node without one: it makes offers and answers with
// placeholder SDP and finishes ICE gathering at once. Nothing ever connects; the tests use
// it only to check the signalling that goes through podseed's WebSocket tracker.

let made = 0

export class RTCSessionDescription {
  constructor (init) {
    this.type = init.type
    this.sdp = init.sdp
  }
}

export class RTCIceCandidate {
  constructor (init) {
    Object.assign(this, init)
  }
}

class FakeDataChannel {
  constructor (label) {
    this.label = label
    this.readyState = 'connecting'
    this.binaryType = 'arraybuffer'
    this.bufferedAmount = 0
    this.bufferedAmountLowThreshold = 0
  }

  send () {}

  close () {
    this.readyState = 'closed'
  }
}

export class RTCPeerConnection {
  constructor () {
    this.serial = ++made
    this.localDescription = null
    this.remoteDescription = null
    this.signalingState = 'stable'
    this.iceConnectionState = 'new'
    this.iceGatheringState = 'new'
    this.connectionState = 'new'
  }

  createDataChannel (label) {
    return new FakeDataChannel(label)
  }

  async createOffer () {
    return { type: 'offer', sdp: this.sdp('offer') }
  }

  async createAnswer () {
    return { type: 'answer', sdp: this.sdp('answer') }
  }

  sdp (kind) {
    return `v=0\r\no=- ${this.serial} 2 IN IP4 127.0.0.1\r\ns=fake ${kind}\r\nt=0 0\r\n`
  }

  async setLocalDescription (description) {
    this.localDescription = new RTCSessionDescription(description)
    setTimeout(() => {
      this.iceGatheringState = 'complete'
      if (this.onicegatheringstatechange) this.onicegatheringstatechange()
      if (this.onicecandidate) this.onicecandidate({ candidate: null })
    }, 0)
  }

  async setRemoteDescription (description) {
    this.remoteDescription = new RTCSessionDescription(description)
  }

  async addIceCandidate () {}

  async getStats () {
    return new Map()
  }

  close () {}
}
