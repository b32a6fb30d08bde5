#!/usr/bin/env bash
# bench-publish.sh: how fast is `podseed publish`, against mktorrent and sha1sum, in one run.
#
# Usage: scripts/bench-publish.sh [N_EPISODES] [MB_PER_EPISODE]     (defaults: 20 60)
# Env:   BENCH_DIR (default: a temp folder, removed at the end), RUNS (hyperfine runs, 3),
#        SMALL (episodes of the long-show case, 3000), REAL (real-size episodes, 500; 0 skips),
#        BIN (a podseed binary to measure instead of this tree's release build).
# Needs: cargo, hyperfine, mktorrent, sha1sum, openssl, python3 (Debian: hyperfine mktorrent openssl).
#
# It makes N synthetic episodes: random payload behind valid MPEG-1 layer III frame headers
# (so podseed's frame walk does its real work), every file different. All inputs are read
# once first, so every contender reads from the page cache. Then, with hyperfine:
#   1. cold `podseed publish` (no output folder, no manifest)
#   2. `mktorrent -t 2` over the same files, same piece length and web seed
#   3. `sha1sum` over the same files: one core's SHA-1 floor
#   3b. `openssl dgst -sha1` and `openssl dgst -sha256` over the same files at once: what
#      OpenSSL's own tool gives for the two hashes, reading the files, on two cores
#   3c. two episodes of unequal size (MB and 3 x MB), cold: the case where one core would
#      finish a file alone if the other did not help
#   4. warm `podseed publish` with nothing changed (N episodes)
#   5. with 200 small episodes: warm no-change publish, and publish after adding one episode
#   6. a long show: SMALL (3,000) small episodes, warm no-change publish; the same without
#      the last build's record (the full comparison every changed build makes); one new episode
#   7. a long show at real size: REAL (500) x 30 MB episodes, hard links of one generated MP3
#      (so they cost no disk), published once (cold, timed once), then warm no-change
# and prints the two-hash floor, the ratios and the per-episode cost of a warm build.
# Targets: (1) <= (2) and >= 95 % of the SHA-1 + SHA-256 floor; (4), (6) and (7) < 0.1 s;
# one new episode costs its own hashing + < 0.1 s.
set -euo pipefail

N=${1:-20}
MB=${2:-60}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in hyperfine mktorrent sha1sum openssl python3; do
  command -v "$t" >/dev/null || { echo "bench-publish: $t is required (apt-get install hyperfine mktorrent openssl)" >&2; exit 2; }
done

SMALL=${SMALL:-3000}
REAL=${REAL:-500}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/release/podseed"
fi
if [ -n "${BENCH_DIR:-}" ]; then
  W=$BENCH_DIR; mkdir -p "$W"
else
  W=$(mktemp -d /tmp/podseed-bench.XXXXXX); trap 'rm -rf "$W"' EXIT
fi
cd "$W"

# Synthetic MP3s: 417-byte frames (FF FB 90 64 = MPEG-1 L3 128 kbps 44.1 kHz), random payload.
make_mp3s() { # dir count bytes_each
  python3 - "$1" "$2" "$3" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
hdr, flen = b"\xff\xfb\x90\x64", 417
frames = max(1, size // flen)
for i in range(n):
    p = os.path.join(d, f"2026-01-01-ep{i:04d}.mp3")
    if os.path.exists(p) and os.path.getsize(p) == frames * flen:
        continue
    buf = bytearray(os.urandom(frames * flen))
    for f in range(frames):
        buf[f * flen:f * flen + 4] = hdr
    with open(p, "wb") as fh:
        fh.write(buf)
PY
}

write_config() { # file episodes_dir output_dir
  cat > "$1" <<EOF
title: Bench
description: Benchmark show
base_url: https://bench.example/
episodes_dir: $2
output_dir: $3
torrent:
  trackers: [http://127.0.0.1:1/announce]
EOF
}

echo "== making $N x $MB MB episodes in $W"
make_mp3s big "$N" $((MB * 1000 * 1000))
write_config big.yaml big out-big
cat big/*.mp3 > /dev/null
TOTAL_MB=$(du -cm big/*.mp3 | tail -1 | cut -f1)
# Same piece length as podseed's automatic rule picks for these files.
"$BIN" publish -c big.yaml --quiet
PL=$(python3 -c 'import json,sys; m=json.load(open("out-big/.podseed/manifest.json")); print(next(iter(m["episodes"].values()))["piece_length"])')
LOG2=$(python3 -c "print(($PL).bit_length()-1)")
echo "   ${TOTAL_MB} MB in all, piece length $PL (2^$LOG2)"

hyperfine --style basic --runs "$RUNS" --export-json big.json \
  --prepare 'rm -rf out-big mk && mkdir -p mk' \
  -n "podseed publish (cold)" "$BIN publish -c big.yaml --quiet" \
  -n "mktorrent -t 2" "for f in big/*.mp3; do mktorrent -t 2 -l $LOG2 -a http://127.0.0.1:1/announce -w https://bench.example/episodes/\$(basename \$f) -o mk/\$(basename \$f).torrent \$f >/dev/null; done" \
  -n "sha1sum (1 core)" "sha1sum big/*.mp3 > /dev/null" \
  -n "openssl dgst, both hashes" "openssl dgst -sha1 big/*.mp3 > /dev/null & openssl dgst -sha256 big/*.mp3 > /dev/null; wait"

echo "== two episodes of unequal size: $MB and $((MB * 3)) MB"
make_mp3s uneven-a 1 $((MB * 1000 * 1000))
make_mp3s uneven-b 1 $((MB * 3000 * 1000))
mkdir -p uneven
ln -f uneven-a/*.mp3 uneven/2026-01-01-a.mp3
ln -f uneven-b/*.mp3 uneven/2026-01-02-b.mp3
write_config uneven.yaml uneven out-uneven
cat uneven/*.mp3 > /dev/null
UNEVEN_MB=$(du -cm uneven/*.mp3 | tail -1 | cut -f1)
hyperfine --style basic --runs $((RUNS * 3)) --export-json uneven.json \
  --prepare 'rm -rf out-uneven .out-uneven.podseed' \
  -n "podseed publish (cold, 2 unequal)" "$BIN publish -c uneven.yaml --quiet"
"$BIN" publish -c big.yaml --quiet
hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json warm.json \
  -n "podseed publish (warm, $N unchanged)" "$BIN publish -c big.yaml --quiet"

echo "== 200 small episodes"
make_mp3s small 200 200000
make_mp3s extra 1 200000
write_config small.yaml small out-small
"$BIN" publish -c small.yaml --quiet
NEW=small/2026-01-01-new.mp3
hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json small.json \
  -n "podseed publish (warm, 200 unchanged)" "$BIN publish -c small.yaml --quiet"
hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json new.json \
  --prepare "rm -f $NEW && $BIN publish -c small.yaml --quiet && cp extra/*.mp3 $NEW" \
  -n "podseed publish (1 new among 200)" "$BIN publish -c small.yaml --quiet"
rm -f "$NEW"

echo "== a long show: $SMALL small episodes"
make_mp3s long "$SMALL" 130000
write_config long.yaml long out-long
"$BIN" publish -c long.yaml --quiet
hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json long.json \
  -n "podseed publish (warm, $SMALL unchanged)" "$BIN publish -c long.yaml --quiet"
# The same without the last build's record (a full comparison, as after any change), and
# the build of a daily show's new day: one new episode among the SMALL.
hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json long-full.json \
  --prepare "rm -f .out-long.podseed/last-build.json" \
  -n "podseed publish (warm, $SMALL unchanged, no record)" "$BIN publish -c long.yaml --quiet"
LNEW=long/2026-01-02-new.mp3
hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json long-new.json \
  --prepare "rm -f $LNEW && $BIN publish -c long.yaml --quiet && cp extra/*.mp3 $LNEW" \
  -n "podseed publish (1 new among $SMALL)" "$BIN publish -c long.yaml --quiet"
rm -f "$LNEW"

if [ "$REAL" -gt 0 ]; then
  echo "== a long show at real size: $REAL x 30 MB (hard links of one file)"
  make_mp3s realone 1 30000000
  mkdir -p real
  for i in $(seq 0 $((REAL - 1))); do
    f=$(printf 'real/%04d-%02d-%02d-ep%04d.mp3' $((2000 + i / 365)) $((i % 12 + 1)) $((i % 28 + 1)) "$i")
    [ -e "$f" ] || ln realone/*.mp3 "$f"
  done
  write_config real.yaml real out-real
  rm -rf out-real
  /usr/bin/env time -f "%e" -o real-cold.txt "$BIN" publish -c real.yaml --quiet
  hyperfine --style basic --warmup 1 --runs $((RUNS * 3)) --export-json real.json \
    -n "podseed publish (warm, $REAL real-size unchanged)" "$BIN publish -c real.yaml --quiet"
  du -k out-real/.podseed/manifest.json | cut -f1 > real-manifest-kb.txt
fi

# The hashing floor of this machine: the SHA-1 and SHA-256 speed of OpenSSL (SHA-NI where the
# CPU has it) on every core at once (`-multi`, so that a clock that drops when all cores
# work counts), on buffers already in cache, measured now under the same load as the runs
# above. It leaves out the cost of getting the bytes from the page cache.
speed() { openssl speed -multi "$(nproc)" -evp "$1" -bytes 262144 -seconds 2 2>/dev/null | awk -v a="$1" '$1==a {print $NF+0}' | tail -1; }
SHA1_KBS=$(speed sha1)
SHA256_KBS=$(speed sha256)
python3 - "$TOTAL_MB" "$SHA1_KBS" "$SHA256_KBS" "$(nproc)" "$SMALL" "$REAL" "$UNEVEN_MB" <<'PY'
import json, os, sys
mb = float(sys.argv[1])
n_small, n_real = int(sys.argv[5]), int(sys.argv[6])
uneven_mb = float(sys.argv[7])
cores = int(sys.argv[4])
# Per core: `-multi` gives the sum over the cores.
sha1_mbs, sha256_mbs = float(sys.argv[2]) / 1000 / cores, float(sys.argv[3]) / 1000 / cores
def load(f):
    return {r["command"]: r for r in json.load(open(f))["results"]}
big, warm, small = load("big.json"), load("warm.json"), load("small.json")
small.update(load("new.json"))
cold = big["podseed publish (cold)"]["median"]
mk = big["mktorrent -t 2"]["median"]
sha = big["sha1sum (1 core)"]["median"]
dgst = big["openssl dgst, both hashes"]["median"]
uneven = next(iter(load("uneven.json").values()))["median"]
w = next(iter(warm.values()))["median"]
w200 = small["podseed publish (warm, 200 unchanged)"]["median"]
one = small["podseed publish (1 new among 200)"]["median"]
print()
print(f"cold publish   {cold:7.3f} s  {mb/cold:7.0f} MB/s   ratio to mktorrent -t 2: {cold/mk:.2f} (target <= 1.00)")
print(f"mktorrent -t 2 {mk:7.3f} s  {mb/mk:7.0f} MB/s")
print(f"sha1sum        {sha:7.3f} s  {mb/sha:7.0f} MB/s   cold publish / sha1sum: {cold/sha:.2f}")
if sha1_mbs and sha256_mbs:
    both = mb * (1 / sha1_mbs + 1 / sha256_mbs) / cores
    only1 = mb / sha1_mbs / cores
    print(f"floors on {cores} cores: SHA-1 alone {only1:.3f} s ({sha1_mbs:.0f} MB/s/core), SHA-1 + SHA-256 {both:.3f} s ({sha256_mbs:.0f} MB/s/core)")
    print(f"cold publish at {both/cold*100:.0f} % of the two-hash floor (target >= 95 %); mktorrent at {only1/mk*100:.0f} % of the SHA-1 floor")
    print(f"openssl dgst, both hashes at once: {dgst:.3f} s, {both/dgst*100:.0f} % of the two-hash floor (cold publish / this: {cold/dgst:.2f})")
    uneven_floor = uneven_mb * (1 / sha1_mbs + 1 / sha256_mbs) / cores
    print(f"two unequal episodes ({uneven_mb:.0f} MB): {uneven*1000:.0f} ms, {uneven_floor/uneven*100:.0f} % of their two-hash floor ({uneven_floor*1000:.0f} ms)")
print(f"warm, {len(big) and ''}big set unchanged: {w*1000:7.1f} ms")
print(f"warm, 200 unchanged:   {w200*1000:7.1f} ms (target < 200 ms)")
print(f"one new among 200:     {one*1000:7.1f} ms = {(one - w200)*1000:+.1f} ms over the no-change build (target: its hashing + < 100 ms)")
wl = next(iter(load("long.json").values()))
print(f"warm, {n_small} unchanged: {wl['median']*1000:7.1f} ms median ({wl['median']/n_small*1e6:.0f} us per episode; target < 100 ms)")
wf = next(iter(load("long-full.json").values()))
wn = next(iter(load("long-new.json").values()))
print(f"   without the last build's record (full comparison): {wf['median']*1000:7.1f} ms; one new among {n_small}: {wn['median']*1000:7.1f} ms")
print(f"   long show: index.html {os.path.getsize('out-long/index.html')/1e3:.0f} KB, feed.xml {os.path.getsize('out-long/feed.xml')/1e6:.1f} MB, manifest {os.path.getsize('out-long/.podseed/manifest.json')/1e6:.1f} MB")
if n_real:
    wr = next(iter(load("real.json").values()))
    cold_real = float(open("real-cold.txt").read().split()[-1])
    print(f"real size, {n_real} x 30 MB: cold {cold_real:.1f} s ({n_real*30/cold_real/1000:.2f} GB/s), warm {wr['median']*1000:.1f} ms median ({wr['median']/n_real*1e6:.0f} us per episode), manifest {int(open('real-manifest-kb.txt').read())/1e3:.1f} MB")
PY
