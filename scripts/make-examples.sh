#!/usr/bin/env bash
# make-examples.sh: regenerate the example media shipped with podseed.
#
# Usage:  scripts/make-examples.sh            (run from anywhere inside the repo)
#
# Needs:  ffmpeg (with the lavfi device, png/mjpeg/aac/libopus encoders), lame and
#         base64 (coreutils), e.g.
#         Debian's `apt-get install ffmpeg lame`.
#
# Writes (overwriting whatever is there):
#
#   examples/cover.png                       1400x1400 flat-colour show artwork
#   examples/episodes/2026-01-15-welcome.mp3 CBR 32 kb/s, 44.1 kHz mono, MPEG-1,
#                                            no Xing/Info frame; ID3v2.3 with
#                                            TIT2 TPE1 TALB COMM TYER TDAT TLEN TSSE
#                                            and APIC (300x300 JPEG, front cover)
#   examples/episodes/2026-01-15-welcome.vtt WebVTT transcript for the above
#   examples/episodes/2026-02-01-swarm-basics.mp3
#                                            VBR (lame -V 7), 32 kHz mono, MPEG-1,
#                                            Xing frame; ID3v2.4 with TIT2 TPE1
#                                            TALB TDRC TDRL and CTOC + 3 CHAP
#   examples/episodes/bonus-behind-the-scenes.mp3
#                                            VBR (lame -V 7), 22.05 kHz mono,
#                                            MPEG-2, Xing frame; ID3v1 tag only
#   examples/episodes/2026-03-01-listener-questions.m4a
#                                            AAC-LC 40 kb/s, 32 kHz mono, MP4 with
#                                            moov first (+faststart); iTunes tags
#                                            ©nam ©ART ©alb ©day desc ldes, covr
#                                            (the 300x300 JPEG), 2 Nero chpl
#                                            chapters (and a chapter track)
#   tests/fixtures/vbr-noheader-mpeg2.mp3    VBR (lame -V 6 -t), 22.05 kHz, no Xing,
#                                            no tags, ~10 s
#   tests/fixtures/cbr-mpeg25.mp3            CBR 16 kb/s, 8 kHz (MPEG-2.5), no tags,
#                                            ~10 s; no Info frame either (lame
#                                            3.100 writes none at this rate)
#   tests/fixtures/not-audio.mp3             plain text with an .mp3 name
#   tests/fixtures/short.m4a                 AAC-LC 24 kb/s, 16 kHz, 3 s, moov
#                                            last, no tags
#   tests/fixtures/short.opus                Ogg Opus 24 kb/s, 6 s; TITLE ARTIST
#                                            DATE DESCRIPTION, 2 CHAPTERnnn, and a
#                                            METADATA_BLOCK_PICTURE (the JPEG)
#
# All audio is synthetic (lavfi aevalsrc plucked arpeggios over a soft pad,
# plus seeded anoisesrc noise), so there is nothing to license.
#
# Idempotent and deterministic: every ffmpeg output uses bitexact flags and
# drops inherited metadata, the noise generators use fixed seeds, and lame
# output depends only on its input, so re-running on the same machine (same
# ffmpeg/lame builds) reproduces the same bytes.  Scratch files live in a
# temporary directory that is removed on exit.

set -euo pipefail
export LC_ALL=C

for tool in ffmpeg lame; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: '$tool' not found in PATH" >&2; exit 1; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EX="$ROOT/examples"
EP="$EX/episodes"
FX="$ROOT/tests/fixtures"
mkdir -p "$EP" "$FX"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Common ffmpeg flags: quiet, overwrite, bit-exact output, no inherited metadata.
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
BITEXACT=(-fflags +bitexact -flags:a +bitexact -flags:v +bitexact)
LAME=(lame --quiet --nohist)

# ---------------------------------------------------------------------------
# Artwork
# ---------------------------------------------------------------------------

# A flat design in four colours: an amber "seed" with three teal broadcast
# rings on a dark indigo background, and a row of "torrent pieces" below
# (some downloaded = filled, some pending = outlined).  The circles come from
# a geq expression with hard edges (no anti-aliasing keeps the palette tiny,
# so the PNG stays around 30 KB).
make_cover() {
    local out="$1"
    # Region index stored in register 1: 0 background, 1 seed, 2 ring.
    local region="st(0,hypot(X-700,Y-600));st(1,if(lt(ld(0),170),1,if(between(ld(0),250,290)+between(ld(0),350,390)+between(ld(0),450,490),2,0)))"
    local pick='if(eq(ld(1),0),%d,if(eq(ld(1),1),%d,%d))'
    local r g b
    # shellcheck disable=SC2059
    r="$region;$(printf "$pick" 31 245 94)"
    # shellcheck disable=SC2059
    g="$region;$(printf "$pick" 27 180 201)"
    # shellcheck disable=SC2059
    b="$region;$(printf "$pick" 58 60 184)"

    # Eight 80px piece squares with 20px gaps, centred: x = 310 + i*100.
    local pieces="" i x fill="11010110"
    for i in 0 1 2 3 4 5 6 7; do
        x=$((310 + i * 100))
        if [[ "${fill:i:1}" == 1 ]]; then
            pieces+=",drawbox=x=$x:y=1190:w=80:h=80:color=0xf5b43c:t=fill"
        else
            pieces+=",drawbox=x=$x:y=1190:w=80:h=80:color=0x5ec9b8:t=8"
        fi
    done

    "${FF[@]}" -f lavfi \
        -i "color=c=0x1f1b3a:s=1400x1400:d=1:r=1,format=rgb24,geq=r='$r':g='$g':b='$b'$pieces" \
        -frames:v 1 -map_metadata -1 "${BITEXACT[@]}" \
        -c:v png -pred mixed -pix_fmt rgb24 "$out"
}

# set_apic_front_cover FILE
#   lame's --ti writes the APIC frame with picture type 0 ("Other"); podcast
#   tools look for type 3 ("Cover (front)").  Patch that single byte in place,
#   after checking the frame has exactly the layout lame writes (ID3v2.3:
#   10-byte frame header, encoding byte 0, "image/jpeg\0", picture type).
set_apic_front_cover() {
    local f="$1" off got
    off=$(grep -obUa 'APIC' "$f" | awk -F: 'NR == 1 { print $1 }')
    [[ -n "$off" ]] || { echo "error: no APIC frame in $f" >&2; exit 1; }
    got=$(od -An -tx1 -v -j $((off + 10)) -N 13 "$f" | tr -d ' \n')
    if [[ "$got" != "00696d6167652f6a7065670000" && "$got" != "00696d6167652f6a7065670003" ]]; then
        echo "error: unexpected APIC layout in $f: $got" >&2
        exit 1
    fi
    printf '\003' | dd of="$f" bs=1 seek=$((off + 22)) conv=notrunc status=none
}

# 300x300 JPEG of the artwork, used as the embedded APIC picture.
make_thumb() {
    "${FF[@]}" -i "$1" -vf "scale=300:300:flags=bicubic,format=yuvj420p" \
        -frames:v 1 -map_metadata -1 "${BITEXACT[@]}" -c:v mjpeg -q:v 4 "$2"
}

# ---------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------

# synth OUT RATE SECONDS NOTE_LEN PATTERN SCALE SECTION_LEN TRANSPOSE PAD SEED
#
#   Renders a mono 16-bit WAV: a plucked arpeggio (PATTERN = digits indexing
#   the space-separated SCALE frequencies, one note every NOTE_LEN seconds)
#   over a soft pad chord (PAD = frequencies) that swells once per section.
#   Section k (SECTION_LEN seconds each) is transposed by TRANSPOSE[k]
#   semitones.  Quiet pink noise (fixed SEED) is mixed underneath.
#   Each note restarts its phase at zero under a 10 ms attack, so no clicks.
synth() {
    local out="$1" rate="$2" dur="$3" note="$4" pattern="$5" scale="$6"
    local sect="$7" transpose="$8" pad="$9" seed="${10}"
    local -a sc tr pd
    read -r -a sc <<<"$scale"
    read -r -a tr <<<"$transpose"
    read -r -a pd <<<"$pad"

    # Register 2 <- frequency multiplier for the current section.
    local mult="1" k
    for ((k = ${#tr[@]} - 1; k >= 0; k--)); do
        mult="if(lt(floor(t/$sect),$((k + 1))),pow(2,${tr[k]}/12),$mult)"
    done
    # Register 3 <- note index; register 4 <- time since note onset.
    local plen=${#pattern}
    local freq="0" j
    for ((j = plen - 1; j >= 0; j--)); do
        freq="if(eq(ld(3),$j),${sc[${pattern:j:1}]},$freq)"
    done
    local padsum="0" f
    for f in "${pd[@]}"; do
        padsum+="+sin(2*PI*$f*ld(2)*ld(5))"
    done
    # Register 5 <- time since section start (pad phase restarts per section,
    # where its swell envelope is zero).
    local expr="st(2,$mult);st(3,mod(floor(t/$note),$plen));st(4,t-floor(t/$note)*$note);st(5,t-floor(t/$sect)*$sect);"
    expr+="0.45*min(1,ld(4)/0.01)*exp(-5*ld(4))*(sin(2*PI*$freq*ld(2)*ld(4))+0.3*sin(4*PI*$freq*ld(2)*ld(4)))"
    expr+="+0.07*sin(PI*ld(5)/$sect)*($padsum)"

    local fade_out
    fade_out=$(awk -v d="$dur" 'BEGIN { printf "%.3f", d - 2 }')
    "${FF[@]}" \
        -f lavfi -i "aevalsrc=exprs='$expr':s=$rate:d=$dur:c=mono" \
        -f lavfi -i "anoisesrc=c=pink:a=0.02:seed=$seed:r=$rate:d=$dur" \
        -filter_complex "[0:a][1:a]amix=inputs=2:normalize=0,lowpass=f=7000,afade=t=in:d=0.5,afade=t=out:st=$fade_out:d=2,aformat=sample_fmts=s16:channel_layouts=mono[a]" \
        -map '[a]' -map_metadata -1 "${BITEXACT[@]}" -c:a pcm_s16le "$out"
}

# Pentatonic scales (Hz).
C_PENTA="261.63 293.66 329.63 392.00 440.00 523.25 587.33"
A_MINOR_PENTA="220.00 261.63 293.66 329.63 392.00 440.00 523.25"

echo "artwork..."
make_cover "$EX/cover.png"
make_thumb "$EX/cover.png" "$TMP/cover-300.jpg"

echo "episode 1: welcome (CBR, no Xing, ID3v2.3 + APIC)..."
synth "$TMP/welcome.wav" 44100 30 0.3 "02454231" "$C_PENTA" 30 "0" "130.81 164.81 196.00" 11
# -t: no Xing/Info frame.  lame writes ID3v2.3; --tv adds TDAT (DDMM).
"${LAME[@]}" -b 32 --cbr -m m --resample 44.1 -t \
    --id3v2-only --id3v2-latin1 \
    --tt "Welcome to Seeded Sounds" \
    --ta "The podseed Examples Crew" \
    --tl "Seeded Sounds" \
    --tc "Why we publish over BitTorrent" \
    --ty 2026 --tv "TDAT=1501" \
    --ti "$TMP/cover-300.jpg" \
    "$TMP/welcome.wav" "$EP/2026-01-15-welcome.mp3"
set_apic_front_cover "$EP/2026-01-15-welcome.mp3"

cat >"$EP/2026-01-15-welcome.vtt" <<'EOF'
WEBVTT

NOTE Example transcript for the podseed "Welcome" episode.

00:00:00.000 --> 00:00:05.000
Welcome to Seeded Sounds, a tiny example podcast.

00:00:05.000 --> 00:00:12.000
Every episode is published as an MP3, a torrent and a magnet link.

00:00:12.000 --> 00:00:20.000
Your podcast app reads the RSS feed; a BitTorrent client can fetch the same file from the swarm.

00:00:20.000 --> 00:00:30.000
The music you hear is generated by ffmpeg. Thanks for listening!
EOF

echo "episode 2: swarm basics (VBR + Xing, ID3v2.4 + chapters)..."
# Three 10 s sections in C, F and G (I-IV-V), one chapter each.
synth "$TMP/swarm.wav" 32000 30 0.25 "0123432153421013" "$C_PENTA" 10 "0 5 7" "130.81 164.81 196.00" 22
"${LAME[@]}" -V 7 -m m --resample 32 "$TMP/swarm.wav" "$TMP/swarm-raw.mp3"
cat >"$TMP/swarm.ffmeta" <<'EOF'
;FFMETADATA1
title=Swarm Basics
artist=The podseed Examples Crew
album=Seeded Sounds
date=2026-02-01
TDRL=2026-02-01

[CHAPTER]
TIMEBASE=1/1000
START=0
END=10000
title=Seeds and peers

[CHAPTER]
TIMEBASE=1/1000
START=10000
END=20000
title=Pieces and hashes

[CHAPTER]
TIMEBASE=1/1000
START=20000
END=30000
title=Magnet links
EOF
# Stream copy: the muxer writes a fresh Xing frame (write_xing defaults to 1)
# and, with -id3v2_version 4, "date" becomes TDRC and chapters CHAP + CTOC.
"${FF[@]}" -i "$TMP/swarm-raw.mp3" -f ffmetadata -i "$TMP/swarm.ffmeta" \
    -map 0:a -c copy -map_metadata 1 -map_chapters 1 \
    -id3v2_version 4 -write_id3v1 0 "${BITEXACT[@]}" \
    "$EP/2026-02-01-swarm-basics.mp3"

echo "episode 3: bonus (MPEG-2 VBR, ID3v1 only)..."
synth "$TMP/bonus.wav" 22050 20 0.4 "0243512" "$A_MINOR_PENTA" 20 "0" "110.00 130.81 164.81" 33
"${LAME[@]}" -V 7 -m m --resample 22.05 \
    --id3v1-only --tt "Behind the Scenes" --ta "The podseed Examples Crew" --ty 2026 \
    "$TMP/bonus.wav" "$EP/bonus-behind-the-scenes.mp3"

echo "episode 4: listener questions (M4A: AAC, iTunes tags, covr, chapters)..."
synth "$TMP/questions.wav" 32000 20 0.3 "0246531" "$C_PENTA" 10 "0 7" "130.81 196.00" 66
cat >"$TMP/questions.ffmeta" <<'EOF'
;FFMETADATA1
title=Listener Questions
artist=The podseed Examples Crew
album=Seeded Sounds
date=2026-03-01
description=Your questions about seeding, answered.
synopsis=Your questions about seeding a podcast, answered: why a web seed helps, and what a magnet link is. (An M4A episode: AAC audio with iTunes tags.)

[CHAPTER]
TIMEBASE=1/1000
START=0
END=10000
title=Why a web seed

[CHAPTER]
TIMEBASE=1/1000
START=10000
END=20000
title=What a magnet link is
EOF
# The mov muxer writes description as desc, synopsis as ldes, chapters as chpl
# (and a QuickTime chapter track); the attached JPEG becomes covr.
"${FF[@]}" -i "$TMP/questions.wav" -f ffmetadata -i "$TMP/questions.ffmeta" \
    -i "$TMP/cover-300.jpg" -map 0:a -map 2:v -map_metadata 1 -map_chapters 1 \
    -c:a aac -b:a 40k -c:v copy -disposition:v attached_pic \
    -movflags +faststart "${BITEXACT[@]}" \
    "$EP/2026-03-01-listener-questions.m4a"

echo "test fixtures..."
synth "$TMP/fx-vbr.wav" 22050 10 0.25 "0246" "$C_PENTA" 10 "0" "130.81 196.00" 44
"${LAME[@]}" -V 6 -t -m m --resample 22.05 "$TMP/fx-vbr.wav" "$FX/vbr-noheader-mpeg2.mp3"

synth "$TMP/fx-cbr.wav" 8000 10 0.5 "0312" "$A_MINOR_PENTA" 10 "0" "110.00 164.81" 55
"${LAME[@]}" -b 16 --cbr -m m --resample 8 "$TMP/fx-cbr.wav" "$FX/cbr-mpeg25.mp3"

synth "$TMP/fx-short.wav" 16000 6 0.3 "0312" "$C_PENTA" 3 "0 5" "130.81 196.00" 77
# moov last (no +faststart), no tags.
"${FF[@]}" -i "$TMP/fx-short.wav" -t 3 -map_metadata -1 "${BITEXACT[@]}" \
    -c:a aac -b:a 24k "$FX/short.m4a"

# be32 N: N as four big-endian bytes.
be32() {
    local n="$1"
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' \
        $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))"
}
# METADATA_BLOCK_PICTURE: a FLAC picture block (front cover, MIME type, empty
# description, 300x300, 24 bits, no palette, the JPEG), base64.
pic_block() {
    local jpg="$1"
    {
        be32 3
        be32 10
        printf 'image/jpeg'
        be32 0
        be32 300
        be32 300
        be32 24
        be32 0
        be32 "$(wc -c <"$jpg")"
        cat "$jpg"
    } | base64 -w0
}
cat >"$TMP/short.ffmeta" <<'EOF'
;FFMETADATA1
title=A Short Opus
artist=The podseed Examples Crew
date=2026-03-02
comment=An Opus fixture with a picture and chapters.

[CHAPTER]
TIMEBASE=1/1000
START=0
END=3000
title=First half

[CHAPTER]
TIMEBASE=1/1000
START=3000
END=6000
title=Second half
EOF
"${FF[@]}" -i "$TMP/fx-short.wav" -f ffmetadata -i "$TMP/short.ffmeta" \
    -map 0:a -map_metadata 1 -map_chapters 1 \
    -metadata "METADATA_BLOCK_PICTURE=$(pic_block "$TMP/cover-300.jpg")" \
    "${BITEXACT[@]}" -c:a libopus -b:a 24k "$FX/short.opus"

cat >"$FX/not-audio.mp3" <<'EOF'
This file is deliberately not audio.

It is a podseed test fixture: a plain-text file with an .mp3 extension, used
to check that the publisher rejects (or skips) files that merely look like
episodes by name.  There is no ID3 tag and no MPEG frame sync anywhere here.
EOF

echo "done:"
for f in "$EX/cover.png" "$EP"/* "$FX"/*; do
    printf '  %7d  %s\n' "$(wc -c <"$f")" "${f#"$ROOT"/}"
done
