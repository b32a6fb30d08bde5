//! Black-box tests of `podseed publish` and `podseed init`: they run the real binary on a
//! copy of the shipped example and read what it wrote; one behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use lava_torrent::torrent::v1::Torrent;
use serde_json::Value;

const WELCOME: &str = "2026-01-15-welcome.mp3";

#[test]
fn example_publishes_a_complete_site() {
    let d = Show::example();
    let summary = d.publish();
    let public = d.public();
    for f in [
        "feed.xml",
        "torrents.xml",
        "index.html",
        "cover.png",
        ".podseed/manifest.json",
        "episodes/2026-01-15-welcome.mp3",
        "torrents/2026-01-15-welcome.torrent",
        "torrents/2026-02-01-swarm-basics.torrent",
        "torrents/bonus-behind-the-scenes.torrent",
        "images/2026-01-15-welcome.jpg",
        "chapters/2026-02-01-swarm-basics.json",
        "transcripts/2026-01-15-welcome.vtt",
        // The M4A: its covr and chpl chapters.
        "episodes/2026-03-01-listener-questions.m4a",
        "images/2026-03-01-listener-questions.jpg",
        "chapters/2026-03-01-listener-questions.json",
    ] {
        assert!(public.join(f).is_file(), "missing {f}");
    }
    assert_eq!(summary["new"], 4);
    assert_eq!(summary["episodes"].as_array().map(Vec::len), Some(4));
    // Media are the source bytes (hard link or copy).
    assert_eq!(
        std::fs::read(public.join("episodes/2026-01-15-welcome.mp3")).expect("read"),
        std::fs::read(d.episodes().join("2026-01-15-welcome.mp3")).expect("read")
    );
    let html = std::fs::read_to_string(public.join("index.html")).expect("html");
    for e in summary["episodes"].as_array().expect("eps") {
        let magnet = e["magnet"].as_str().expect("magnet").replace('&', "&amp;");
        assert!(html.contains(&magnet), "page lacks the magnet link");
        // Same-site links are relative, so the page also works as a local preview.
        let torrent = e["torrent_url"].as_str().expect("url");
        let relative = torrent.trim_start_matches("https://podcast.example.com/seedbox/");
        assert!(html.contains(&format!("href=\"{relative}\"")), "{relative}");
        assert!(public.join(relative).is_file());
        assert!(html.contains("<audio"));
    }
    assert!(
        !html.contains("http://") || !html.contains("<script src"),
        "external assets"
    );
}

#[test]
fn feed_items_have_enclosures_durations_guids_and_dates() {
    let d = Show::example();
    let summary = d.publish();
    let xml = std::fs::read_to_string(d.public().join("feed.xml")).expect("feed");
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("feed.xml parses as RSS");
    assert_eq!(channel.title(), "The Seedbox Hour");
    assert_eq!(channel.items().len(), 4);
    let by_file = summary.by_file();
    let mut guids = std::collections::BTreeSet::new();
    for item in channel.items() {
        let enc = item.enclosure().expect("enclosure");
        let file = enc.url().rsplit('/').next().expect("name");
        let want = if file.ends_with(".m4a") {
            "audio/x-m4a"
        } else {
            "audio/mpeg"
        };
        assert_eq!(enc.mime_type(), want, "{file}");
        assert_eq!(
            enc.url(),
            format!("https://podcast.example.com/seedbox/episodes/{file}")
        );
        let size = std::fs::metadata(d.episodes().join(file))
            .expect("meta")
            .len();
        assert_eq!(enc.length(), size.to_string());
        let it = item.itunes_ext().expect("itunes");
        let duration: f64 = it.duration().expect("duration").parse().expect("seconds");
        let json_dur = by_file[file]["duration_secs"].as_f64().expect("dur");
        assert!((duration - json_dur).abs() <= 0.5);
        let guid = item.guid().expect("guid");
        assert!(!guid.is_permalink());
        assert!(guids.insert(guid.value().to_string()), "duplicate guid");
        assert_eq!(guid.value(), by_file[file]["guid"].as_str().expect("guid"));
        let date = chrono::DateTime::parse_from_rfc2822(item.pub_date().expect("pubDate"))
            .expect("RFC 2822 pubDate");
        assert_eq!(
            date.to_rfc3339(),
            chrono::DateTime::parse_from_rfc3339(by_file[file]["pub_date"].as_str().expect("d"))
                .expect("rfc3339")
                .to_rfc3339()
        );
    }
    // Dates come from config (bonus), ID3v2.4 TDRL/TDRC or the file name, never from now.
    assert_eq!(
        by_file["bonus-behind-the-scenes.mp3"]["pub_date"],
        "2026-02-10T18:00:00+00:00"
    );
}

#[test]
fn feed_has_every_itunes_and_podcast_namespace_tag() {
    let d = Show::example();
    d.publish();
    let xml = std::fs::read_to_string(d.public().join("feed.xml")).expect("feed");
    for needle in [
        "xmlns:podcast=\"https://podcastindex.org/namespace/1.0\"",
        "xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"",
        "<atom:link href=\"https://podcast.example.com/seedbox/feed.xml\" rel=\"self\"",
        "<itunes:image href=\"https://podcast.example.com/seedbox/cover.png\"/>",
        "<itunes:category text=\"Education\">",
        "<itunes:explicit>false</itunes:explicit>",
        "<itunes:author>",
        "<itunes:owner>",
        "<itunes:email>alex@example.com</itunes:email>",
        "<itunes:type>episodic</itunes:type>",
        "<itunes:duration>",
        "<itunes:episode>1</itunes:episode>",
        "<itunes:season>1</itunes:season>",
        "<itunes:episodeType>bonus</itunes:episodeType>",
        "<podcast:guid>5b4ad1e3-8b2e-5d6e-9f1f-0c2b6c1f3a10</podcast:guid>",
        "<podcast:locked owner=\"alex@example.com\">yes</podcast:locked>",
        "<podcast:funding url=\"https://podcast.example.com/support\">",
        "<podcast:alternateEnclosure type=\"audio/mpeg\" length=",
        "default=\"true\"",
        "<podcast:integrity type=\"sri\" value=\"sha256-",
        "contentType=\"application/x-bittorrent\"",
        "<podcast:source uri=\"magnet:?xt=urn:btih:",
        "<podcast:chapters url=\"https://podcast.example.com/seedbox/chapters/2026-02-01-swarm-basics.json\" type=\"application/json+chapters\"/>",
        "<podcast:transcript url=\"https://podcast.example.com/seedbox/transcripts/2026-01-15-welcome.vtt\" type=\"text/vtt\"/>",
    ] {
        assert!(xml.contains(needle), "feed.xml lacks {needle}");
    }
}

#[test]
fn the_integrity_value_is_the_files_real_sha256() {
    let d = Show::example();
    d.publish();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(d.public().join(".podseed/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let sha_hex = manifest["episodes"][WELCOME]["sha256"]
        .as_str()
        .expect("sha");
    let out = Command::new("sha256sum")
        .arg(d.episodes().join(WELCOME))
        .output()
        .expect("sha256sum");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(sha_hex));
}

#[test]
fn chapters_come_from_the_id3_chap_frames() {
    let d = Show::example();
    d.publish();
    let chapters: Value = serde_json::from_slice(
        &std::fs::read(d.public().join("chapters/2026-02-01-swarm-basics.json")).expect("chapters"),
    )
    .expect("json");
    assert!(chapters["chapters"].as_array().expect("list").len() >= 2);
}

#[test]
fn torrent_feed_follows_bep36() {
    let d = Show::example();
    let summary = d.publish();
    let public = d.public();
    let xml = std::fs::read_to_string(public.join("torrents.xml")).expect("torrents.xml");
    assert!(xml.contains("xmlns:torrent=\"http://xmlns.ezrss.it/0.1/\""));
    assert!(xml.contains("<ttl>"));
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("parses as RSS");
    let by_file = summary.by_file();
    assert_eq!(channel.items().len(), 4);
    for item in channel.items() {
        let enc = item.enclosure().expect("enclosure");
        assert_eq!(enc.mime_type(), "application/x-bittorrent");
        let name = enc.url().rsplit('/').next().expect("name");
        let torrent = public.join("torrents").join(name);
        let tsize = std::fs::metadata(&torrent).expect("torrent").len();
        assert_eq!(enc.length(), tsize.to_string());
        let stem = name.trim_end_matches(".torrent");
        let file = by_file
            .keys()
            .find(|f| f.rsplit_once('.').is_some_and(|(s, _)| s == stem))
            .expect("the torrent's episode");
        let hash = by_file[file]["info_hash"].as_str().expect("hash");
        assert_eq!(item.guid().expect("guid").value(), hash);
        assert!(item
            .link()
            .expect("link")
            .starts_with("magnet:?xt=urn:btih:"));
        let ext = &item.extensions()["torrent"];
        assert_eq!(ext["infoHash"][0].value(), Some(hash));
        assert_eq!(ext["fileName"][0].value(), Some(file.as_str()));
        let size = std::fs::metadata(d.episodes().join(file))
            .expect("meta")
            .len();
        assert_eq!(
            ext["contentLength"][0].value(),
            Some(size.to_string().as_str())
        );
        assert!(ext["magnetURI"][0]
            .value()
            .is_some_and(|m| m.contains(hash)));
    }
}

#[test]
fn torrents_are_deterministic_v1_with_web_seed_and_trackers() {
    let d = Show::example();
    let summary = d.publish();
    let public = d.public();
    for e in summary["episodes"].as_array().expect("eps") {
        let file = e["file"].as_str().expect("file");
        let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
        let t = Torrent::read_from_file(public.join(format!("torrents/{stem}.torrent")))
            .expect("torrent parses");
        assert_eq!(t.info_hash(), e["info_hash"].as_str().expect("hash"));
        assert_eq!(t.name, file);
        assert!(t.files.is_none(), "single-file torrent");
        assert!(t.extra_info_fields.is_none(), "info holds only the 4 keys");
        assert!(t.piece_length.count_ones() == 1 && t.piece_length >= 16384);
        assert_eq!(
            t.announce.as_deref(),
            Some("udp://tracker.opentrackr.org:1337/announce")
        );
        let extra = t.extra_fields.expect("extra");
        let url_list = format!("{:?}", extra["url-list"]);
        assert!(
            url_list.contains(e["media_url"].as_str().expect("url")),
            "{url_list}"
        );
        let created = format!("{:?}", extra["creation date"]);
        let pub_ts = chrono::DateTime::parse_from_rfc3339(e["pub_date"].as_str().expect("d"))
            .expect("date")
            .timestamp();
        assert!(
            created.contains(&pub_ts.to_string()),
            "{created} vs {pub_ts}"
        );
    }
}

#[test]
fn info_hashes_match_mktorrent() {
    require!(Tool::Mktorrent);
    let d = Show::example();
    // Debian's mktorrent takes 32 KiB pieces at the least; this also tests the override.
    d.edit_yaml("piece_length: auto", "piece_length: 32768");
    let summary = d.publish();
    let public = d.public();
    for e in summary["episodes"].as_array().expect("eps") {
        let file = e["file"].as_str().expect("file");
        let ours = Torrent::read_from_file(public.join(format!(
            "torrents/{}.torrent",
            file.rsplit_once('.').map_or(file, |(s, _)| s)
        )))
        .expect("ours");
        assert_eq!(ours.piece_length, 32768);
        let log2 = ours.piece_length.trailing_zeros().to_string();
        let theirs = d.path().join(format!("{file}.mktorrent"));
        let out = Command::new("mktorrent")
            .args(["-l", &log2, "-a", "http://127.0.0.1:1/announce", "-o"])
            .arg(&theirs)
            .arg(d.episodes().join(file))
            .output()
            .expect("mktorrent");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = Torrent::read_from_file(&theirs).expect("mktorrent output");
        assert_eq!(theirs.info_hash(), ours.info_hash(), "{file}");
    }
}

#[test]
fn durations_match_the_decoded_length() {
    require!(Tool::Ffprobe);
    // The example (CBR without header, VBR with Xing, MPEG-2 VBR, an M4A) plus fixtures for
    // VBR without a header and MPEG-2.5.
    let d = Show::example();
    for f in ["vbr-noheader-mpeg2.mp3", "cbr-mpeg25.mp3"] {
        std::fs::copy(repo().join("tests/fixtures").join(f), d.episodes().join(f))
            .expect("copy fixture");
    }
    let summary = d.publish();
    let eps = summary["episodes"].as_array().expect("eps");
    assert_eq!(eps.len(), 6);
    for e in eps {
        let file = e["file"].as_str().expect("file");
        let ours = e["duration_secs"].as_f64().expect("duration");
        let decoded = ffprobe_decoded_secs(&d.episodes().join(file));
        assert!(
            (ours - decoded).abs() <= 0.5,
            "{file}: ours {ours} s, decoded {decoded} s"
        );
    }
}

#[test]
fn rebuilds_are_byte_identical_and_write_nothing() {
    let a = Show::example();
    let b = Show::example();
    podseed_ok(a.path(), &["publish", "--quiet"]);
    podseed_ok(b.path(), &["publish", "--quiet"]);
    let mut sa = snapshot(&a.public());
    let mut sb = snapshot(&b.public());
    // The manifest records source mtimes, which differ between the two copies.
    sa.remove(".podseed/manifest.json");
    sb.remove(".podseed/manifest.json");
    assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
    for (k, v) in &sa {
        assert!(
            sb[k] == *v,
            "{k} differs between two builds of the same input"
        );
    }
    // Publishing again in place changes nothing and reads nothing.
    let before = snapshot(&a.public());
    let again = a.publish();
    assert_eq!(again["written_files"], 0);
    assert_eq!(again["bytes_hashed"], 0);
    assert_eq!(again["unchanged"], 4);
    assert!(
        snapshot(&a.public()) == before,
        "a no-op rebuild changed files"
    );
}

#[test]
fn unchanged_files_are_not_read_again_and_force_rereads() {
    let d = Show::example();
    let first = d.publish();
    let ep = d.episodes().join("2026-01-15-welcome.mp3");
    let meta = std::fs::metadata(&ep).expect("meta");
    let mtime = meta.modified().expect("mtime");
    // Same size and mtime, other bytes: only a build that reads the file can notice.
    std::fs::write(&ep, vec![0u8; meta.len() as usize]).expect("overwrite");
    std::fs::File::options()
        .write(true)
        .open(&ep)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    let second = d.publish();
    assert_eq!(second["bytes_hashed"], 0);
    assert_eq!(
        first.by_file()["2026-01-15-welcome.mp3"]["info_hash"],
        second.by_file()["2026-01-15-welcome.mp3"]["info_hash"]
    );
    // --force reads everything again and finds the file is no longer audio.
    let out = podseed(d.path(), &["publish", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2026-01-15-welcome.mp3"), "{err}");
    assert!(err.contains("not MPEG audio"), "{err}");
}

#[test]
fn a_changed_or_new_episode_is_rehashed_alone() {
    let d = Show::example();
    d.publish();
    d.add_episode("2026-03-01-new.mp3", &fixture("cbr-mpeg25.mp3"));
    let s = d.publish();
    let size = std::fs::metadata(fixture("cbr-mpeg25.mp3"))
        .expect("meta")
        .len();
    assert_eq!(s["new"], 1);
    assert_eq!(s["unchanged"], 4);
    assert_eq!(s["bytes_hashed"], size);
    assert_eq!(s.by_file()["2026-03-01-new.mp3"]["status"], "new");
}

#[test]
fn removed_episodes_disappear_from_the_output() {
    let d = Show::example();
    d.publish();
    let public = d.public();
    assert!(public.join("transcripts/2026-01-15-welcome.vtt").is_file());
    d.remove_episode("2026-01-15-welcome.mp3");
    let s = d.publish();
    assert_eq!(s["episodes"].as_array().map(Vec::len), Some(3));
    for gone in [
        "episodes/2026-01-15-welcome.mp3",
        "torrents/2026-01-15-welcome.torrent",
        "images/2026-01-15-welcome.jpg",
        "transcripts/2026-01-15-welcome.vtt",
    ] {
        assert!(!public.join(gone).exists(), "{gone} still there");
    }
    assert!(!public.join("transcripts").exists());
    let feed = std::fs::read_to_string(public.join("feed.xml")).expect("feed");
    assert!(!feed.contains("2026-01-15-welcome"));
}

#[test]
fn base_url_trackers_and_titles_never_change_info_hashes() {
    let d = Show::example();
    // Without a pinned podcast:guid, so that it follows base_url; item guids must not.
    let yaml = d.yaml();
    let yaml = yaml.replace("guid: 5b4ad1e3-8b2e-5d6e-9f1f-0c2b6c1f3a10\n", "");
    d.write_yaml(&yaml);
    let first = d.publish();
    let yaml = yaml
        .replace(
            "https://podcast.example.com/seedbox/",
            "https://cdn.elsewhere.net/show/",
        )
        .replace(
            "udp://tracker.opentrackr.org:1337/announce",
            "http://tracker.example.org/announce",
        )
        .replace("Welcome to the Seedbox Hour", "A new title");
    d.write_yaml(&yaml);
    let second = d.publish();
    let (a, b) = (first.by_file(), second.by_file());
    for (file, e) in &a {
        assert_eq!(e["info_hash"], b[file]["info_hash"], "{file}");
        assert_eq!(e["guid"], b[file]["guid"], "{file}: guid changed");
        assert_eq!(
            e["pub_date"], b[file]["pub_date"],
            "{file}: pubDate changed"
        );
        assert_ne!(e["media_url"], b[file]["media_url"]);
    }
    assert_eq!(b["2026-01-15-welcome.mp3"]["title"], "A new title");
    assert_ne!(first["podcast_guid"], second["podcast_guid"]);
    assert_eq!(
        second["bytes_hashed"], 0,
        "metadata changes must not rehash"
    );
}

// Bad inputs: exit 2, a message naming the place, and the previous output untouched.

/// Runs `podseed ARGS` on `show`, which must refuse: exit 2, every needle in stderr, and
/// the output folder as `previous`.
fn assert_refused(
    show: &Show,
    args: &[&str],
    needles: &[&str],
    previous: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let out = show.podseed(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    assert!(
        snapshot(&show.public()) == *previous,
        "the previous output changed"
    );
}

/// `bad_config!(test_name, [from => to, ...], [needle, ...])`: after a good build,
/// podcast.yaml edited so (each `from` replaced by its `to`) makes publish refuse, naming
/// the place with every needle, and keep the previous output.
macro_rules! bad_config {
    ($name:ident, [$($from:expr => $to:expr),+ $(,)?], [$($needle:expr),+ $(,)?]) => {
        #[test]
        fn $name() {
            let d = Show::example();
            podseed_ok(d.path(), &["publish", "--quiet"]);
            let good = snapshot(&d.public());
            $(d.edit_yaml($from, $to);)+
            assert_refused(&d, &["publish"], &[$($needle),+], &good);
        }
    };
}

bad_config!(
    broken_yaml_is_refused,
    ["title: The Seedbox Hour" => "title: [oops"],
    ["podcast.yaml:", "not valid YAML"]
);

bad_config!(
    an_unknown_field_is_refused_with_its_line_and_column,
    ["language: en" => "language: en\ncolour: blue"],
    ["podcast.yaml:11:1: colour: unknown field"]
);

bad_config!(
    a_repeated_key_is_refused_at_the_repeat,
    ["language: en" => "language: en\ntitle: Again"],
    ["podcast.yaml:11:1: not valid YAML: duplicate entry with key \"title\"", "keep one of them"]
);

bad_config!(
    a_second_document_is_refused_at_its_start,
    ["language: en" => "language: en\n---\ntitle: Again"],
    ["podcast.yaml:11:1: not valid YAML:", "more than one document", "remove any `---`"]
);

bad_config!(
    artwork_outside_the_config_folder_is_refused,
    ["image: examples/cover.png" => "image: ../../../../../../../../etc/passwd"],
    ["image: ", "is outside the config's folder", "allow_sources_outside: true"]
);

bad_config!(
    artwork_that_is_not_an_image_is_refused,
    ["image: examples/cover.png" => "image: podcast.yaml"],
    ["image: ", "is not a PNG or JPEG image"]
);

bad_config!(
    a_value_of_the_wrong_type_is_refused,
    ["explicit: false" => "explicit: sometimes"],
    ["explicit: expected true or false"]
);

bad_config!(
    a_base_url_that_is_not_a_url_is_refused,
    ["base_url: https://podcast.example.com/seedbox/" => "base_url: podcast.example.com"],
    ["podcast.yaml:9:11: base_url:"]
);

bad_config!(
    a_date_that_is_not_a_date_is_refused,
    ["date: 2026-02-10 18:00" => "date: next tuesday"],
    ["episodes[2].date: \"next tuesday\" is not a date"]
);

bad_config!(
    an_unknown_apple_category_is_refused,
    ["  - Technology" => "  - Tech"],
    ["categories[0]: unknown Apple category \"Tech\""]
);

bad_config!(
    a_listed_file_that_does_not_exist_is_refused,
    ["file: bonus-behind-the-scenes.mp3" => "file: bonus-gone.mp3"],
    ["episodes[2].file:", "bonus-gone.mp3 does not exist"]
);

bad_config!(
    a_guid_used_twice_is_refused,
    [
        "    season: 1\n    episode: 1" => "    guid: same\n    season: 1\n    episode: 1",
        "    season: 1\n    episode: 2" => "    guid: same\n    season: 1\n    episode: 2",
    ],
    ["episodes[1].guid: guid \"same\" is already used by episodes[0]"]
);

bad_config!(
    every_config_error_is_reported_at_once,
    [
        "explicit: false" => "explicit: sometimes",
        "  - Technology" => "  - Tech",
    ],
    ["2 problems", "explicit:", "categories[0]:"]
);

#[test]
fn bad_media_are_all_reported_and_keep_the_previous_output() {
    // Not MP3, and empty: both reported.
    let d = Show::example();
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let good = snapshot(&d.public());
    d.add_episode("zz-notes.mp3", &fixture("not-audio.mp3"));
    std::fs::write(d.episodes().join("zz-empty.mp3"), b"").expect("empty");
    assert_refused(
        &d,
        &["publish"],
        &["zz-notes.mp3: is not MPEG audio", "zz-empty.mp3: is empty"],
        &good,
    );
}

#[test]
fn a_missing_config_is_named_with_what_to_do() {
    let d = Show::example();
    let out = d.podseed(&["publish", "-c", "nope.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nope.yaml") && err.contains("podseed init"),
        "{err}"
    );
}

#[test]
fn episodes_that_would_share_output_names_are_refused() {
    let d = Show::example();
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let good = snapshot(&d.public());
    d.add_episode("2026-01-15-welcome.MP3", &d.episodes().join(WELCOME));
    assert_refused(
        &d,
        &["publish"],
        &["2026-01-15-welcome", "rename one of them"],
        &good,
    );
}

#[test]
fn init_writes_a_starter_that_publishes_and_never_overwrites() {
    let d = tempfile::tempdir().expect("tmp");
    podseed_ok(d.path(), &["init"]);
    assert!(d.path().join("podcast.yaml").is_file());
    assert!(d.path().join("episodes").is_dir());
    let out = podseed(d.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    std::fs::copy(
        repo().join("examples/episodes/2026-01-15-welcome.mp3"),
        d.path().join("episodes/2026-01-15-welcome.mp3"),
    )
    .expect("copy");
    let s: Value =
        serde_json::from_str(&podseed_ok(d.path(), &["publish", "--json"])).expect("json");
    assert_eq!(s["episodes"].as_array().map(Vec::len), Some(1));
    assert!(d.path().join("public/feed.xml").is_file());
    // init DIR works too.
    podseed_ok(d.path(), &["init", "other"]);
    assert!(d.path().join("other/podcast.yaml").is_file());
}

#[cfg(unix)]
#[test]
fn symlinked_episodes_are_published_as_real_files() {
    let d = Show::example();
    let eps = d.episodes();
    let elsewhere = d.path().join("audio");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    std::fs::rename(
        eps.join("bonus-behind-the-scenes.mp3"),
        elsewhere.join("bonus.mp3"),
    )
    .expect("move");
    std::os::unix::fs::symlink(
        "../../audio/bonus.mp3",
        eps.join("bonus-behind-the-scenes.mp3"),
    )
    .expect("symlink");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let published = d.path().join("public/episodes/bonus-behind-the-scenes.mp3");
    let meta = std::fs::symlink_metadata(&published).expect("meta");
    assert!(meta.file_type().is_file(), "published a symlink");
    assert_eq!(
        std::fs::read(&published).expect("read"),
        std::fs::read(elsewhere.join("bonus.mp3")).expect("read")
    );
    // And a second build sees it as current.
    assert_eq!(d.publish()["written_files"], 0);
}

#[test]
fn tag_text_is_escaped_and_controls_never_break_the_feed() {
    require!(Tool::Lame);
    let d = Show::example();
    let eps = d.episodes();
    // Re-tag a fixture: a comment with markup characters and a title with a control character.
    let out = Command::new("lame")
        .args(["--quiet", "--decode"])
        .arg(fixture("cbr-mpeg25.mp3"))
        .arg(d.path().join("x.wav"))
        .status()
        .expect("lame");
    assert!(out.success());
    let out = Command::new("lame")
        .args([
            "--quiet",
            "-b",
            "16",
            "--tt",
            "Q&A \u{1} night",
            "--tc",
            "Q&A with <guest> & co",
            "--ty",
            "2026",
        ])
        .arg(d.path().join("x.wav"))
        .arg(eps.join("qa.mp3"))
        .status()
        .expect("lame");
    assert!(out.success());
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let xml = std::fs::read_to_string(d.path().join("public/feed.xml")).expect("feed");
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("feed parses");
    let item = channel
        .items()
        .iter()
        .find(|i| i.title() == Some("Q&A  night"))
        .expect("item with the control character dropped");
    assert_eq!(
        item.description(),
        Some("Q&amp;A with &lt;guest&gt; &amp; co"),
        "plain tag text must reach readers as text, not markup"
    );
}

#[test]
fn a_date_removed_from_the_config_keeps_the_published_date() {
    let d = Show::example();
    // An untagged file without a date in its name: the config is its only date source.
    d.add_episode("extra.mp3", &fixture("cbr-mpeg25.mp3"));
    let dated = format!("{}  - file: extra.mp3\n    date: 2025-05-05\n", d.yaml());
    d.write_yaml(&dated);
    let first = d.publish();
    assert_eq!(
        first.by_file()["extra.mp3"]["pub_date"],
        "2025-05-05T00:00:00+00:00"
    );
    d.write_yaml(&dated.replace("    date: 2025-05-05\n", ""));
    let out = d.podseed(&["publish", "--json"]);
    assert!(out.status.success());
    let second = Summary(serde_json::from_slice(&out.stdout).expect("json"));
    assert_eq!(
        second.by_file()["extra.mp3"]["pub_date"],
        "2025-05-05T00:00:00+00:00"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("extra.mp3") && err.contains("no date"),
        "{err}"
    );
}

/// `-o DIR` gets the same overlap check as `output_dir:`: an output folder in or around the
/// episodes would publish its own output again on every run.
#[test]
fn an_output_folder_given_by_o_that_overlaps_the_episodes_is_refused() {
    let show = Show::example();
    let episodes = snapshot(&show.episodes());
    for dir in ["examples/episodes", "examples/episodes/site", "examples"] {
        let out = show.podseed(&["publish", "-o", dir]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "-o {dir}: {err}");
        assert!(err.contains("overlaps episodes_dir"), "-o {dir}: {err}");
        assert!(err.contains(&format!("-o {dir}")), "-o {dir}: {err}");
        assert!(
            snapshot(&show.episodes()) == episodes,
            "-o {dir} wrote into the episodes folder"
        );
    }
    // A separate folder is fine.
    podseed_ok(show.path(), &["publish", "--quiet", "-o", "elsewhere"]);
}

/// What editors write: a byte order mark is not YAML and is skipped (positions stay right);
/// a file that is not UTF-8 is a bad config (exit 2) named at its first bad byte.
#[test]
fn a_byte_order_mark_is_skipped_and_positions_stay_right() {
    let show = Show::example();
    let yaml = show.yaml();
    std::fs::write(show.path().join("podcast.yaml"), format!("\u{feff}{yaml}")).expect("write");
    podseed_ok(show.path(), &["publish", "--quiet"]);
    let good = snapshot(&show.public());
    let with_mark = format!(
        "\u{feff}{}",
        yaml.replace("language: en", "language: en\ncolour: blue")
    );
    std::fs::write(show.path().join("podcast.yaml"), with_mark).expect("write");
    assert_refused(
        &show,
        &["publish"],
        &["podcast.yaml:11:1: colour: unknown field"],
        &good,
    );
}

#[test]
fn a_config_that_is_not_utf8_is_a_bad_config_named_at_its_first_bad_byte() {
    let show = Show::example();
    podseed_ok(show.path(), &["publish", "--quiet"]);
    let good = snapshot(&show.public());
    let latin1 = show
        .yaml()
        .replace("title: The Seedbox Hour", "title: The Seedbox H\u{e9}ur")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
        .collect::<Vec<u8>>();
    std::fs::write(show.path().join("podcast.yaml"), latin1).expect("write");
    assert_refused(
        &show,
        &["publish"],
        &[
            "podcast.yaml:5:21: not UTF-8 text (byte 0xE9)",
            "save the file as UTF-8",
        ],
        &good,
    );
    let err = String::from_utf8_lossy(&show.podseed(&["publish"]).stderr).into_owned();
    assert!(!err.contains("podseed init"), "{err}");
}

/// A link in the episodes folder to a file outside the config's folder (a pull request can
/// add one) is not published, unless the podcaster allows sources outside explicitly.
#[test]
fn an_episode_linked_from_outside_the_config_folder_needs_explicit_permission() {
    let show = Show::example();
    podseed_ok(show.path(), &["publish", "--quiet"]);
    let good = snapshot(&show.public());
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.mp3");
    std::fs::copy(show.episodes().join("2026-01-15-welcome.mp3"), &secret).expect("copy");
    std::os::unix::fs::symlink(&secret, show.episodes().join("2026-03-01-linked.mp3"))
        .expect("symlink");
    assert_refused(
        &show,
        &["publish"],
        &[
            "2026-03-01-linked.mp3: links to",
            "outside the config's folder",
        ],
        &good,
    );
    show.edit_yaml("language: en", "language: en\nallow_sources_outside: true");
    let summary = show.publish();
    assert!(summary.info_hash("2026-03-01-linked.mp3") != [0; 20]);
}

/// An episode with no date anywhere gets the time of its first build, and the warning says
/// so; later builds keep that date and say where it came from.
#[test]
fn an_undated_episode_is_told_apart_on_its_first_and_later_builds() {
    let show = Show::example();
    show.add_synthetic_episode("undated.mp3", 100_000);
    let warning = |summary: &Summary| {
        summary["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .filter_map(|w| w.as_str())
            .find(|w| w.starts_with("undated.mp3:"))
            .expect("a warning for undated.mp3")
            .to_string()
    };
    let first = warning(&show.publish());
    assert!(first.contains("the time of this first build"), "{first}");
    assert!(!first.contains("earlier build"), "{first}");
    let second = warning(&show.publish());
    assert!(second.contains("from an earlier build"), "{second}");
}

/// Problems are listed in the order of the file, whatever order the checks ran in.
#[test]
fn config_problems_are_listed_in_line_order() {
    let show = Show::example();
    show.edit_yaml("episodes_dir: examples/episodes", "episodes_dir: nowhere");
    show.edit_yaml("date: 2026-02-10 18:00", "date: someday");
    let err = String::from_utf8_lossy(&show.podseed(&["publish"]).stderr).into_owned();
    let lines: Vec<usize> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("podcast.yaml:"))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    assert!(lines.contains(&30) && lines.contains(&51), "{err}");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{err}");
}

/// Hostile configs cost in proportion to what is read: deep nesting is refused by a scan
/// before the YAML parser (whose work grows with the square of the depth) sees it, a file
/// past the size cap is not read on, and thousands of bad entries list a bounded number.
#[test]
fn deeply_nested_configs_are_refused_before_parsing() {
    let show = Show::example();
    let deep = format!(
        "title: x\nlink: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(show.path().join("deep.yaml"), deep).expect("write");
    let out = show.podseed(&["publish", "-c", "deep.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("deep.yaml:2:71: nested deeper than 64 levels"),
        "{err}"
    );
}

#[test]
fn an_oversized_config_is_refused_unread() {
    let show = Show::example();
    let big = format!("title: x\n{}\n", "#".repeat(9 << 20));
    std::fs::write(show.path().join("big.yaml"), big).expect("write");
    let out = show.podseed(&["publish", "-c", "big.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("big.yaml: larger than 8 MiB"), "{err}");
}

#[test]
fn thousands_of_bad_entries_list_a_bounded_number_of_problems() {
    let show = Show::example();
    let mut yaml = show
        .yaml()
        .replace("episodes:\n", "episodes:\n  - file: a.mp3\n    bogus: 1\n");
    for i in 0..5000 {
        yaml.push_str(&format!("  - file: x{i}.mp3\n    bogus: {i}\n"));
    }
    std::fs::write(show.path().join("many.yaml"), yaml).expect("write");
    let out = show.podseed(&["publish", "-c", "many.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.lines().count() <= 110, "{} lines", err.lines().count());
    assert!(
        err.contains("more problems not listed; fix these first"),
        "{err}"
    );
    assert!(
        err.contains("more than 100 problems in the config:"),
        "{err}"
    );
}

/// An ID3v2.3 tag of `n` CHAP frames (element ids c0, c1, …, one second each).
fn chapter_tag(n: u32) -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..n {
        let mut body = format!("c{i}\0").into_bytes();
        for v in [i * 1000, i * 1000 + 1000, u32::MAX, u32::MAX] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        frames.extend_from_slice(b"CHAP");
        frames.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes());
        frames.extend_from_slice(&[0, 0]);
        frames.extend_from_slice(&body);
    }
    let size = u32::try_from(frames.len()).expect("small");
    let syncsafe = [
        (size >> 21) & 0x7f,
        (size >> 14) & 0x7f,
        (size >> 7) & 0x7f,
        size & 0x7f,
    ];
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend(syncsafe.iter().map(|&b| b as u8));
    tag.extend_from_slice(&frames);
    tag
}

/// Reading chapters costs in proportion to their number in the ID3 library, but not less:
/// a tag of thousands of CHAP frames (a few hundred KB) is refused before it is parsed.
#[test]
fn an_id3_tag_with_thousands_of_chapters_is_refused_unparsed() {
    let show = Show::example();
    podseed_ok(show.path(), &["publish", "--quiet"]);
    let good = snapshot(&show.public());
    show.add_synthetic_episode("2026-03-01-chapters.mp3", 50_000);
    let audio = std::fs::read(show.episodes().join("2026-03-01-chapters.mp3")).expect("read");
    let mut file = chapter_tag(16_000);
    file.extend_from_slice(&audio);
    std::fs::write(show.episodes().join("2026-03-01-chapters.mp3"), file).expect("write");
    assert_refused(
        &show,
        &["publish"],
        &[
            "2026-03-01-chapters.mp3: has 16000 ID3 chapter frames",
            "at most 1000",
        ],
        &good,
    );
    // A few hundred chapters are fine, and published.
    let mut file = chapter_tag(300);
    file.extend_from_slice(&audio);
    std::fs::write(show.episodes().join("2026-03-01-chapters.mp3"), file).expect("write");
    show.publish();
    let chapters = std::fs::read_to_string(show.public().join("chapters/2026-03-01-chapters.json"))
        .expect("chapters json");
    assert_eq!(chapters.matches("startTime").count(), 300);
}

/// The ID3 library allocates a frame's declared size before reading it: a frame that
/// claims 2.8 GB in a tag of a few bytes must cost nothing of the sort. Run with 1 GB of
/// address space (a small server), publish keeps the frames before the damaged one, names
/// the file, and publishes.
#[test]
fn an_id3_frame_claiming_gigabytes_costs_no_memory() {
    let show = Show::example();
    show.add_synthetic_episode("2026-03-01-hostile.mp3", 50_000);
    let audio = std::fs::read(show.episodes().join("2026-03-01-hostile.mp3")).expect("read");
    let mut frames = Vec::new();
    for (id, body, declared) in [
        (b"TIT2", &b"\x03Kept title"[..], None),
        (b"COMM", &[0xAA; 64][..], Some(0xAAAA_AAAAu32)),
    ] {
        frames.extend_from_slice(id);
        let size = declared.unwrap_or(u32::try_from(body.len()).expect("small"));
        frames.extend_from_slice(&size.to_be_bytes());
        frames.extend_from_slice(&[0, 0]);
        frames.extend_from_slice(body);
    }
    let size = u32::try_from(frames.len()).expect("small");
    let mut file = b"ID3\x03\x00\x00".to_vec();
    file.extend((0..4).rev().map(|i| ((size >> (7 * i)) & 0x7f) as u8));
    file.extend_from_slice(&frames);
    file.extend_from_slice(&audio);
    std::fs::write(show.episodes().join("2026-03-01-hostile.mp3"), file).expect("write");
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" publish"])
        .arg(env!("CARGO_BIN_EXE_podseed"))
        .current_dir(show.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run podseed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "publish failed: {err}");
    assert!(
        err.contains("2026-03-01-hostile.mp3") && err.contains("ID3"),
        "the damaged tag is named: {err}"
    );
    let feed = std::fs::read_to_string(show.public().join("feed.xml")).expect("feed");
    assert!(
        feed.contains("Kept title"),
        "the frames before the damage count"
    );
}

/// A file cut short keeps the Xing header that claims its whole length: the walk of its
/// frames tells, and the file is refused instead of published with a duration it does not
/// have. An MP3 inside a RIFF/WAV container is not an MP3 to podcast apps.
#[test]
fn a_truncated_mp3_is_refused_not_published_with_its_header_duration() {
    let show = Show::example();
    podseed_ok(show.path(), &["publish", "--quiet"]);
    let good = snapshot(&show.public());
    let whole = show.source("2026-02-01-swarm-basics.mp3");
    std::fs::write(
        show.episodes().join("2026-03-01-cut.mp3"),
        &whole[..whole.len() / 3],
    )
    .expect("write");
    assert_refused(
        &show,
        &["publish"],
        &["2026-03-01-cut.mp3: holds", "looks cut short"],
        &good,
    );
}

#[test]
fn an_mp3_in_a_wav_container_is_refused() {
    let show = Show::example();
    podseed_ok(show.path(), &["publish", "--quiet"]);
    let good = snapshot(&show.public());
    let mp3 = show.source("2026-01-15-welcome.mp3");
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&u32::try_from(mp3.len() + 36).expect("small").to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt \x10\x00\x00\x00\x55\x00\x02\x00\x44\xac\x00\x00\x00\x7d\x00\x00\x01\x00\x00\x00data");
    wav.extend_from_slice(&u32::try_from(mp3.len()).expect("small").to_le_bytes());
    wav.extend_from_slice(&mp3);
    std::fs::write(show.episodes().join("2026-03-01-wav.mp3"), wav).expect("write");
    assert_refused(
        &show,
        &["publish"],
        &["2026-03-01-wav.mp3: is a WAV (RIFF) file", "ffmpeg"],
        &good,
    );
}

/// The file name of synthetic episode `n`: a valid date in it, so every build agrees on it.
fn dated_episode(n: u64) -> String {
    format!("2026-{:02}-{:02}-ep.mp3", 3 + (n / 28) % 9, 1 + n % 28)
}

#[test]
fn a_publish_killed_at_any_moment_leaves_the_old_site_or_the_new_one() {
    const ROUNDS: u64 = 50;
    const SIZE: usize = 400_000;
    const URLS: [&str; 2] = [
        "https://podcast.example.com/seedbox/",
        "https://mirror.example.net/show/",
    ];
    let show = Show::example();
    let mut live: std::collections::VecDeque<u64> = (0..8).collect();
    for &n in &live {
        show.write_synthetic_episode(&dated_episode(n), SIZE, n);
    }
    let started = std::time::Instant::now();
    show.publish();
    let mut build_time = started.elapsed();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut killed_mid_build = 0;
    for round in 0..ROUNDS {
        let old = snapshot(&show.public());
        // Between builds a podcaster rewrites an episode, adds one, drops the oldest, and
        // here also moves the show, so that every torrent and feed changes too.
        let rewritten = live[rng.usize(1..live.len())];
        show.write_synthetic_episode(&dated_episode(rewritten), SIZE, 1000 + round);
        let added = live.back().map_or(0, |n| n + 1);
        show.write_synthetic_episode(&dated_episode(added), SIZE, added);
        live.push_back(added);
        if let Some(gone) = live.pop_front() {
            std::fs::remove_file(show.episodes().join(dated_episode(gone))).expect("rm");
        }
        let from = usize::from(round % 2 == 1);
        show.edit_yaml(URLS[from], URLS[1 - from]);

        let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
            .args(["publish", "--quiet"])
            .current_dir(show.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn publish");
        let wait = build_time.mul_f64(rng.f64() * 1.1);
        std::thread::sleep(wait);
        if child.try_wait().expect("try_wait").is_none() {
            killed_mid_build += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let after_kill = snapshot(&show.public());

        let started = std::time::Instant::now();
        show.publish();
        build_time = started.elapsed();
        let new = snapshot(&show.public());
        if after_kill != old && after_kill != new {
            let differ = |a: &std::collections::BTreeMap<String, Vec<u8>>| {
                let mut keys: Vec<&String> = a.keys().chain(after_kill.keys()).collect();
                keys.sort();
                keys.dedup();
                keys.into_iter()
                    .filter(|k| a.get(*k) != after_kill.get(*k))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            panic!(
                "round {round}: a publish killed after {wait:?} left a mix of two builds\n\
                 differs from the old build in {:?}\n differs from the new build in {:?}",
                differ(&old),
                differ(&new)
            );
        }
    }
    // The last complete build left nothing staged.
    let mut staged: Vec<String> = std::fs::read_dir(show.path().join(".public.podseed"))
        .expect("staging folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    staged.sort();
    assert_eq!(staged, [".gitignore", "last-build.json", "lock"]);
    // Without kills that land inside a build the test proves nothing.
    eprintln!("{killed_mid_build} of {ROUNDS} kills landed inside a build");
    assert!(
        killed_mid_build >= ROUNDS / 5,
        "only {killed_mid_build} of {ROUNDS} kills landed inside a build"
    );
}

#[test]
fn git_vouches_only_for_committed_content_an_uncommitted_edit_is_hashed() {
    require!(Tool::Git);
    let show = Show::example();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=P", "-c", "user.email=p@example.com"])
            .args(args)
            .current_dir(show.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("git");
        assert!(ok.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "show"]);
    show.publish();
    // Same size, other bytes, a new mtime, not committed: git must not vouch for it.
    let ep = show.episodes().join(WELCOME);
    let mut bytes = std::fs::read(&ep).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&ep, &bytes).expect("write");
    let s = show.publish();
    assert_eq!(s.episode(WELCOME)["status"], "changed");
    assert_eq!(s["bytes_hashed"], bytes.len());
    // Committed, then published (which records what git knows of it), then touched: git
    // vouches for the content and nothing is read.
    git(&["commit", "-qam", "edit"]);
    assert_eq!(show.publish()["bytes_hashed"], 0);
    std::fs::File::options()
        .write(true)
        .open(&ep)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .expect("touch");
    let s = show.publish();
    assert_eq!(s["bytes_hashed"], 0);
    assert_eq!(s.episode(WELCOME)["status"], "unchanged");
}

/// Without WebTorrent installed the page has no player script (its players play plain
/// HTTP) and publish says how to install it, in one line.
#[test]
fn without_webtorrent_the_page_plays_plain_http_and_publish_says_how_to_install_it() {
    let show = Show::example();
    let summary = show.publish();
    let hint = summary["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.contains("WebTorrent is not installed"))
        .expect("a hint")
        .to_string();
    assert!(hint.contains("npm ci") && !hint.contains('\n'), "{hint}");
    let page = std::fs::read_to_string(show.public().join("index.html")).expect("page");
    assert!(!page.contains("player.js"), "no player script");
    for f in ["player.js", "webtorrent.min.js", "sw.min.js"] {
        assert!(!show.public().join(f).exists(), "{f} is not written");
    }
}

/// With WebTorrent installed (here, the repository's `npm ci`), publish copies its pinned
/// files and our player beside the page, and the page loads the player; with
/// `page.browser_player: false` the next build has neither.
#[test]
fn publish_copies_the_pinned_webtorrent_and_our_player_beside_the_page() {
    require!(Tool::NpmPackages);
    let show = Show::example();
    let dist = repo().join("node_modules/webtorrent/dist");
    let yaml = show.yaml();
    show.write_yaml(&format!(
        "{yaml}page:\n  browser_player: true\n  webtorrent_dir: {}\n",
        dist.display()
    ));
    let summary = show.publish();
    assert!(
        !summary["warnings"].to_string().contains("WebTorrent"),
        "{summary:?}"
    );
    for f in ["webtorrent.min.js", "sw.min.js"] {
        assert_eq!(
            std::fs::read(show.public().join(f)).expect(f),
            std::fs::read(dist.join(f)).expect(f),
            "{f} is the installed file"
        );
    }
    let player = std::fs::read_to_string(show.public().join("player.js")).expect("player");
    assert!(player.contains("createServer"), "our player");
    let page = std::fs::read_to_string(show.public().join("index.html")).expect("page");
    assert!(
        page.contains(r#"<script type="module" src="player.js" data-podseed-player"#),
        "the page loads the player"
    );
    assert!(page.contains("data-torrent=\"torrents/2026-01-15-welcome.torrent\""));

    show.edit_yaml("browser_player: true", "browser_player: false");
    show.publish();
    let page = std::fs::read_to_string(show.public().join("index.html")).expect("page");
    assert!(!page.contains("player.js"), "no player script");
    for f in ["player.js", "webtorrent.min.js", "sw.min.js"] {
        assert!(!show.public().join(f).exists(), "{f} is gone");
    }
}

/// An installed WebTorrent file that is not the pinned release is refused: exit 2, naming
/// the file and what to do; nothing is written.
#[test]
fn a_webtorrent_file_that_is_not_the_pinned_release_is_refused() {
    let show = Show::example();
    let dist = show.path().join("node_modules/webtorrent/dist");
    std::fs::create_dir_all(&dist).expect("mkdir");
    std::fs::write(dist.join("webtorrent.min.js"), "export default null\n").expect("write");
    std::fs::write(dist.join("sw.min.js"), "\n").expect("write");
    let out = show.podseed(&["publish"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("webtorrent.min.js"), "{err}");
    assert!(err.contains("npm ci"), "{err}");
    assert!(
        !show.public().join("index.html").exists(),
        "nothing is written"
    );
}

#[test]
fn social_tags_are_absolute_and_the_rss_button_leads_to_the_subscribe_page() {
    let d = Show::example();
    d.publish();
    let html = std::fs::read_to_string(d.public().join("index.html")).expect("page");
    let base = "https://podcast.example.com/seedbox/";
    for tag in [
        format!(r#"<meta property="og:url" content="{base}">"#),
        format!(r#"<meta property="og:image" content="{base}cover.png">"#),
        format!(r#"<meta name="twitter:image" content="{base}cover.png">"#),
        r#"<a class="button primary" href="subscribe.html">"#.to_string(),
        // The feed stays where apps find it.
        format!(
            r#"type="application/rss+xml" title="The Seedbox Hour (podcast feed)" href="{base}feed.xml""#
        ),
    ] {
        assert!(html.contains(&tag), "{tag} missing from the page");
    }
    let sub = std::fs::read_to_string(d.public().join("subscribe.html")).expect("subscribe");
    for link in [
        format!(r#"value="{base}feed.xml""#),
        r#"href="podcast://podcast.example.com/seedbox/feed.xml""#.to_string(),
        r#"href="overcast://x-callback-url/add?url=podcast.example.com/seedbox/feed.xml""#
            .to_string(),
        format!(r#"href="pktc://subscribe/{base}feed.xml""#),
    ] {
        assert!(sub.contains(&link), "{link} missing from subscribe.html");
    }
    assert!(!sub.contains("<script src"), "no third-party script");
}

#[test]
fn without_a_cover_the_header_has_one_column_and_no_image_tags() {
    let d = Show::example().with_yaml("image: examples/cover.png\n", "");
    d.publish();
    let html = std::fs::read_to_string(d.public().join("index.html")).expect("page");
    assert!(html.contains(r#"<header class="show">"#), "{html}");
    assert!(!html.contains("og:image"));
    assert!(!d.public().join("cover.png").exists());
}

#[test]
fn the_feed_names_its_stylesheet_and_still_parses_as_rss() {
    let d = Show::example();
    d.publish();
    let xml = std::fs::read_to_string(d.public().join("feed.xml")).expect("feed");
    assert!(xml.starts_with(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<?xml-stylesheet type=\"text/xsl\" href=\"feed.xsl\"?>\n<rss "
    )));
    let xsl = std::fs::read_to_string(d.public().join("feed.xsl")).expect("feed.xsl");
    assert!(xsl.contains("<xsl:stylesheet"));
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("feed.xml parses as RSS");
    assert_eq!(channel.items().len(), 4);
    let torrents = std::fs::read_to_string(d.public().join("torrents.xml")).expect("torrents");
    assert!(!torrents.contains("xml-stylesheet"));
}

#[test]
fn every_episode_has_a_page_linked_from_the_feed_with_chapters_and_transcript() {
    let d = Show::example();
    d.publish();
    let xml = std::fs::read_to_string(d.public().join("feed.xml")).expect("feed");
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("parses");
    let base = "https://podcast.example.com/seedbox/";
    let index = std::fs::read_to_string(d.public().join("index.html")).expect("page");
    for item in channel.items() {
        let link = item.link().expect("link");
        let rel = link.strip_prefix(base).expect("on the site");
        assert!(rel.starts_with("e/") && rel.ends_with(".html"), "{link}");
        let page = std::fs::read_to_string(d.public().join(rel)).expect("episode page");
        assert!(page.contains(&format!(r#"<link rel="canonical" href="{link}">"#)));
        assert!(page.contains(r#"<meta property="og:audio" content="https://"#));
        assert!(
            index.contains(&format!(r#"href="{rel}""#)),
            "{rel} not linked"
        );
    }
    let swarm =
        std::fs::read_to_string(d.public().join("e/2026-02-01-swarm-basics.html")).expect("page");
    assert!(swarm.contains("<span>Pieces and hashes</span>"), "{swarm}");
    let welcome =
        std::fs::read_to_string(d.public().join("e/2026-01-15-welcome.html")).expect("page");
    assert!(welcome.contains("a tiny example podcast."), "{welcome}");
    assert!(
        welcome.contains(r#"<time datetime="PT5S">0:05</time>"#),
        "{welcome}"
    );
}

#[test]
fn the_new_pages_are_outputs_of_the_build_so_stale_ones_are_removed() {
    let d = Show::example();
    d.publish();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.public().join(".podseed/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let outputs = manifest["outputs"].to_string();
    for rel in [
        "subscribe.html",
        "feed.xsl",
        "e/bonus-behind-the-scenes.html",
    ] {
        assert!(
            outputs.contains(&format!("\"{rel}\"")),
            "{rel} not in {outputs}"
        );
    }
}

/// An episode's extracted artwork is kept by what it was made from (the picture's SHA-256,
/// recorded with the file's size), not read again; a published copy that was damaged (its
/// size changed) is extracted again.
#[test]
fn extracted_artwork_is_kept_and_a_damaged_copy_replaced() {
    let show = Show::example();
    show.publish();
    let image = show.public().join("images/2026-01-15-welcome.jpg");
    let good = std::fs::read(&image).expect("extracted artwork");
    let manifest =
        std::fs::read_to_string(show.public().join(".podseed/manifest.json")).expect("manifest");
    assert!(
        manifest.contains("\"images/2026-01-15-welcome.jpg\""),
        "the extraction is recorded: {manifest}"
    );
    std::fs::write(&image, b"not a picture").expect("damage");
    show.publish();
    assert_eq!(std::fs::read(&image).expect("artwork"), good);
}
