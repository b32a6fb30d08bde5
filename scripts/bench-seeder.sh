#!/usr/bin/env bash
# bench-seeder.sh: how fast does podseed's built-in seeder serve a swarm, against aria2 and
# libtorrent seeding the same .torrent and data, in one run.
#
# Usage: scripts/bench-seeder.sh [LEECHERS] [MB]                       (defaults: 8 200)
# Env:   REPEAT (1): run the four rounds this many times, interleaved, and report each
#        repetition and the median of every ratio (the machine is shared and noisy)
#        ROUND_TIMEOUT (s, 300): a round not done by then is killed and reported FAILED
#        STALL_TIMEOUT (s, 60): aria2c's --bt-stop-timeout, a leecher with no download gives up
#        SLOTS (16): unchoke slots of podseed and libtorrent (aria2 has no such setting)
#        LT_PRESET (default): `high_performance_seed` starts libtorrent from its seed preset
#        RUST_LOG (debug): podseed serve's log level; its logs go to the temp folder
#        LEECH_LOG (notice): the leechers' aria2c --log-level (info shows every handshake)
#        KEEP (/tmp/bench-seeder-last): where logs, configs and results are copied at the end
# Needs: cargo, aria2c, curl, sha1sum, python3, and Debian's /usr/bin/python3 with
#        python3-libtorrent (apt-get install aria2 python3-libtorrent curl).
#
# One synthetic episode of MB megabytes (random payload behind valid MPEG-1 layer III frame
# headers, like bench-publish.sh) is published with `web_seed: false` and no extra trackers,
# so the .torrent's only tracker is podseed's own http://127.0.0.1:HTTP/announce and there is
# no HTTP fallback. Then three rounds, each with a fresh `podseed serve` (same HTTP port, so
# the same .torrent works; the tracker starts empty) and K fresh aria2c leechers started at
# once, each in its own folder, on its own --listen-port, with DHT, LPD and PEX off:
#   1. podseed seeds:  one `serve`, tracker and seeder, as podcasters run it. Its seeder
#                      dials each leecher the moment it announces (serve.connect_to_peers);
#                      its CPU includes the tracker's (a few dozen announces).
#   2. podseed-split:  the seeder engine alone: a tracker-only `serve` (`peer: off`) on the
#                      torrent's HTTP port, and a second `serve` as the seeder (its own HTTP
#                      port), which announces itself to that tracker like the other seeders
#                      do and so, like them, learns of no leecher to dial: leechers connect
#                      to it on their own schedule. Its CPU is the seeder's alone.
#   3. aria2 seeds:    `serve` with `peer: off` (the tracker still answers, lists no podseed
#                      seeder), and `aria2c -V --seed-ratio=0.0` seeding the source file; it
#                      announces itself, and /stats must show it as the one seeder first.
#   4. libtorrent seeds: the same with scripts/libtorrent_seed.py (seed mode, no rate limit,
#                      SLOTS unchoke slots) run by /usr/bin/python3.
# ROUNDS (default "podseed podseed-split aria2 libtorrent") picks rounds, e.g. for profiling.
# For each round: the time until the last leecher has the whole file (aria2c's completion
# hook; also shown: until every aria2c has exited, about 2 s more whoever seeds, as aria2c
# lingers after completing), aggregate MB/s (K x size / time), the seeder's CPU seconds in the
# round (utime + stime, /proc/PID/stat, counted from the seeder's start, so aria2's -V check
# before seeding counts like podseed's and libtorrent's checks of each piece on first read;
# the tracker is a separate process in every round), its peak RSS (VmHWM:
# the process is started fresh for the round), and the leechers' CPU (the machine is shared:
# on few cores, CPU the seeder saves goes to the leechers). Every download's SHA-1 must equal
# the source's, else the round FAILS.
#
# The leechers also upload to each other (a real swarm, the same in all three rounds): what
# differs is the seeder's share. "seeder sent" is K x size minus what the leechers told the
# tracker they uploaded (the tracker's /stats, read before the seeder stops), so it is the
# same estimate for all three; aria2's and libtorrent's own upload counters are shown too.
# Leechers are stock aria2c: it tries an encrypted (MSE) handshake first and falls back to a
# plain one on a later tick if the seeder does not speak MSE; that is part of the time.
# aria2 has no unchoke-slot setting (it unchokes a few peers at a time), so it is measured
# as it ships. Loopback only; only processes this script started are ever killed.
set -euo pipefail

K=${1:-8}
MB=${2:-200}
REPEAT=${REPEAT:-1}
ROUND_TIMEOUT=${ROUND_TIMEOUT:-300}
STALL_TIMEOUT=${STALL_TIMEOUT:-60}
SLOTS=${SLOTS:-16}
KEEP=${KEEP:-/tmp/bench-seeder-last}
LEECH_LOG=${LEECH_LOG:-notice}
export RUST_LOG=${RUST_LOG:-debug}
LT_PY=/usr/bin/python3
ROUNDS=${ROUNDS:-podseed podseed-split aria2 libtorrent}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in aria2c curl sha1sum python3 timeout; do
  command -v "$t" >/dev/null || { echo "bench-seeder: $t is required (apt-get install aria2 curl)" >&2; exit 2; }
done
"$LT_PY" -c 'import libtorrent' 2>/dev/null \
  || { echo "bench-seeder: $LT_PY cannot import libtorrent (apt-get install python3-libtorrent)" >&2; exit 2; }

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/podseed"

W=$(mktemp -d /tmp/podseed-bench-seeder.XXXXXX)
# Our children not yet reaped (a reaped PID may be reused by anyone: never signal it again).
declare -A LIVE=()
started() { LIVE[$1]=1; }
reaped() { unset "LIVE[$1]"; }
cleanup() {
  local p
  for p in "${!LIVE[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${!LIVE[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    rm -rf "$KEEP/logs" "$KEEP"/{results.jsonl,summary.txt,complete.txt,lt-status.json,ready.json}
    cp "$W"/*.yaml "$W"/*.json* "$W"/*.txt "$KEEP"/ 2>/dev/null || true
    cp -r "$W"/logs "$KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$W"
mkdir -p logs

now() { date +%s.%N; }

# Distinct free loopback ports (TCP and UDP), outside the kernel's ephemeral range so that no
# outgoing connection takes one between this check and the bind; all held at once.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
pool = [p for p in range(10000, 65536) if not lo <= p <= hi]
random.shuffle(pool)
held, ports = [], []
for port in pool:
    if len(ports) == int(sys.argv[1]):
        break
    try:
        t = socket.socket(); t.bind(("127.0.0.1", port))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port))
    except OSError:
        continue
    held += [t, u]; ports.append(port)
print(" ".join(map(str, ports)))
PY
}
read -r -a PORTS <<< "$(free_ports $((6 + 4 * K)))"
HTTP=${PORTS[0]}; PEER=${PORTS[1]}; A2_PORT=${PORTS[2]}; A2_RPC=${PORTS[3]}; LT_PORT=${PORTS[4]}
SEEDER_HTTP=${PORTS[5]}
LEECH_PORTS=("${PORTS[@]:6}")

# The episode: 417-byte frames (FF FB 90 64 = MPEG-1 L3 128 kbps 44.1 kHz), random payload.
NAME=2026-01-01-seeder-bench.mp3
python3 - "episodes/$NAME" $((MB * 1000 * 1000)) <<'PY'
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.dirname(path), exist_ok=True)
flen = 417
frames = max(1, size // flen)
buf = bytearray(os.urandom(frames * flen))
for f in range(frames):
    buf[f * flen:f * flen + 4] = b"\xff\xfb\x90\x64"
open(path, "wb").write(buf)
PY
SIZE=$(stat -c %s "episodes/$NAME")
T_SHA=$(now); SHA=$(sha1sum "episodes/$NAME" | cut -d' ' -f1); T_SHA=$(python3 -c "print(f'{$(now) - $T_SHA:.2f}')")

write_config() { # file peer-setting
  cat > "$1" <<EOF
title: Seeder bench
description: Seeder benchmark show
base_url: http://127.0.0.1:$HTTP/
torrent:
  web_seed: false
  trackers: []
serve:
  http: 127.0.0.1:$HTTP
  udp_tracker: off
  public_url: http://127.0.0.1:$HTTP/
  peer: $2
  dht: false
  unchoke_slots: $SLOTS
  max_peer_connections_per_ip: 64
  max_peers_per_ip: $((K + 16))
  max_connections_per_ip: $((4 * K + 32))
EOF
}
write_config podcast.yaml "127.0.0.1:$PEER"
write_config podcast-nopeer.yaml off
# podseed-split's seeder runs as its own `serve` (its HTTP on another port), so its CPU is the
# seeder's alone, like the other rounds' seeders: the tracker is podcast-nopeer.yaml's serve.
# Its public_url differs from the torrent's tracker, so it announces to that tracker like
# any other seeder would.
sed -e "s#^  http: 127.0.0.1:$HTTP#  http: 127.0.0.1:$SEEDER_HTTP#" \
    -e "s#^  public_url: http://127.0.0.1:$HTTP/#  public_url: http://127.0.0.1:$SEEDER_HTTP/#" \
    podcast.yaml > podcast-seeder.yaml
"$BIN" publish --quiet -c podcast.yaml
TORRENT="$W/public/torrents/${NAME%.mp3}.torrent"
[ -f "$TORRENT" ] || { echo "bench-seeder: publish made no $TORRENT" >&2; ls -R public >&2; exit 1; }
cat "episodes/$NAME" > /dev/null   # into the page cache, for every seeder alike
echo "== $K leechers, one episode of $SIZE bytes, on 127.0.0.1 (http $HTTP, podseed peer $PEER); $(nproc) cores"
echo "   (sha1sum of the episode from the page cache takes $T_SHA s: the cost of checking every piece once,"
echo "    which podseed and libtorrent (seed mode) pay during their round, aria2 (-V) before it)"

is_alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# user and system ticks, and bytes read by read()/pread() (rchar: page-cache hits count too).
cpu_split() { awk '{print $14, $15}' "/proc/$1/stat"; }
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io"; }
rss_anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
# CPU of the children this shell has waited for (the leechers, once reaped).
children_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
peak_rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
TICKS=$(getconf CLK_TCK)
stats() { curl -s --max-time 5 "http://127.0.0.1:$HTTP/stats"; }
stat_field() { stats | python3 -c "import json,sys; print(json.load(sys.stdin)['totals']['$1'])" 2>/dev/null || echo "?"; }

stop_pid() { # pid of our unreaped child: TERM, up to 10 s, then KILL; then reaped
  local p=$1 i
  [ -n "${LIVE[$p]+x}" ] || return 0
  kill "$p" 2>/dev/null || true
  for i in $(seq 100); do is_alive "$p" || break; sleep 0.1; done
  if is_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  wait "$p" 2>/dev/null || true
  reaped "$p"
}

SERVE_PID=
start_serve() { # config log
  rm -f ready.json
  "$BIN" serve -c "$1" --ready-file ready.json > "$2" 2>&1 & SERVE_PID=$!; started "$SERVE_PID"
  local i
  for i in $(seq 150); do [ -f ready.json ] && break; is_alive "$SERVE_PID" || break; sleep 0.1; done
  [ -f ready.json ] || { echo "bench-seeder: podseed serve did not start; see $2" >&2; tail -20 "$2" >&2; exit 1; }
}

wait_for_seeder() { # what pid: until /stats lists exactly one seeder (at most 60 s)
  local i n
  for i in $(seq 600); do
    n=$(stat_field seeders)
    [ "$n" = 1 ] && { echo "   tracker lists 1 seeder ($1) after ~$((i / 10)).$((i % 10)) s"; return 0; }
    is_alive "$2" || { echo "bench-seeder: $1 seeder exited" >&2; return 1; }
    sleep 0.1
  done
  echo "bench-seeder: the tracker never listed the $1 seeder (seeders: $n)" >&2
  return 1
}

# One round: K leechers at once, bounded by ROUND_TIMEOUT; appends a JSON line to results.jsonl.
# Times: "done" = until the last leecher has the whole file (aria2c's completion hook,
# on-complete.sh), "exit" = until the last aria2c process has exited (aria2c lingers a second
# or two after completing, whoever seeds).
run_round() { # name seeder_pid [command printing the seeder's own upload count]
  local name=$1 spid=$2 own_cmd=${3:-} dir="$W/leech-$1" i pid rc
  local -A idx=()
  local cpu0 cpu1 ch0 ch1 up0 up1 t0 t1 rss anon own=null failed=0 bad=0 done_n=0 dead_seeder=0
  local split0 split1 rd0 rd1
  echo "== round: $name seeds (pid $spid)"
  up0=$(stat_field peer_uploaded_bytes)
  # The seeder's CPU and reads count from its start (each is started fresh for its round):
  # the whole cost of serving, including a check of the data before seeding (aria2's -V)
  # or during it (podseed and libtorrent check pieces on first read).
  cpu0=0; ch0=$(children_ticks); split0="0 0"; rd0=0
  t0=$(now)
  for i in $(seq 0 $((K - 1))); do
    mkdir -p "$dir/$i"
    timeout --signal=TERM "$ROUND_TIMEOUT" aria2c --dir="$dir/$i" \
      --listen-port="${LEECH_PORTS[$((ROUND * K + i))]}" \
      --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
      --seed-time=0 --bt-max-peers=$((K + 4)) --file-allocation=none \
      --bt-stop-timeout="$STALL_TIMEOUT" --disable-ipv6=true --stop-with-process=$$ \
      --summary-interval=0 --console-log-level=warn \
      --log="$W/logs/leech-$name-$i.log" --log-level="$LEECH_LOG" \
      --on-bt-download-complete="$W/on-complete.sh" \
      "$TORRENT" > "$W/logs/leech-$name-$i.out" 2>&1 &
    idx[$!]=$i; started $!
  done
  # Reap leechers as they end (wait -n also returns for a seeder that dies).
  while [ "$done_n" -lt "$K" ]; do
    rc=0; pid=
    wait -n -p pid || rc=$?
    [ -z "$pid" ] && break
    reaped "$pid"
    if [ -z "${idx[$pid]+x}" ]; then
      [ "$pid" = "$spid" ] && { dead_seeder=1; echo "   !! the $name seeder exited (rc $rc) mid-round"; }
      continue
    fi
    done_n=$((done_n + 1))
    if [ "$rc" != 0 ]; then
      failed=$((failed + 1))
      echo "   !! leecher ${idx[$pid]} exited with $rc$([ "$rc" = 124 ] && echo " (round timeout)")"
    fi
  done
  t1=$(now)
  ch1=$(children_ticks)
  cpu1=$cpu0; rss=0; anon=0; split1=$split0; rd1=$rd0
  if [ "$dead_seeder" = 0 ]; then
    cpu1=$(cpu_ticks "$spid"); rss=$(peak_rss_kb "$spid"); anon=$(rss_anon_kb "$spid")
    split1=$(cpu_split "$spid"); rd1=$(rchar "$spid")
  fi
  sleep 0.5   # the leechers' last announces are in; the seeder has not stopped yet
  up1=$(stat_field peer_uploaded_bytes)
  [ -z "$own_cmd" ] || own=$($own_cmd)
  for i in $(seq 0 $((K - 1))); do
    [ "$(sha1sum "$dir/$i/$NAME" 2>/dev/null | cut -d' ' -f1)" = "$SHA" ] || bad=$((bad + 1))
  done
  [ "$bad" = 0 ] || echo "   !! $bad of $K downloads missing or not byte-identical"
  python3 - "$name" "$t0" "$t1" "$cpu0" "$cpu1" "$ch0" "$ch1" "$TICKS" "$rss" \
    "$up0" "$up1" "$failed" "$bad" "$dead_seeder" "$own" "$W/complete.txt" "$dir/" \
    "$split0" "$split1" "$rd0" "$rd1" "$anon" <<'PY' >> "$W/results.jsonl"
import json, sys
a = sys.argv
num = lambda s: float(s) if s not in ("?", "", "null") else None
t0, t1, ticks = float(a[2]), float(a[3]), float(a[8])
done = []
try:
    for line in open(a[16]):
        ts, _, path = line.strip().partition(" ")
        # This round's leechers only (with REPEAT, earlier rounds used the same folders).
        if path.startswith(a[17]) and float(ts) >= t0:
            done.append(float(ts) - t0)
except FileNotFoundError:
    pass
up0, up1 = num(a[10]), num(a[11])
r = {
    "name": a[1], "exit": t1 - t0, "done": max(done) if done else t1 - t0,
    "first": min(done) if done else t1 - t0, "completed": len(done),
    "cpu": (float(a[5]) - float(a[4])) / ticks, "leech_cpu": (float(a[7]) - float(a[6])) / ticks,
    "rss_kb": int(a[9]), "leech_up": up1 - up0 if up0 is not None and up1 is not None else None,
    "failed": int(a[12]), "bad": int(a[13]), "seeder_died": int(a[14]), "own_up": num(a[15]),
    "user": (float(a[19].split()[0]) - float(a[18].split()[0])) / ticks,
    "sys": (float(a[19].split()[1]) - float(a[18].split()[1])) / ticks,
    "read": float(a[21]) - float(a[20]), "anon_kb": int(a[22]),
}
print(json.dumps(r))
print(f"   {r['completed']} leechers complete: first {r['first']:.2f} s, last {r['done']:.2f} s, all exited {r['exit']:.2f} s\n"
      f"   seeder: CPU {r['cpu']:.2f} s ({r['user']:.2f} user + {r['sys']:.2f} sys), read() {r['read'] / 1e6:.0f} MB,"
      f" peak RSS {r['rss_kb'] / 1024:.1f} MB (anonymous at the end {r['anon_kb'] / 1024:.1f} MB); leechers CPU {r['leech_cpu']:.2f} s",
      file=sys.stderr)
PY
  rm -rf "$dir"
}

# Uploaded payload bytes, by each baseline seeder's own count.
aria2_uploaded() {
  curl -s --max-time 5 "http://127.0.0.1:$A2_RPC/jsonrpc" \
    -d '{"jsonrpc":"2.0","id":"b","method":"aria2.tellActive","params":[["uploadLength"]]}' \
    | python3 -c 'import json,sys; print(sum(int(d["uploadLength"]) for d in json.load(sys.stdin)["result"]))' 2>/dev/null || echo null
}
podseed_uploaded() {
  curl -s --max-time 5 "$SEEDER_URL/stats" \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['totals']['seeder_bytes'])" 2>/dev/null || echo null
}
lt_uploaded() {
  python3 -c "import json; print(json.load(open('$W/lt-status.json'))['uploaded'])" 2>/dev/null || echo null
}

# aria2c runs this when a leecher has the whole file (before it would seed): time and path.
cat > on-complete.sh <<EOF
#!/bin/sh
echo "\$(date +%s.%N) \$3" >> "$W/complete.txt"
EOF
chmod +x on-complete.sh

wants() { [[ " $ROUNDS " == *" $1 "* ]]; }
rm -f results.jsonl complete.txt
for REP in $(seq 1 "$REPEAT"); do
  [ "$REPEAT" = 1 ] || echo "== repetition $REP of $REPEAT"
  ROUND=0
  # Round 1: podseed as deployed, tracker and seeder in one process.
  if wants podseed; then
    start_serve podcast.yaml "$W/logs/serve-podseed.log"
    SEEDER_URL=http://127.0.0.1:$HTTP
    # Listed by its own tracker from the start (the ready file is written once it is).
    run_round podseed "$SERVE_PID" podseed_uploaded
    stop_pid "$SERVE_PID"
  fi

  # Round 2: podseed's seeder alone, beside a tracker-only serve.
  ROUND=1
  if wants podseed-split; then
    start_serve podcast-nopeer.yaml "$W/logs/serve-tracker-podseed-split.log"
    TRACKER_PID=$SERVE_PID
    "$BIN" serve -c podcast-seeder.yaml > "$W/logs/serve-podseed-split.log" 2>&1 & PS_PID=$!; started "$PS_PID"
    SEEDER_URL=http://127.0.0.1:$SEEDER_HTTP
    if wait_for_seeder podseed-split "$PS_PID"; then run_round podseed-split "$PS_PID" podseed_uploaded; fi
    stop_pid "$PS_PID"
    stop_pid "$TRACKER_PID"
  fi

  # Round 3: aria2 seeds; podseed is only the tracker.
  ROUND=2
  if wants aria2; then
  start_serve podcast-nopeer.yaml "$W/logs/serve-tracker-aria2.log"
  aria2c --dir="$W/episodes" --listen-port="$A2_PORT" -V --seed-ratio=0.0 \
    --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
    --bt-max-peers=$((K + 8)) --max-overall-upload-limit=0 --file-allocation=none --disable-ipv6=true \
    --enable-rpc --rpc-listen-port="$A2_RPC" --rpc-listen-all=false --stop-with-process=$$ \
    --summary-interval=0 --console-log-level=warn --log="$W/logs/seed-aria2.log" --log-level=notice \
    "$TORRENT" > "$W/logs/seed-aria2.out" 2>&1 & A2_PID=$!; started "$A2_PID"
  if wait_for_seeder aria2 "$A2_PID"; then run_round aria2 "$A2_PID" aria2_uploaded; fi
  stop_pid "$A2_PID"
  stop_pid "$SERVE_PID"
  fi

  # Round 4: libtorrent seeds; podseed is only the tracker.
  ROUND=3
  if wants libtorrent; then
  start_serve podcast-nopeer.yaml "$W/logs/serve-tracker-libtorrent.log"
  "$LT_PY" "$ROOT/scripts/libtorrent_seed.py" "$TORRENT" "$W/episodes" "$LT_PORT" "$W/lt-status.json" "$SLOTS" \
    > "$W/logs/seed-libtorrent.log" 2>&1 & LT_PID=$!; started "$LT_PID"
  if wait_for_seeder libtorrent "$LT_PID"; then run_round libtorrent "$LT_PID" lt_uploaded; fi
  stop_pid "$LT_PID"
  stop_pid "$SERVE_PID"
  fi
done

cp podcast.yaml podcast-nopeer.yaml "$W/logs/" 2>/dev/null || true
python3 - "$K" "$SIZE" "$(nproc)" "$W/results.jsonl" <<'PY' | tee "$W/summary.txt"
import json, sys
k, size, cores = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
reps = {}
for r in map(json.loads, open(sys.argv[4])):
    # The n-th row of a round is repetition n (rounds run in order within each).
    n = sum(1 for rep in reps.values() if r["name"] in rep)
    reps.setdefault(n, {})[r["name"]] = r
total = k * size
ratios = {}


def report(rows):
    m = {}
    print()
    print(f"{k} leechers x {size / 1e6:.0f} MB = {total / 1e6:.0f} MB delivered per round; {cores} cores; loopback")
    print("time: until the last leecher had the file (in brackets: until every aria2c had exited)")
    print("seeder sent: K x size minus the leechers' uploads to each other (tracker reports); own: the seeder's own count")
    print("CPU/GB: seeder CPU seconds per GB delivered to the leechers, and per GB the seeder itself sent")
    print("RSS: the seeder's peak (VmHWM; it counts mapped file pages too), and its anonymous memory at the end")
    print()
    print(f"{'seeder':<14}{'time s':>15}{'MB/s':>8}{'seeder sent MB':>16}{'own MB':>8}"
          f"{'CPU s':>7}{'CPU/GB deliv':>13}{'CPU/GB sent':>12}{'RSS MB peak (anon)':>20}{'leech CPU s':>12}  result")
    for name in ("podseed", "podseed-split", "aria2", "libtorrent"):
        r = rows.get(name)
        if not r:
            print(f"{name:<14}  (no result: the round did not run)")
            continue
        ok = not (r["failed"] or r["bad"] or r["seeder_died"]) and r["completed"] == k
        sent = total - r["leech_up"] if r["leech_up"] is not None else None
        mbs = total / 1e6 / r["done"]
        per_deliv = r["cpu"] / (total / 1e9)
        per_sent = r["cpu"] / (sent / 1e9) if sent else float("nan")
        own = f"{r['own_up'] / 1e6:.0f}" if r["own_up"] is not None else "-"
        sent_s = f"{sent / 1e6:.0f} ({100 * sent / total:.0f}%)" if sent is not None else "?"
        status = "ok" if ok else (f"FAILED ({r['failed']} leechers failed, {r['bad']} bad downloads, "
                                  f"{r['completed']} completed" + (", seeder died" if r["seeder_died"] else "") + ")")
        t = f"{r['done']:.2f} ({r['exit']:.1f})"
        rss = f"{r['rss_kb'] / 1024:.1f} ({r['anon_kb'] / 1024:.1f})"
        mbs_s = f"{mbs:.1f}" if ok else "-"
        print(f"{name:<14}{t:>15}{mbs_s:>8}{sent_s:>16}{own:>8}{r['cpu']:7.2f}{per_deliv:13.2f}{per_sent:12.2f}"
              f"{rss:>20}{r['leech_cpu']:12.2f}  {status}")
        m[name] = dict(ok=ok, mbs=mbs, mbs_exit=total / 1e6 / r["exit"], per_deliv=per_deliv, per_sent=per_sent,
                       rss=r["rss_kb"] / 1024)
    print()
    for mine in ("podseed", "podseed-split"):
        p = m.get(mine)
        if not p:
            continue
        if not p["ok"]:
            print(f"the {mine} round FAILED: no ratios")
            continue
        for other, target in (("aria2", 1.5), ("libtorrent", 1.0)):
            o = m.get(other)
            if not o or not o["ok"]:
                print(f"{mine:<13} / {other:<10}  n/a: that round failed or did not run")
                continue
            tp = p["mbs"] / o["mbs"]
            cpu = p["per_sent"] / o["per_sent"]
            ratios.setdefault(f"{mine} / {other} throughput (target >= {target:.1f})", []).append(tp)
            ratios.setdefault(f"{mine} / {other} CPU per GB sent (target < 1)", []).append(cpu)
            print(f"{mine:<13} / {other:<10}  throughput {tp:5.2f} (target >= {target:.1f}: {'met' if tp >= target else 'NOT met'};"
                  f" by exit times {p['mbs_exit'] / o['mbs_exit']:.2f})   CPU per GB sent {cpu:5.2f}, per GB delivered"
                  f" {p['per_deliv'] / o['per_deliv']:5.2f} (target < 1.00: {'met' if cpu < 1 else 'NOT met'})")
        limit = 50 + k
        print(f"{mine} peak RSS {p['rss']:.1f} MB; target < 50 MB + 1 MB x {k} peers = {limit} MB: {'met' if p['rss'] < limit else 'NOT met'}")
    if not all(v["ok"] for v in m.values()):
        print("some rounds FAILED: their figures do not compare")


for n in sorted(reps):
    if len(reps) > 1:
        print(f"\n== repetition {n + 1} of {len(reps)}")
    report(reps[n])
if len(reps) > 1:
    print(f"\nmedians over {len(reps)} repetitions (each ratio within one repetition):")
    for key, values in sorted(ratios.items()):
        v = sorted(values)
        mid = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
        shown = " / ".join(f"{x:.2f}" for x in values)
        print(f"  {key:<48} median {mid:5.2f}   ({shown})")
PY
