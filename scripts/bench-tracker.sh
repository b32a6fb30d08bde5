#!/usr/bin/env bash
# bench-tracker.sh: announces/s and memory of podseed's tracker against opentracker, in one run.
#
# Usage: scripts/bench-tracker.sh [SECONDS]        (default 10 per measurement)
# Env:   CONNS (wrk connections, 64), THREADS (load threads, 2)
# Needs: cargo, wrk, opentracker, curl, python3 (Debian: wrk opentracker curl).
#
# Publishes 10 tiny synthetic episodes, starts `podseed serve` (release build) and Debian's
# opentracker (whitelist-only, the same 10 info hashes) on loopback, then measures:
#   1. HTTP: wrk with a Lua script announcing random peers (random peer id, port, and for
#      podseed an `ip=` so every announce is a new peer) on the 10 hashes.
#   2. UDP: examples/udp_load.rs (connect, then announces with 16 in flight per socket).
#   3. Memory: peak RSS of each after the load. podseed caps each swarm at 10,000 peers
#      (max_peers_per_torrent), so its 10 swarms hold 100,000 peers at the end; the
#      figures print the peer counts both trackers report.
# Both servers run while the other is measured, so they see the same machine. Loopback only.
set -euo pipefail

SECS=${1:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in wrk opentracker curl python3; do
  command -v "$t" >/dev/null || { echo "bench-tracker: $t is required (apt-get install wrk opentracker curl)" >&2; exit 2; }
done
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --example udp_load
BIN="$ROOT/target/release/podseed"
LOAD="$ROOT/target/release/examples/udp_load"

W=$(mktemp -d /tmp/podseed-bench-tracker.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Ten tiny valid MP3s (frames of MPEG-1 layer III with random payload), each different.
python3 - <<'PY'
import os
os.makedirs("episodes", exist_ok=True)
for i in range(10):
    buf = bytearray(os.urandom(417 * 50))
    for f in range(50):
        buf[f * 417:f * 417 + 4] = b"\xff\xfb\x90\x64"
    open(f"episodes/2026-01-{i + 1:02d}-ep.mp3", "wb").write(buf)
PY
PS_HTTP=$(free_port); PS_UDP=$(free_udp_port); OT_PORT=$(free_port)
cat > podcast.yaml <<EOF
title: Tracker bench
description: Tracker bench
base_url: http://127.0.0.1:$PS_HTTP/
serve:
  http: 127.0.0.1:$PS_HTTP
  udp_tracker: 127.0.0.1:$PS_UDP
  peer: off
  max_peers_per_torrent: 10000
  max_connections: 4096
  max_connections_per_ip: 4096
  max_peers_per_ip: 100000
EOF
"$BIN" publish --quiet
python3 -c 'import json; m=json.load(open("public/.podseed/manifest.json")); print("\n".join(p["info_hash"] for p in m["published"]))' > hashes.txt

RUST_LOG=warn "$BIN" serve --ready-file ready.json & PIDS+=($!); PS_PID=$!
mkdir -p ot && cp hashes.txt ot/whitelist.txt
opentracker -i 127.0.0.1 -p "$OT_PORT" -P "$OT_PORT" -w whitelist.txt -d "$W/ot" -u nobody -A 127.0.0.1 >/dev/null 2>&1 & PIDS+=($!); OT_PID=$!
for _ in $(seq 100); do [ -f ready.json ] && break; sleep 0.1; done
[ -f ready.json ] || { echo "podseed serve did not start" >&2; exit 1; }
sleep 0.5

cat > announce.lua <<'LUA'
-- Random announces on the hashes in $HASHES; every request is a new peer.
local hashes = {}
for line in io.lines(os.getenv("HASHES")) do
  if #line == 40 then table.insert(hashes, (line:gsub("(%x%x)", "%%%1"))) end
end
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end
request = function()
  local path = string.format(
    "/announce?info_hash=%s&peer_id=-BM0001-%06d%06d&port=%d&uploaded=0&downloaded=0&left=%d&ip=10.%d.%d.%d&numwant=50",
    hashes[math.random(#hashes)], math.random(0, 999999), math.random(0, 999999),
    math.random(1024, 65535), math.random(0, 1),
    math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format("GET", path)
end
LUA

rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
wrk_rps() { HASHES="$W/hashes.txt" wrk -t "$THREADS" -c "$CONNS" -d "${SECS}s" -s announce.lua "$1" | awk '/Requests\/sec/ {print $2}'; }

# Each measurement also records the server's CPU seconds, for announces per CPU second:
# on two shared cores, a server that needs less CPU leaves more to the load generator.
measure() { # pid command... ; prints "rate cpu_seconds"
  local pid=$1; shift
  local before rate after
  before=$(cpu_ticks "$pid")
  rate=$("$@")
  after=$(cpu_ticks "$pid")
  echo "$rate $(python3 -c "print(($after - $before) / $TICKS)")"
}
udp_rps() { "$LOAD" "$1" "$SECS" $((THREADS * 2)) hashes.txt | awk '{print $2}'; }

echo "== HTTP announces, wrk -t $THREADS -c $CONNS, ${SECS}s each"
read -r PS_HTTP_RPS PS_HTTP_CPU < <(measure "$PS_PID" wrk_rps "http://127.0.0.1:$PS_HTTP")
read -r OT_HTTP_RPS OT_HTTP_CPU < <(measure "$OT_PID" wrk_rps "http://127.0.0.1:$OT_PORT")
echo "== UDP announces, udp_load, $((THREADS * 2)) sockets, ${SECS}s each, twice, alternating"
read -r PS_UDP1 PS_UDP_CPU1 < <(measure "$PS_PID" udp_rps "127.0.0.1:$PS_UDP")
read -r OT_UDP1 OT_UDP_CPU1 < <(measure "$OT_PID" udp_rps "127.0.0.1:$OT_PORT")
read -r PS_UDP2 PS_UDP_CPU2 < <(measure "$PS_PID" udp_rps "127.0.0.1:$PS_UDP")
read -r OT_UDP2 OT_UDP_CPU2 < <(measure "$OT_PID" udp_rps "127.0.0.1:$OT_PORT")
PS_UDP_RPS=$(python3 -c "print(($PS_UDP1 + $PS_UDP2) / 2)"); PS_UDP_CPU=$(python3 -c "print(($PS_UDP_CPU1 + $PS_UDP_CPU2) / 2)")
OT_UDP_RPS=$(python3 -c "print(($OT_UDP1 + $OT_UDP2) / 2)"); OT_UDP_CPU=$(python3 -c "print(($OT_UDP_CPU1 + $OT_UDP_CPU2) / 2)")

PS_PEERS=$(curl -s "http://127.0.0.1:$PS_HTTP/stats" | python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print(t["seeders"]+t["leechers"])')
OT_PEERS=$(curl -s "http://127.0.0.1:$OT_PORT/stats?mode=peer&format=txt" | head -1 | awk '{print $1}')
PS_RSS=$(rss_kb "$PS_PID"); OT_RSS=$(rss_kb "$OT_PID")

python3 - "$PS_HTTP_RPS" "$OT_HTTP_RPS" "$PS_UDP_RPS" "$OT_UDP_RPS" "$PS_PEERS" "$OT_PEERS" "$PS_RSS" "$OT_RSS" \
  "$PS_HTTP_CPU" "$OT_HTTP_CPU" "$PS_UDP_CPU" "$OT_UDP_CPU" "$SECS" <<'PY'
import sys
ph, oh, pu, ou = (float(x or 0) for x in sys.argv[1:5])
pp, op, pr, orr = sys.argv[5], sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
phc, ohc, puc, ouc = (float(x or 0) for x in sys.argv[9:13])
secs = float(sys.argv[13])
per_cpu = lambda rate, cpu: rate * secs / cpu if cpu else 0
print()
print(f"HTTP announces/s  podseed {ph:9.0f}   opentracker {oh:9.0f}   ratio {ph / oh if oh else 0:.2f} (target >= 1.00)")
print(f"     per CPU s    podseed {per_cpu(ph, phc):9.0f}   opentracker {per_cpu(oh, ohc):9.0f}   (server CPU {phc:.1f} s vs {ohc:.1f} s)")
print(f"UDP  announces/s  podseed {pu:9.0f}   opentracker {ou:9.0f}   ratio {pu / ou if ou else 0:.2f} (target >= 1.00)")
print(f"     per CPU s    podseed {per_cpu(pu, puc):9.0f}   opentracker {per_cpu(ou, ouc):9.0f}   (server CPU {puc:.1f} s vs {ouc:.1f} s)")
print(f"peak RSS          podseed {pr / 1024:7.1f} MB with {pp} peers   opentracker {orr / 1024:7.1f} MB with {op} peers (target: podseed < 100 MB)")
PY
