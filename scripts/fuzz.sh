#!/usr/bin/env bash
# fuzz.sh: runs every fuzz target for a time budget and reports how many inputs each tried.
#
# Usage: scripts/fuzz.sh [SECONDS]            (default 600, split evenly over the targets)
# Env:   CASES (20000): inputs per round of one target; each round starts from a new seed
#
# The targets are tests/fuzz.rs (corpus-driven: seeds from fuzz/corpus/, the test fixtures
# and the example episodes, mutated) and the property tests beside the parsers (bencode,
# peer wire, tracker codecs, STUN, metainfo, config, MP3 frames, MP4 boxes, Ogg pages, the
# probe of every format, transcripts).
# `cargo fuzz` needs a nightly toolchain, which these machines cannot install, so proptest
# drives the inputs: a fresh random seed every round, not coverage-guided. A failure stops
# the script with the minimal input proptest found; turn it into a regression test beside
# the parser.
set -euo pipefail

BUDGET=${1:-600}
CASES=${CASES:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# name|cargo test target|test name filters
TARGETS=(
  "bencode|--test fuzz|bencode"
  "torrent files|--test fuzz|torrent_files"
  "peer wire|--test fuzz|peer_wire"
  "udp tracker|--test fuzz|udp_tracker_packets"
  "http tracker|--test fuzz|http_tracker_queries"
  "ws tracker|--test fuzz|ws_tracker_messages"
  "config files|--test fuzz|config_files"
  "mp3 frames|--test fuzz|mp3_frames"
  "container walks|--test fuzz|container_walks"
  "media files|--test fuzz|media_files"
  "codec properties|--lib|bt:: net::stun seeder::wire tracker::proto publish::metainfo publish::mp3 publish::mp4 publish::opus publish::media publish::probe publish::transcript config::"
)

cargo test --release --quiet --no-run --test fuzz --lib 2>/dev/null \
  || cargo test --release --no-run --test fuzz --lib
share=$(( BUDGET / ${#TARGETS[@]} ))
printf '%-18s %6s %8s %16s %8s\n' target tests rounds "inputs per test" seconds
for t in "${TARGETS[@]}"; do
  name=${t%%|*}
  rest=${t#*|}
  target=${rest%%|*}
  filters=${rest#*|}
  rounds=0
  start=$(date +%s)
  while [ $(( $(date +%s) - start )) -lt "$share" ] || [ "$rounds" -eq 0 ]; do
    # shellcheck disable=SC2086
    if ! out=$(PROPTEST_CASES=$CASES cargo test --release --quiet $target -- $filters 2>&1); then
      # The whole output goes to a file (a minimal input can be thousands of lines); the
      # panic message and the end of the output are shown here.
      log="$ROOT/target/fuzz-failure.log"
      echo "$out" > "$log"
      echo "$out" | grep -A4 'panicked at' | head -20
      echo "$out" | tail -20
      echo "fuzz: $name FAILED after $rounds rounds; the whole output, with the minimal input, is in $log; make it a regression test" >&2
      exit 1
    fi
    rounds=$(( rounds + 1 ))
  done
  elapsed=$(( $(date +%s) - start ))
  # Each property test sees CASES inputs a round (the lib target also runs its plain unit
  # tests, which see their fixed inputs).
  # shellcheck disable=SC2086
  tests=$(cargo test --release --quiet $target -- $filters --list 2>/dev/null | grep -c ': test$' || true)
  printf '%-18s %6d %8d %16d %8d\n' "$name" "$tests" "$rounds" $(( rounds * CASES )) "$elapsed"
done
echo "no failure"
