#!/usr/bin/env bash
# bench-browser-swarm.sh: what the show page's browser player saves the podcaster, against
# the same page playing plain HTTP, with real headless Chromium listeners.
#
# Usage: scripts/bench-browser-swarm.sh [LISTENERS] [MB]               (defaults: 4 20)
# Env:   STAGGER_MS (3000): listeners arrive this far apart
#        PLAY_MS (20000): after the last listener arrives, everyone keeps playing this long
#        KEEP (/tmp/bench-browser-swarm-last): where the reports and serve logs are copied
# Needs: cargo, node, npm ci run in the repository (webtorrent, ws), Debian's chromium,
#        unshare with user namespaces, python3.
#
# One playable synthetic episode of MB megabytes (silent MPEG-1 layer III frames with a
# pseudo-random ancillary payload, so every piece differs) is published on a copy of the
# shipped example served from http://127.0.0.1:PORT/ with podseed's HTTP, WebSocket and UDP
# trackers and STUN (no seeder: browsers cannot reach it). Two runs, each a fresh `podseed
# serve` and LISTENERS fresh headless Chromium, each with its own profile, arriving
# STAGGER_MS apart, each opening the page and pressing play on that episode:
#   1. player:     the page as publish writes it with WebTorrent installed: listeners stream
#                  from each other over WebRTC and from the web seed (peers first).
#   2. plain HTTP: the same page with `page.browser_player: false`: the <audio> plays the MP3.
# Everything (serve, browsers, the driver tests/browser/swarm.mjs) runs inside a user, network
# and PID namespace of its own (tests/browser/netns.sh): nothing leaves it, and every process
# dies with it. Reported per run: bytes the origin sent over HTTP for the episode (serve's
# /stats), bytes the listeners got (player: what each received from peers and the web seed;
# plain HTTP: what the origin sent, as every byte comes from it), their ratio (the fraction
# the podcaster pays for), each listener's time to first audio (press of play to the first
# `currentTime` past 0, polled every 5 ms in the page) and CPU seconds (utime + stime of its browser's
# processes over the run, /proc). In the player run every listener holds the whole episode
# by the end; with plain HTTP a listener who plays to the end downloads it all from the
# origin, LISTENERS x the file, of which the run shows the part fetched while it lasted.
set -euo pipefail

N=${1:-4}
MB=${2:-20}
STAGGER_MS=${STAGGER_MS:-3000}
PLAY_MS=${PLAY_MS:-20000}
KEEP=${KEEP:-/tmp/bench-browser-swarm-last}
REPO=$(cd "$(dirname "$0")/.." && pwd)

for tool in node chromium unshare python3; do
  command -v "$tool" >/dev/null || { echo "bench-browser-swarm: $tool is missing" >&2; exit 1; }
done
[ -f "$REPO/node_modules/webtorrent/dist/webtorrent.min.js" ] || {
  echo "bench-browser-swarm: run npm ci in $REPO first" >&2; exit 1; }

cargo build --quiet --manifest-path "$REPO/Cargo.toml"
PODSEED="$REPO/target/debug/podseed"

WORK=$(mktemp -d /tmp/bench-browser-swarm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

free_port() {
  python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}
HTTP_PORT=$(free_port SOCK_STREAM)
UDP_PORT=$(free_port SOCK_DGRAM)
FILE=2026-03-01-release-day.mp3

SHOW="$WORK/show"
mkdir -p "$SHOW"
cp -r "$REPO/examples" "$SHOW/"
python3 - "$REPO/podcast.yaml" "$SHOW/podcast.yaml" "$HTTP_PORT" "$UDP_PORT" "$REPO" <<'EOF'
import sys
src, dst, http, udp, repo = sys.argv[1:]
text = open(src).read()
text = text.replace("https://podcast.example.com/seedbox/", f"http://127.0.0.1:{http}/")
text = text.replace("  trackers:\n    - udp://tracker.opentrackr.org:1337/announce\n", "  trackers: []\n")
text += f"""
page:
  browser_player: true
  webtorrent_dir: {repo}/node_modules/webtorrent/dist
serve:
  http: 127.0.0.1:{http}
  udp_tracker: 127.0.0.1:{udp}
  peer: "off"
  dht: false
  public_url: http://127.0.0.1:{http}/
"""
open(dst, "w").write(text)
EOF
python3 - "$SHOW/examples/episodes/$FILE" "$MB" <<'EOF'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
header, frame, zeros = bytes([0xFF, 0xFB, 0x90, 0x44]), 417, 32
state, out = 0x9E3779B97F4A7C15, bytearray()
rest = frame - len(header) - zeros
while len(out) < mb * 1_000_000:
    payload = bytearray(rest)
    for i in range(rest):
        state = (state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        payload[i] = (state >> 56) & 0x7F
    out += header + bytes(zeros) + payload
open(path, "wb").write(out)
EOF
SIZE=$(stat -c %s "$SHOW/examples/episodes/$FILE")

run() { # MODE: player | http
  local mode=$1
  if [ "$mode" = http ]; then
    sed -i 's/^  browser_player: true$/  browser_player: false/' "$SHOW/podcast.yaml"
  else
    sed -i 's/^  browser_player: false$/  browser_player: true/' "$SHOW/podcast.yaml"
  fi
  (cd "$SHOW" && "$PODSEED" publish --quiet)
  local driver_mode=p2p
  [ "$mode" = http ] && driver_mode=http
  unshare -rnpm --fork --kill-child --mount-proc sh "$REPO/tests/browser/netns.sh" \
    node "$REPO/tests/browser/swarm.mjs" --podseed "$PODSEED" --show "$SHOW" \
    --file "$FILE" --size "$SIZE" --listeners "$N" --stagger-ms "$STAGGER_MS" \
    --play-ms "$PLAY_MS" --mode "$driver_mode" --timeout-ms 600000 \
    --out "$WORK/$mode.json" 2> "$WORK/$mode.err" || {
      echo "bench-browser-swarm: the $mode run failed:" >&2; tail -40 "$WORK/$mode.err" >&2; exit 1; }
  cp "$SHOW/serve.log" "$WORK/$mode.serve.log"
}

echo "episode: $SIZE bytes, $N listeners arriving ${STAGGER_MS} ms apart, playing ${PLAY_MS} ms after the last"
run player
run http

python3 - "$WORK" "$SIZE" "$N" <<'EOF'
import json, sys
work, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(mode):
    r = json.load(open(f"{work}/{mode}.json"))
    hashes = [e for e in r["stats"]["episodes"] if e["http_bytes"] > 0] or r["stats"]["episodes"]
    origin = max(e["http_bytes"] for e in hashes)
    return r, origin
rows = []
for mode, label in (("player", "player (P2P)"), ("http", "plain HTTP")):
    r, origin = load(mode)
    ls = r["listeners"]
    got = sum(l["from_peers"] + l["from_web"] for l in ls) if mode == "player" else origin
    ttfa = [l["ttfa_ms"] for l in ls]
    cpu = [l["cpu_s"] for l in ls]
    rows.append((label, origin, got, ttfa, cpu, ls))
print()
print(f"{'run':<14} {'origin HTTP':>12} {'x file':>7} {'listeners got':>14} {'origin/got':>10}  time to first audio (ms)      CPU (s)")
for label, origin, got, ttfa, cpu, ls in rows:
    t = " ".join(f"{x:6.0f}" if x is not None else "     -" for x in ttfa)
    c = " ".join(f"{x:5.1f}" for x in cpu)
    print(f"{label:<14} {origin:>12} {origin/size:>7.2f} {got:>14} {origin/max(got,1):>10.2f}  {t:<29} {c}")
p = rows[0][5]
print()
print("player run, per listener: from peers / from the web seed (bytes), web seed at the end")
for l in p:
    print(f"  {l['name']}: {l['from_peers']} / {l['from_web']}  web seed {l['web_seed']}  played {l['current_time']:.1f} s")
print(f"plain HTTP: every byte comes from the origin; {n} listeners who play to the end download {n} x the file ({n*size} bytes).")
EOF

rm -rf "$KEEP"
mkdir -p "$KEEP"
cp "$WORK"/*.json "$WORK"/*.log "$WORK"/*.err "$KEEP"/ 2>/dev/null || true
echo "reports and logs: $KEEP"
