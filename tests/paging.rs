//! A long show: the page lists the newest `page.episodes_per_page` episodes and archive
//! pages the rest, each linked; the feeds list every episode unless `feed.limit` says fewer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fixture, podseed_ok};

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn the_page_is_split_into_archive_pages_and_the_feed_can_be_limited() {
    let d = tempfile::tempdir().expect("tmp");
    let episodes = d.path().join("episodes");
    std::fs::create_dir_all(&episodes).expect("mkdir");
    for day in 1..=5 {
        std::fs::copy(
            fixture("cbr-mpeg25.mp3"),
            episodes.join(format!("2026-01-0{day}-day{day}.mp3")),
        )
        .expect("copy");
    }
    let config = d.path().join("podcast.yaml");
    let base = "title: Daily\ndescription: A daily show.\nauthor: Test\nbase_url: https://daily.example/\n";
    std::fs::write(&config, format!("{base}page:\n  episodes_per_page: 2\n")).expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let public = d.path().join("public");
    let read = |rel: &str| std::fs::read_to_string(public.join(rel)).expect(rel);

    let index = read("index.html");
    assert_eq!(count(&index, "<article class=\"episode\""), 2, "{index}");
    // Newest first: the index has days 5 and 4, the archive the rest.
    assert!(index.contains("id=\"2026-01-05-day5\"") || index.contains("day5"));
    assert!(!index.contains("day1.mp3"));
    assert!(index.contains("href=\"archive/2.html\""), "pager links on");
    let two = read("archive/2.html");
    assert_eq!(count(&two, "<article class=\"episode\""), 2);
    assert!(two.contains("href=\"../index.html\"") || two.contains("href=\"../\""));
    assert!(two.contains("href=\"../archive/3.html\""), "{two}");
    assert!(
        two.contains("../episodes/2026-01-03-day3.mp3"),
        "links relative to archive/"
    );
    let three = read("archive/3.html");
    assert_eq!(count(&three, "<article class=\"episode\""), 1);
    assert!(three.contains("day1.mp3"));
    for day in 1..=5 {
        assert!(public
            .join(format!("e/2026-01-0{day}-day{day}.html"))
            .is_file());
    }
    assert_eq!(
        count(&read("feed.xml"), "<item>"),
        5,
        "every episode by default"
    );

    // Fewer episodes in the feed; the page still lists them all, on one page now.
    std::fs::write(
        &config,
        format!("{base}page:\n  episodes_per_page: 10\nfeed:\n  limit: 3\n"),
    )
    .expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let feed = read("feed.xml");
    assert_eq!(count(&feed, "<item>"), 3);
    assert!(
        feed.contains("day5.mp3") && !feed.contains("day2.mp3"),
        "the newest kept"
    );
    assert_eq!(count(&read("torrents.xml"), "<item>"), 3);
    let index = read("index.html");
    assert_eq!(count(&index, "<article class=\"episode\""), 5);
    assert!(!index.contains("archive/2.html"));
    assert!(
        !public.join("archive/2.html").exists(),
        "stale archive pages go"
    );
}
