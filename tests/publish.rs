//! Black-box tests of `podseed publish` and `podseed init`: they run the real binary on a
//! copy of the shipped example and read what it wrote.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;
use lava_torrent::torrent::v1::Torrent;
use serde_json::Value;

fn publish_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["publish", "--json"];
    args.extend_from_slice(extra);
    let out = podseed_ok(dir, &args);
    serde_json::from_str(&out).expect("--json prints JSON")
}

fn episodes_by_file(summary: &Value) -> BTreeMap<String, Value> {
    summary["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .map(|e| (e["file"].as_str().expect("file").to_string(), e.clone()))
        .collect()
}

#[test]
fn example_publishes_a_complete_site() {
    let d = example_copy();
    let summary = publish_json(d.path(), &[]);
    let public = d.path().join("public");
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
    ] {
        assert!(public.join(f).is_file(), "missing {f}");
    }
    assert_eq!(summary["new"], 3);
    assert_eq!(summary["episodes"].as_array().map(Vec::len), Some(3));
    // Media are the source bytes (hard link or copy).
    assert_eq!(
        std::fs::read(public.join("episodes/2026-01-15-welcome.mp3")).expect("read"),
        std::fs::read(d.path().join("examples/episodes/2026-01-15-welcome.mp3")).expect("read")
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
fn feed_is_rss_with_enclosures_durations_and_every_namespace_tag() {
    let d = example_copy();
    let summary = publish_json(d.path(), &[]);
    let public = d.path().join("public");
    let xml = std::fs::read_to_string(public.join("feed.xml")).expect("feed");
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("feed.xml parses as RSS");
    assert_eq!(channel.title(), "The Seedbox Hour");
    assert_eq!(channel.items().len(), 3);
    let by_file = episodes_by_file(&summary);
    let mut guids = std::collections::BTreeSet::new();
    for item in channel.items() {
        let enc = item.enclosure().expect("enclosure");
        assert_eq!(enc.mime_type(), "audio/mpeg");
        let file = enc.url().rsplit('/').next().expect("name");
        assert_eq!(
            enc.url(),
            format!("https://podcast.example.com/seedbox/episodes/{file}")
        );
        let src = d.path().join("examples/episodes").join(file);
        let size = std::fs::metadata(&src).expect("meta").len();
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
    // The SRI value is the file's real SHA-256.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(public.join(".podseed/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let sha_hex = manifest["episodes"]["2026-01-15-welcome.mp3"]["sha256"]
        .as_str()
        .expect("sha");
    let out = Command::new("sha256sum")
        .arg(d.path().join("examples/episodes/2026-01-15-welcome.mp3"))
        .output()
        .expect("sha256sum");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(sha_hex));
    // Chapters from the ID3 CHAP frames.
    let chapters: Value = serde_json::from_slice(
        &std::fs::read(public.join("chapters/2026-02-01-swarm-basics.json")).expect("chapters"),
    )
    .expect("json");
    assert!(chapters["chapters"].as_array().expect("list").len() >= 2);
}

#[test]
fn torrent_feed_follows_bep36() {
    let d = example_copy();
    let summary = publish_json(d.path(), &[]);
    let public = d.path().join("public");
    let xml = std::fs::read_to_string(public.join("torrents.xml")).expect("torrents.xml");
    assert!(xml.contains("xmlns:torrent=\"http://xmlns.ezrss.it/0.1/\""));
    assert!(xml.contains("<ttl>"));
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("parses as RSS");
    let by_file = episodes_by_file(&summary);
    assert_eq!(channel.items().len(), 3);
    for item in channel.items() {
        let enc = item.enclosure().expect("enclosure");
        assert_eq!(enc.mime_type(), "application/x-bittorrent");
        let name = enc.url().rsplit('/').next().expect("name");
        let torrent = public.join("torrents").join(name);
        let tsize = std::fs::metadata(&torrent).expect("torrent").len();
        assert_eq!(enc.length(), tsize.to_string());
        let file = name.replace(".torrent", ".mp3");
        let hash = by_file[&file]["info_hash"].as_str().expect("hash");
        assert_eq!(item.guid().expect("guid").value(), hash);
        assert!(item
            .link()
            .expect("link")
            .starts_with("magnet:?xt=urn:btih:"));
        let ext = &item.extensions()["torrent"];
        assert_eq!(ext["infoHash"][0].value(), Some(hash));
        assert_eq!(ext["fileName"][0].value(), Some(file.as_str()));
        let size = std::fs::metadata(d.path().join("examples/episodes").join(&file))
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
    let d = example_copy();
    let summary = publish_json(d.path(), &[]);
    let public = d.path().join("public");
    for e in summary["episodes"].as_array().expect("eps") {
        let file = e["file"].as_str().expect("file");
        let stem = file.trim_end_matches(".mp3");
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
    if !have_tool("mktorrent", "info_hashes_match_mktorrent") {
        return;
    }
    let d = example_copy();
    // Debian's mktorrent takes 32 KiB pieces at the least; this also tests the override.
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    std::fs::write(
        d.path().join("podcast.yaml"),
        yaml.replace("piece_length: auto", "piece_length: 32768"),
    )
    .expect("write");
    let summary = publish_json(d.path(), &[]);
    let public = d.path().join("public");
    for e in summary["episodes"].as_array().expect("eps") {
        let file = e["file"].as_str().expect("file");
        let ours = Torrent::read_from_file(public.join(format!(
            "torrents/{}.torrent",
            file.trim_end_matches(".mp3")
        )))
        .expect("ours");
        assert_eq!(ours.piece_length, 32768);
        let log2 = ours.piece_length.trailing_zeros().to_string();
        let theirs = d.path().join(format!("{file}.mktorrent"));
        let out = Command::new("mktorrent")
            .args(["-l", &log2, "-a", "http://127.0.0.1:1/announce", "-o"])
            .arg(&theirs)
            .arg(d.path().join("examples/episodes").join(file))
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
    if !have_tool("ffprobe", "durations_match_the_decoded_length") {
        return;
    }
    // The example (CBR without header, VBR with Xing, MPEG-2 VBR) plus fixtures for VBR
    // without a header and MPEG-2.5.
    let d = example_copy();
    for f in ["vbr-noheader-mpeg2.mp3", "cbr-mpeg25.mp3"] {
        std::fs::copy(
            repo().join("tests/fixtures").join(f),
            d.path().join("examples/episodes").join(f),
        )
        .expect("copy fixture");
    }
    let summary = publish_json(d.path(), &[]);
    let eps = summary["episodes"].as_array().expect("eps");
    assert_eq!(eps.len(), 5);
    for e in eps {
        let file = e["file"].as_str().expect("file");
        let ours = e["duration_secs"].as_f64().expect("duration");
        let decoded = ffprobe_decoded_secs(&d.path().join("examples/episodes").join(file));
        assert!(
            (ours - decoded).abs() <= 0.5,
            "{file}: ours {ours} s, decoded {decoded} s"
        );
    }
}

#[test]
fn rebuilds_are_byte_identical_and_write_nothing() {
    let a = example_copy();
    let b = example_copy();
    podseed_ok(a.path(), &["publish", "--quiet"]);
    podseed_ok(b.path(), &["publish", "--quiet"]);
    let mut sa = snapshot(&a.path().join("public"));
    let mut sb = snapshot(&b.path().join("public"));
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
    let before = snapshot(&a.path().join("public"));
    let again = publish_json(a.path(), &[]);
    assert_eq!(again["written_files"], 0);
    assert_eq!(again["bytes_hashed"], 0);
    assert_eq!(again["unchanged"], 3);
    assert!(
        snapshot(&a.path().join("public")) == before,
        "a no-op rebuild changed files"
    );
}

#[test]
fn unchanged_files_are_not_read_again_and_force_rereads() {
    let d = example_copy();
    let first = publish_json(d.path(), &[]);
    let ep = d.path().join("examples/episodes/2026-01-15-welcome.mp3");
    let meta = std::fs::metadata(&ep).expect("meta");
    let mtime = meta.modified().expect("mtime");
    // Same size and mtime, other bytes: only a build that reads the file can notice.
    std::fs::write(&ep, vec![0u8; meta.len() as usize]).expect("overwrite");
    std::fs::File::options()
        .write(true)
        .open(&ep)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    let second = publish_json(d.path(), &[]);
    assert_eq!(second["bytes_hashed"], 0);
    assert_eq!(
        episodes_by_file(&first)["2026-01-15-welcome.mp3"]["info_hash"],
        episodes_by_file(&second)["2026-01-15-welcome.mp3"]["info_hash"]
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
    let d = example_copy();
    publish_json(d.path(), &[]);
    std::fs::copy(
        repo().join("tests/fixtures/cbr-mpeg25.mp3"),
        d.path().join("examples/episodes/2026-03-01-new.mp3"),
    )
    .expect("copy");
    let s = publish_json(d.path(), &[]);
    let size = std::fs::metadata(repo().join("tests/fixtures/cbr-mpeg25.mp3"))
        .expect("meta")
        .len();
    assert_eq!(s["new"], 1);
    assert_eq!(s["unchanged"], 3);
    assert_eq!(s["bytes_hashed"], size);
    assert_eq!(episodes_by_file(&s)["2026-03-01-new.mp3"]["status"], "new");
}

#[test]
fn removed_episodes_disappear_from_the_output() {
    let d = example_copy();
    publish_json(d.path(), &[]);
    let public = d.path().join("public");
    assert!(public.join("transcripts/2026-01-15-welcome.vtt").is_file());
    remove_episode(d.path(), "2026-01-15-welcome.mp3");
    let s = publish_json(d.path(), &[]);
    assert_eq!(s["episodes"].as_array().map(Vec::len), Some(2));
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
    let d = example_copy();
    // Without a pinned podcast:guid, so that it follows base_url; item guids must not.
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let yaml = yaml.replace("guid: 5b4ad1e3-8b2e-5d6e-9f1f-0c2b6c1f3a10\n", "");
    std::fs::write(d.path().join("podcast.yaml"), &yaml).expect("write");
    let first = publish_json(d.path(), &[]);
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
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    let second = publish_json(d.path(), &[]);
    let (a, b) = (episodes_by_file(&first), episodes_by_file(&second));
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

/// Each bad input: exit 2, a message naming the place, and the earlier output untouched.
#[test]
fn bad_inputs_exit_2_name_the_place_and_keep_the_previous_output() {
    let d = example_copy();
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let public = d.path().join("public");
    let good = snapshot(&public);
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let eps = d.path().join("examples/episodes");

    type Setup = Box<dyn Fn()>;
    let write_yaml = |text: String| {
        let p = d.path().join("podcast.yaml");
        move || std::fs::write(&p, &text).expect("write yaml")
    };
    let cases: Vec<(&str, Setup, Vec<&str>)> = vec![
        (
            "broken YAML",
            Box::new(write_yaml(
                yaml.replace("title: The Seedbox Hour", "title: [oops"),
            )),
            vec!["podcast.yaml:", "not valid YAML"],
        ),
        (
            "unknown field",
            Box::new(write_yaml(
                yaml.replace("language: en", "language: en\ncolour: blue"),
            )),
            vec!["podcast.yaml:11:1: colour: unknown field"],
        ),
        (
            "wrong type",
            Box::new(write_yaml(
                yaml.replace("explicit: false", "explicit: sometimes"),
            )),
            vec!["explicit: expected true or false"],
        ),
        (
            "bad URL",
            Box::new(write_yaml(yaml.replace(
                "base_url: https://podcast.example.com/seedbox/",
                "base_url: podcast.example.com",
            ))),
            vec!["podcast.yaml:9:11: base_url:"],
        ),
        (
            "bad date",
            Box::new(write_yaml(
                yaml.replace("date: 2026-02-10 18:00", "date: next tuesday"),
            )),
            vec!["episodes[2].date: \"next tuesday\" is not a date"],
        ),
        (
            "unknown category",
            Box::new(write_yaml(yaml.replace("  - Technology", "  - Tech"))),
            vec!["categories[0]: unknown Apple category \"Tech\""],
        ),
        (
            "missing listed file",
            Box::new(write_yaml(yaml.replace(
                "file: bonus-behind-the-scenes.mp3",
                "file: bonus-gone.mp3",
            ))),
            vec!["episodes[2].file:", "bonus-gone.mp3 does not exist"],
        ),
        (
            "duplicate guid",
            Box::new(write_yaml(
                yaml.replace(
                    "    season: 1\n    episode: 1",
                    "    guid: same\n    season: 1\n    episode: 1",
                )
                .replace(
                    "    season: 1\n    episode: 2",
                    "    guid: same\n    season: 1\n    episode: 2",
                ),
            )),
            vec!["episodes[1].guid: guid \"same\" is already used by episodes[0]"],
        ),
        (
            "all config errors at once",
            Box::new(write_yaml(
                yaml.replace("explicit: false", "explicit: sometimes")
                    .replace("  - Technology", "  - Tech"),
            )),
            vec!["2 problems", "explicit:", "categories[0]:"],
        ),
    ];
    for (name, setup, needles) in cases {
        setup();
        let out = podseed(d.path(), &["publish"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        for n in needles {
            assert!(err.contains(n), "{name}: stderr lacks {n:?}:\n{err}");
        }
        assert!(
            snapshot(&public) == good,
            "{name}: the previous output changed"
        );
        std::fs::write(d.path().join("podcast.yaml"), &yaml).expect("restore");
    }

    // Bad media: not MP3, empty, and two at once (both reported).
    let not_audio = repo().join("tests/fixtures/not-audio.mp3");
    std::fs::copy(&not_audio, eps.join("zz-notes.mp3")).expect("copy");
    std::fs::write(eps.join("zz-empty.mp3"), b"").expect("empty");
    let out = podseed(d.path(), &["publish"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("zz-notes.mp3: is not MPEG audio"), "{err}");
    assert!(err.contains("zz-empty.mp3: is empty"), "{err}");
    assert!(
        snapshot(&public) == good,
        "bad media changed the previous output"
    );

    // A missing config names the file and what to do.
    let out = podseed(d.path(), &["publish", "-c", "nope.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nope.yaml") && err.contains("podseed init"),
        "{err}"
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
    let s = publish_json(d.path(), &[]);
    assert_eq!(s["episodes"].as_array().map(Vec::len), Some(1));
    assert!(d.path().join("public/feed.xml").is_file());
    // init DIR works too.
    podseed_ok(d.path(), &["init", "other"]);
    assert!(d.path().join("other/podcast.yaml").is_file());
}

#[test]
fn episodes_that_would_share_output_names_are_refused() {
    let d = example_copy();
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let good = snapshot(&d.path().join("public"));
    let eps = d.path().join("examples/episodes");
    std::fs::copy(
        eps.join("2026-01-15-welcome.mp3"),
        eps.join("2026-01-15-welcome.MP3"),
    )
    .expect("copy");
    let out = podseed(d.path(), &["publish"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("2026-01-15-welcome"), "{err}");
    assert!(err.contains("rename one of them"), "{err}");
    assert!(snapshot(&d.path().join("public")) == good);
}

#[cfg(unix)]
#[test]
fn symlinked_episodes_are_published_as_real_files() {
    let d = example_copy();
    let eps = d.path().join("examples/episodes");
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
    assert_eq!(publish_json(d.path(), &[])["written_files"], 0);
}

#[test]
fn tag_text_is_escaped_and_controls_never_break_the_feed() {
    if !have_tool(
        "lame",
        "tag_text_is_escaped_and_controls_never_break_the_feed",
    ) {
        return;
    }
    let d = example_copy();
    let eps = d.path().join("examples/episodes");
    // Re-tag a fixture: a comment with markup characters and a title with a control character.
    let out = Command::new("lame")
        .args(["--quiet", "--decode"])
        .arg(repo().join("tests/fixtures/cbr-mpeg25.mp3"))
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
    let d = example_copy();
    // An untagged file without a date in its name: the config is its only date source.
    std::fs::copy(
        repo().join("tests/fixtures/cbr-mpeg25.mp3"),
        d.path().join("examples/episodes/extra.mp3"),
    )
    .expect("copy");
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let dated = format!("{yaml}  - file: extra.mp3\n    date: 2025-05-05\n");
    std::fs::write(d.path().join("podcast.yaml"), &dated).expect("write");
    let first = publish_json(d.path(), &[]);
    assert_eq!(
        episodes_by_file(&first)["extra.mp3"]["pub_date"],
        "2025-05-05T00:00:00+00:00"
    );
    std::fs::write(
        d.path().join("podcast.yaml"),
        dated.replace("    date: 2025-05-05\n", ""),
    )
    .expect("write");
    let out = podseed(d.path(), &["publish", "--json"]);
    assert!(out.status.success());
    let second: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        episodes_by_file(&second)["extra.mp3"]["pub_date"],
        "2025-05-05T00:00:00+00:00"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("extra.mp3") && err.contains("no date"),
        "{err}"
    );
}
