//! A warm build with nothing changed compares the last build's record with its inputs and
//! outputs, writes nothing and says what that build said; any change to what a build reads
//! or wrote makes it a full build again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{snapshot, Show, Summary};
use serde_json::Value;

/// Every file of the output with its mtime and inode: a build that writes nothing keeps all.
fn identities(dir: &Path) -> Vec<(String, SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().expect("meta");
            (
                e.path().display().to_string(),
                m.modified().expect("mtime"),
                m.ino(),
            )
        })
        .collect()
}

/// The summary without what differs between two builds of the same show by design.
fn said(s: &Summary) -> Value {
    let mut v = s.0.clone();
    for k in [
        "elapsed",
        "up_to_date",
        "new",
        "changed",
        "unchanged",
        "written_files",
        "bytes_hashed",
    ] {
        v.as_object_mut().expect("object").remove(k);
    }
    for e in v["episodes"].as_array_mut().expect("episodes") {
        e["status"] = "unchanged".into();
    }
    v
}

/// Publishes and says whether the build only compared.
fn up_to_date(show: &Show) -> bool {
    show.publish()["up_to_date"]
        .as_bool()
        .expect("up_to_date is in the summary")
}

#[test]
fn a_build_with_nothing_changed_writes_nothing_and_says_what_the_last_one_said() {
    let show = Show::example();
    let first = show.publish();
    assert_eq!(first["up_to_date"], false, "a first build is a full one");
    // A full build where nothing changed, and then one that only compares.
    let full = show.publish_with(&["--force"]);
    assert_eq!(full["up_to_date"], false, "--force always builds");
    let before = (snapshot(&show.public()), identities(&show.public()));
    let quick = show.publish();
    assert_eq!(quick["up_to_date"], true, "{}", quick.0);
    assert_eq!(quick["written_files"], 0);
    assert_eq!(quick["bytes_hashed"], 0);
    assert_eq!(quick["unchanged"], 4);
    assert_eq!(said(&quick), said(&full));
    assert!(
        !full["warnings"].as_array().expect("warnings").is_empty(),
        "the example has findings, which the quick build repeats"
    );
    assert_eq!(
        (snapshot(&show.public()), identities(&show.public())),
        before,
        "nothing in the output was touched"
    );

    // The text output says so too.
    let out = show.podseed(&["publish"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("nothing changed since the last build"),
        "{text}"
    );
    assert!(text.contains("4 episodes"), "{text}");
}

/// A change made between two builds.
type Change<'a> = Box<dyn Fn() + 'a>;

#[test]
fn any_change_to_an_input_or_an_output_makes_a_full_build() {
    let show = Show::example();
    show.publish();
    assert!(up_to_date(&show));
    let public = show.public();
    let episodes = show.episodes();
    let changes: Vec<(&str, Change<'_>)> = vec![
        (
            "the config",
            Box::new(|| show.edit_yaml("title: The Seedbox Hour", "title: Renamed Seedbox Hour")),
        ),
        (
            "a notes sidecar",
            Box::new(|| {
                let notes = episodes.join("2026-02-01-swarm-basics.md");
                let mut text = std::fs::read_to_string(&notes).expect("notes");
                text.push_str("\nOne more line.\n");
                std::fs::write(&notes, text).expect("write");
            }),
        ),
        (
            "a new episode",
            Box::new(|| show.add_copy_of_welcome("2026-04-01-again.mp3")),
        ),
        (
            "a removed episode",
            Box::new(|| std::fs::remove_file(episodes.join("2026-04-01-again.mp3")).expect("rm")),
        ),
        (
            "an episode replaced by a copy with the same size and mtime",
            Box::new(|| {
                let f = episodes.join("2026-01-15-welcome.mp3");
                let mtime = std::fs::metadata(&f)
                    .and_then(|m| m.modified())
                    .expect("mtime");
                let copy = episodes.join("copy.tmp");
                std::fs::copy(&f, &copy).expect("copy");
                std::fs::File::options()
                    .write(true)
                    .open(&copy)
                    .and_then(|c| c.set_modified(mtime))
                    .expect("mtime");
                std::fs::rename(&copy, &f).expect("rename");
            }),
        ),
        (
            "the cover image",
            Box::new(|| {
                let cover = show.path().join("examples/cover.png");
                let bytes = std::fs::read(&cover).expect("cover");
                std::fs::write(&cover, &bytes).expect("rewrite");
                let later = SystemTime::now() + Duration::from_secs(5);
                std::fs::File::options()
                    .write(true)
                    .open(&cover)
                    .and_then(|c| c.set_modified(later))
                    .expect("mtime");
            }),
        ),
        (
            "a deleted output file",
            Box::new(|| std::fs::remove_file(public.join("feed.xml")).expect("rm")),
        ),
        (
            "an output file edited in place",
            Box::new(|| {
                let page = public.join("index.html");
                let mut text = std::fs::read_to_string(&page).expect("page");
                text.push_str("<!-- edited -->");
                std::fs::write(&page, text).expect("write");
            }),
        ),
        (
            "a deleted manifest",
            Box::new(|| std::fs::remove_file(public.join(".podseed/manifest.json")).expect("rm")),
        ),
        (
            "the whole output deleted",
            Box::new(|| std::fs::remove_dir_all(&public).expect("rm")),
        ),
    ];
    for (what, change) in changes {
        change();
        assert!(!up_to_date(&show), "{what}: a full build");
        let full = snapshot(&public);
        assert!(up_to_date(&show), "{what}: and then nothing changed");
        assert_eq!(snapshot(&public), full, "{what}");
    }
    // What the full builds made of those changes.
    let feed = std::fs::read_to_string(public.join("feed.xml")).expect("feed");
    assert!(
        feed.contains("Renamed Seedbox Hour"),
        "the new title is in the feed"
    );
    let page =
        std::fs::read_to_string(public.join("e/2026-02-01-swarm-basics.html")).expect("page");
    assert!(
        page.contains("One more line."),
        "the notes changed the page"
    );
    assert!(!std::fs::read_to_string(public.join("index.html"))
        .expect("page")
        .contains("<!-- edited -->"));
    assert!(!public.join("episodes/2026-04-01-again.mp3").exists());
}

#[test]
fn a_failed_build_leaves_no_record_to_take_its_place() {
    let show = Show::example();
    show.publish();
    assert!(up_to_date(&show));
    let record = show.path().join(".public.podseed/last-build.json");
    assert!(record.is_file());
    // Not an MP3: the build stops before writing, and forgets the record.
    std::fs::write(show.episodes().join("2026-05-01-broken.mp3"), b"not audio").expect("write");
    let out = show.podseed(&["publish", "--json"]);
    assert_eq!(out.status.code(), Some(2), "a media error");
    assert!(!record.exists(), "no record of a build that did not happen");
    std::fs::remove_file(show.episodes().join("2026-05-01-broken.mp3")).expect("rm");
    assert!(!up_to_date(&show), "the next build is a full one");
    assert!(up_to_date(&show));
}
