//! Black-box tests of publishing M4A, MP4 video and Ogg Opus episodes beside MP3s: real
//! files made by ffmpeg, ffprobe as the duration oracle, the feed read by the `rss` crate,
//! and hostile containers refused with exit 2 naming the file.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// ffprobe's container duration in seconds.
fn ffprobe_secs(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("ffprobe duration")
}

const META: &str = ";FFMETADATA1
title=Tagged AAC
artist=Guest Host
description=Notes from the iTunes desc atom
comment=A comment
date=2026-03-04

[CHAPTER]
TIMEBASE=1/1000
START=0
END=4000
title=Opening

[CHAPTER]
TIMEBASE=1/1000
START=4000
END=9000
title=Closing
";

/// A FLAC picture block holding `jpeg`, base64 (what METADATA_BLOCK_PICTURE carries).
fn picture_block(jpeg: &[u8]) -> String {
    use base64::Engine;
    let mut b = 3u32.to_be_bytes().to_vec();
    b.extend_from_slice(&10u32.to_be_bytes());
    b.extend_from_slice(b"image/jpeg");
    b.extend_from_slice(&0u32.to_be_bytes());
    for v in [64u32, 64, 24, 0] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&(jpeg.len() as u32).to_be_bytes());
    b.extend_from_slice(jpeg);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Makes, in `eps`: an M4A with tags, `covr` and chapters; one without `covr` whose
/// chapters are only in a QuickTime chapter track; an MP4
/// with a video track; an Opus file with a picture and chapters; an MP3 whose
/// `-metadata comment=` ffmpeg writes as TXXX:comment; and a WAV (to be reported).
fn make_episodes(eps: &Path) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    std::fs::write(s.join("meta.txt"), META).expect("meta");
    let ep = |name: &str| eps.join(name).to_string_lossy().into_owned();
    ffmpeg(
        s,
        "-f lavfi -i color=c=red:s=64x64:d=1 -frames:v 1 cover.jpg",
        &[],
    );
    let tagged = "-map 0 -map_metadata 1 -map_chapters 1";
    ffmpeg(
        s,
        &format!("-f lavfi -i sine=f=440:d=9.5 -f ffmetadata -i meta.txt {tagged} -c:a aac -b:a 48k plain.m4a"),
        &[],
    );
    // Chapters only in a QuickTime chapter track (no Nero `chpl`), no `covr`.
    ffmpeg(
        s,
        &format!("-f lavfi -i sine=f=440:d=9.5 -f ffmetadata -i meta.txt {tagged} -c:a aac -b:a 48k -movflags +disable_chpl"),
        &[&ep("2026-03-05-no-cover.m4a")],
    );
    ffmpeg(
        s,
        "-i plain.m4a -i cover.jpg -map 0:a -map 1 -map_chapters 0 -c copy -disposition:v attached_pic",
        &[&ep("tagged.m4a")],
    );
    ffmpeg(
        s,
        "-f lavfi -i testsrc=s=160x120:d=6.2:r=10 -f lavfi -i sine=d=6.2 -c:v libx264 -preset ultrafast -c:a aac -shortest -metadata title=Video -metadata date=2026-03-06",
        &[&ep("video.mp4")],
    );
    let jpeg = std::fs::read(s.join("cover.jpg")).expect("jpeg");
    let picture = format!("METADATA_BLOCK_PICTURE={}", picture_block(&jpeg));
    ffmpeg(
        s,
        &format!("-f lavfi -i sine=f=330:d=7.3 -f ffmetadata -i meta.txt {tagged} -metadata title=Opus -c:a libopus -b:a 32k"),
        &["-metadata", &picture, &ep("opus-episode.opus")],
    );
    ffmpeg(
        s,
        "-f lavfi -i sine=d=5 -metadata title=Commented -metadata date=2026-03-07 -c:a libmp3lame",
        &[
            "-metadata",
            "comment=Show notes from ffmpeg",
            &ep("commented.mp3"),
        ],
    );
    ffmpeg(s, "-f lavfi -i sine=d=1", &[&ep("raw take.wav")]);
}

#[test]
fn every_format_publishes_with_ffprobe_durations_tags_and_a_valid_feed() {
    require!(Tool::Ffmpeg, Tool::Ffprobe);
    let d = Show::example();
    let before = d.publish()["episodes"].as_array().expect("eps").len();
    make_episodes(&d.episodes());
    let summary = d.publish();
    let eps = summary["episodes"].as_array().expect("eps");
    assert_eq!(eps.len(), before + 5, "{summary:?}");
    assert_eq!(summary["new"], 5);

    // Durations within 0.5 s of ffprobe, for every episode of every format.
    for e in eps {
        let file = e["file"].as_str().expect("file");
        let ours = e["duration_secs"].as_f64().expect("duration");
        let theirs = ffprobe_secs(&d.episodes().join(file));
        eprintln!("{file}: ours {ours} s, ffprobe {theirs} s");
        assert!(
            (ours - theirs).abs() <= 0.5,
            "{file}: ours {ours} s, ffprobe {theirs} s"
        );
    }

    // The WAV is reported by name with a conversion command, not published.
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains("raw take.wav") && warnings.contains("ffmpeg -i"),
        "{warnings}"
    );

    let feed = std::fs::read(d.public().join("feed.xml")).expect("feed");
    let channel = rss::Channel::read_from(&feed[..]).expect("rss parses the feed");
    let item = |title: &str| {
        channel
            .items()
            .iter()
            .find(|i| i.title() == Some(title))
            .unwrap_or_else(|| panic!("no item {title}"))
            .clone()
    };
    let mime = |i: &rss::Item| i.enclosure().expect("enclosure").mime_type().to_string();

    let tagged = item("Tagged AAC");
    assert_eq!(mime(&tagged), "audio/x-m4a");
    assert_eq!(
        tagged.description(),
        Some("Notes from the iTunes desc atom")
    );
    let itunes = tagged.itunes_ext().expect("itunes");
    assert_eq!(itunes.author(), Some("Guest Host"));
    let image = itunes.image().expect("covr becomes the episode image");
    assert!(image.ends_with(".jpg"), "{image}");
    assert!(tagged.pub_date().expect("date").contains("04 Mar 2026"));
    let chapters: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.public().join("chapters/tagged.json")).expect("chpl chapters"),
    )
    .expect("json");
    assert_eq!(chapters["chapters"][1]["title"], "Closing");
    assert_eq!(chapters["chapters"][1]["startTime"], 4.0);

    // Same tags, no cover: no episode image (the show's is used).
    let plain_items: Vec<_> = channel
        .items()
        .iter()
        .filter(|i| i.title() == Some("Tagged AAC"))
        .collect();
    assert_eq!(plain_items.len(), 2);
    assert!(d
        .public()
        .join("episodes/2026-03-05-no-cover.m4a")
        .is_file());
    assert!(!d.public().join("images/2026-03-05-no-cover.jpg").exists());
    let chapters: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.public().join("chapters/2026-03-05-no-cover.json"))
            .expect("chapter track chapters"),
    )
    .expect("json");
    assert_eq!(chapters["chapters"][0]["title"], "Opening");
    assert_eq!(chapters["chapters"][1]["title"], "Closing");
    assert_eq!(chapters["chapters"][1]["startTime"], 4.0);

    // The bitrate counts the audio, not the cover art or the index (48 kb/s AAC).
    let bitrate = |i: &rss::Item| -> u64 {
        i.extensions()["podcast"]["alternateEnclosure"][0].attrs()["bitrate"]
            .parse()
            .expect("bitrate")
    };
    assert!(
        (40_000..60_000).contains(&bitrate(&tagged)),
        "{}",
        bitrate(&tagged)
    );

    let video = item("Video");
    assert_eq!(mime(&video), "video/mp4");

    let opus = item("Opus");
    assert_eq!(mime(&opus), "audio/ogg");
    assert!(
        (24_000..48_000).contains(&bitrate(&opus)),
        "{}",
        bitrate(&opus)
    );
    // ffmpeg writes `comment` to Ogg as DESCRIPTION.
    assert_eq!(opus.description(), Some("A comment"));
    assert!(opus
        .itunes_ext()
        .and_then(|i| i.image())
        .is_some_and(|u| u.ends_with("opus-episode.jpg")));
    let chapters: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.public().join("chapters/opus-episode.json")).expect("opus chapters"),
    )
    .expect("json");
    let last_end = chapters["chapters"][1]["endTime"].as_f64().expect("end");
    assert!(
        (last_end - 7.3).abs() < 0.5,
        "last chapter ends at {last_end}"
    );

    let mp3 = item("Commented");
    assert_eq!(mime(&mp3), "audio/mpeg");
    assert_eq!(mp3.description(), Some("Show notes from ffmpeg"));

    // The web server sends the feed's types; a second build reads nothing again.
    let again = d.publish();
    assert_eq!(again["unchanged"], eps.len());
}

/// A minimal MP4 prefix: `ftyp`, then whatever boxes follow.
fn mp4_with(tail: &[u8]) -> Vec<u8> {
    let mut v = b"\0\0\0\x10ftypM4A \0\0\0\0".to_vec();
    v.extend_from_slice(tail);
    v
}

#[test]
fn hostile_containers_exit_2_naming_each_file() {
    let d = Show::example();
    let eps = d.episodes();
    let files: Vec<(&str, Vec<u8>)> = vec![
        // A box claiming far more than the file holds.
        ("past-end.m4a", mp4_with(b"\x7f\xff\xff\xffmdat0123")),
        // A 64-bit size of 2^63.
        (
            "huge.m4a",
            mp4_with(b"\0\0\0\x01mdat\x80\0\0\0\0\0\0\0abcdefgh"),
        ),
        // A size smaller than its header (a naive walker never advances).
        ("zero-loop.m4v", mp4_with(b"\0\0\0\x04free\0\0\0\x04free")),
        // No moov at all.
        ("no-index.mp4", mp4_with(b"\0\0\0\x0cmdatabcd")),
        // An Ogg page cut short.
        (
            "cut.opus",
            b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHe".to_vec(),
        ),
        // Not a container at all.
        (
            "text.opus",
            b"just some notes with the wrong name\n".repeat(10),
        ),
    ];
    for (name, bytes) in &files {
        std::fs::write(eps.join(name), bytes).expect("write");
    }
    let out = d.podseed(&["publish"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (name, _) in &files {
        assert!(stderr.contains(name), "{name} not named in:\n{stderr}");
    }
    assert!(stderr.contains("cut short"), "{stderr}");
    assert!(!d.public().join("feed.xml").exists());
}

#[test]
fn a_truncated_ffmpeg_m4a_is_refused() {
    require!(Tool::Ffmpeg);
    let d = Show::example();
    let scratch = tempfile::tempdir().expect("tempdir");
    let make = |name: &str, flags: &str| {
        let made = scratch.path().join(name);
        ffmpeg(
            scratch.path(),
            &format!("-f lavfi -i sine=d=4 -c:a aac {flags}"),
            &[&made.to_string_lossy()],
        );
        std::fs::read(&made).expect("read")
    };
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(d.episodes().join(name), bytes).expect("write");
    };
    // ffmpeg's default writes the index (moov) after the audio (mdat): cut at its start,
    // the index is gone; cut in the middle, mdat claims more than the file holds.
    let end_index = make("end-index.m4a", "");
    let moov = end_index
        .windows(4)
        .rposition(|w| w == b"moov")
        .expect("moov")
        - 4;
    write("no-index.m4a", &end_index[..moov]);
    write("cut-audio.m4a", &end_index[..end_index.len() / 2]);
    // With +faststart the audio comes last: cut, it is one box short.
    let faststart = make("faststart.m4a", "-movflags +faststart");
    write("cut-faststart.m4a", &faststart[..faststart.len() * 2 / 3]);
    let out = d.podseed(&["publish"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (name, says) in [
        ("no-index.m4a", "has no `moov` box"),
        ("cut-audio.m4a", "cut short"),
        ("cut-faststart.m4a", "cut short"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not named in:\n{stderr}"));
        assert!(line.contains(says), "{line}");
    }
}
