#!/usr/bin/env bash
# bench-http.sh: podseed serve's static files against Debian's nginx, in one run.
#
# Usage: scripts/bench-http.sh [SECONDS]     (default 8 per measurement)
# Env:   ROUNDS (3), THREADS (wrk threads, 2), PODSEED_BIN (a built binary instead of
#        this tree's release build),
#        BEFORE_BIN (optional: another podseed binary, e.g. a build of an older commit,
#        measured in the same rounds as a third server, labelled "before")
# Needs: cargo, wrk, nginx (Debian: /usr/sbin/nginx), python3.
#
# Publishes a show with one 33 MB episode (random MPEG frames) and four small ones, so the
# feed is about 7 KB, then serves the output folder with `podseed serve` (release build)
# and with nginx (sendfile on, 2 workers, no access log), each on an ephemeral loopback
# port, and measures with wrk:
#   feed   GET /feed.xml, 64 connections
#   range  a random 256 KiB Range of the 33 MB MP3 (the web seed's pattern), 32 connections
#   whole  GET of the whole 33 MB MP3, 8 connections
# plus each server's CPU time (utime + stime from /proc, nginx's workers included) per GB
# sent and per request. The servers take turns within each round, so a busy moment of
# the (shared) machine hits each of them; the table gives the median of the rounds.
set -euo pipefail

SECS=${1:-8}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
for t in wrk python3 "$NGINX"; do
  command -v "$t" >/dev/null || { echo "bench-http: $t is required (apt-get install wrk nginx-light python3)" >&2; exit 2; }
done
if [ -n "${PODSEED_BIN:-}" ]; then
  BIN=$PODSEED_BIN
else
  cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/release/podseed"
fi

W=$(mktemp -d /tmp/podseed-bench-http.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
# nginx's workers run as an unprivileged user when started as root: let them in.
chmod 755 "$W"
cd "$W"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

python3 - <<'PY'
import os
os.makedirs("episodes", exist_ok=True)
frame = 417  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
def mp3(path, frames):
    buf = bytearray(os.urandom(frame * frames))
    for f in range(frames):
        buf[f * frame:f * frame + 4] = b"\xff\xfb\x90\x64"
    open(path, "wb").write(buf)
mp3("episodes/2026-01-01-long.mp3", 33 * 1000 * 1000 // frame)
for i in range(4):
    mp3(f"episodes/2026-01-{i + 2:02d}-short.mp3", 50)
PY
PS_PORT=$(free_port); NG_PORT=$(free_port); BF_PORT=$(free_port)
cat > podcast.yaml <<EOF
title: HTTP bench
description: A show for measuring static file serving.
base_url: http://127.0.0.1:$PS_PORT/
serve:
  http: 127.0.0.1:$PS_PORT
  udp_tracker: off
  peer: off
  max_connections: 4096
  max_connections_per_ip: 4096
EOF
"$BIN" publish --quiet
MP3=/episodes/2026-01-01-long.mp3
SIZE=$(stat -c %s "public$MP3")
echo "feed.xml: $(stat -c %s public/feed.xml) bytes; MP3: $SIZE bytes"

start_podseed() { # name binary port
  local conf="$W/$1.yaml"
  sed "s/127.0.0.1:$PS_PORT/127.0.0.1:$3/" podcast.yaml > "$conf"
  RUST_LOG=warn "$2" serve --config "$conf" --ready-file "$W/$1.ready" >"$W/$1.log" 2>&1 &
  PIDS+=($!); eval "${1}_PID=$!"
  for _ in $(seq 100); do [ -f "$W/$1.ready" ] && return; sleep 0.1; done
  echo "podseed serve ($1) did not start:" >&2; cat "$W/$1.log" >&2; exit 1
}
start_podseed podseed "$BIN" "$PS_PORT"
SERVERS=(podseed nginx)
if [ -n "${BEFORE_BIN:-}" ]; then
  start_podseed before "$BEFORE_BIN" "$BF_PORT"
  SERVERS=(before podseed nginx)
fi

mkdir -p nginx/logs
cat > nginx/nginx.conf <<EOF
daemon off;
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  server {
    listen 127.0.0.1:$NG_PORT;
    root $W/public;
  }
}
EOF
"$NGINX" -p "$W/nginx" -c "$W/nginx/nginx.conf" 2>"$W/nginx/stderr" & PIDS+=($!); nginx_PID=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $NG_PORT)).close()" 2>/dev/null && break
  sleep 0.1
done
podseed_URL=http://127.0.0.1:$PS_PORT; nginx_URL=http://127.0.0.1:$NG_PORT; before_URL=http://127.0.0.1:$BF_PORT

cat > bench.lua <<'LUA'
-- RANGE=1 asks for a random 256 KiB range of a file of SIZE bytes.
local ranged = os.getenv("RANGE") == "1"
local size = tonumber(os.getenv("SIZE") or "0")
local span = 262144
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end
request = function()
  if ranged then
    local start = math.random(0, size - span)
    return wrk.format("GET", nil, { Range = "bytes=" .. start .. "-" .. (start + span - 1) })
  end
  return wrk.format("GET")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.bytes,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
LUA

# CPU ticks (utime + stime) of a process and its children (nginx's workers).
cpu_ticks() {
  local total=0 p
  for p in $1 $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
TICKS=$(getconf CLK_TCK)

# row server conns path range
measure() {
  local row=$1 server=$2 conns=$3 path=$4 range=$5 pid url before after result
  pid=${server}_PID; pid=${!pid}; url=${server}_URL; url=${!url}
  before=$(cpu_ticks "$pid")
  result=$(RANGE=$range SIZE=$SIZE wrk -t "$THREADS" -c "$conns" -d "${SECS}s" -s bench.lua "$url$path" | awk '/^RESULT/ {print $2, $3, $4, $5}')
  after=$(cpu_ticks "$pid")
  echo "$row $server $result $((after - before))" | tee -a results.txt
}

echo "== $ROUNDS rounds of ${SECS}s per measurement, wrk -t $THREADS; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "row server requests bytes duration_us errors cpu_ticks"
for round in $(seq "$ROUNDS"); do
  for server in "${SERVERS[@]}"; do measure feed "$server" 64 /feed.xml 0; done
  for server in "${SERVERS[@]}"; do measure range "$server" 32 "$MP3" 1; done
  for server in "${SERVERS[@]}"; do measure whole "$server" 8 "$MP3" 0; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$TICKS" "${SERVERS[@]}" <<'PY'
import statistics, sys
ticks = int(sys.argv[1]); servers = sys.argv[2:]
runs = {}
for line in open("results.txt"):
    row, server, req, nbytes, dur, errors, cpu = line.split()
    runs.setdefault((row, server), []).append(
        (int(req), int(nbytes), int(dur) / 1e6, int(errors), int(cpu) / ticks))
med = statistics.median
rows = [("feed", "`feed.xml`, 64 connections", "req/s"),
        ("range", "random 256 KiB Range of the MP3, 32 connections", "req/s"),
        ("whole", "whole 33 MB MP3, 8 connections", "GB/s")]
def rate(r, unit):
    req, nbytes, secs, _, _ = r
    return req / secs if unit == "req/s" else nbytes / secs / 1e9
print()
head = " | ".join(servers)
print(f"| request | {head} | podseed / nginx |" + (" podseed / before |" if "before" in servers else ""))
print("|---" * (len(servers) + 2 + ("before" in servers)) + "|")
for key, label, unit in rows:
    rates = {s: med([rate(r, unit) for r in runs[(key, s)]]) for s in servers}
    fmt = (lambda v: f"{v:,.0f} {unit}") if unit == "req/s" else (lambda v: f"{v:.2f} {unit}")
    cells = " | ".join(fmt(rates[s]) for s in servers)
    extra = f" {rates['podseed'] / rates['before']:.2f} |" if "before" in servers else ""
    print(f"| {label} | {cells} | {rates['podseed'] / rates['nginx']:.2f} |{extra}")
for key, label, unit in rows:
    gb = {s: med([r[4] / (r[1] / 1e9) for r in runs[(key, s)]]) for s in servers}
    us = {s: med([r[4] / r[0] * 1e6 for r in runs[(key, s)]]) for s in servers}
    cells = " | ".join(f"{gb[s]:.2f} s/GB, {us[s]:.0f} µs/req" for s in servers)
    print(f"| CPU, {key} | {cells} | {gb['podseed'] / gb['nginx']:.2f} |" +
          (f" {gb['podseed'] / gb['before']:.2f} |" if "before" in servers else ""))
errors = {k: sum(r[3] for r in v) for k, v in runs.items() if sum(r[3] for r in v)}
if errors:
    print("errors (socket or non-2xx):", errors)
PY
