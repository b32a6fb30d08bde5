//! The show's pages as a newcomer sees them (issue 11, part 5): the example published with
//! and without its cover image, served by the real `podseed serve` on loopback, opened in
//! headless Chromium at phone (390×844) and desktop (1280×800) sizes by
//! tests/browser/page.mjs over the DevTools protocol. Screenshots stay in the test's temp
//! folder; the assertions are layout facts the page reports (widths, overflow, text).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::show::{Serve, Show};
use common::tools::{require, Tool};
use common::{free_port, repo, run_with_deadline, Nginx, Served};

const EPISODE_PAGE: &str = "e/2026-01-15-welcome.html";
const CHAPTERS_PAGE: &str = "e/2026-02-01-swarm-basics.html";

/// Publishes and serves `show`, runs page.mjs on `episode_page` under the label `label`;
/// its report (keyed `size/page`) and the show (kept alive for its temp folder).
fn pages(show: Show, label: &str, episode_page: &str) -> (Value, Served) {
    let base = show.base_url();
    let served = Served::start(show);
    let report = run_page_mjs(&base, served.show.path(), label, episode_page);
    (report, served)
}

/// Runs page.mjs on the site at `base`, writing into `out`; its report.
fn run_page_mjs(base: &str, out: &Path, label: &str, episode_page: &str) -> Value {
    let mut node = Command::new("node");
    node.arg(repo().join("tests/browser/page.mjs"))
        .args(["--base", base, "--episode", episode_page, "--label", label])
        .arg("--out")
        .arg(out);
    let (status, err) = run_with_deadline(node, 180, "page.mjs");
    assert!(status.success(), "page.mjs failed: {err}");
    let report = std::fs::read(out.join(format!("{label}.json"))).expect("report");
    eprintln!("screenshots in {}", out.display());
    serde_json::from_slice(&report).expect("json")
}

fn example(with_cover: bool) -> Show {
    let show = Show::example().served_from_loopback(&[]).with_serve(
        Serve::tracker()
            .set("udp_tracker", "off")
            .set("dht", "false"),
    );
    if with_cover {
        show
    } else {
        show.with_yaml("image: examples/cover.png\n", "")
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Nothing is wider than the viewport: no horizontal scrollbar.
fn assert_no_overflow(report: &Value, key: &str) {
    let p = &report[key];
    assert!(p.get("error").is_none(), "{key}: {}", p["error"]);
    assert!(
        f(&p["scrollWidth"]) <= f(&p["clientWidth"]),
        "{key}: the page scrolls sideways ({} > {})",
        p["scrollWidth"],
        p["clientWidth"]
    );
}

#[test]
fn without_a_cover_the_header_spans_the_page_at_phone_and_desktop_sizes() {
    require!(Tool::Chromium, Tool::NpmPackages);
    let (report, _served) = pages(example(false), "no-cover", EPISODE_PAGE);
    for size in ["phone", "desktop"] {
        let p = &report[format!("{size}/index")];
        assert_no_overflow(&report, &format!("{size}/index"));
        let header = f(&p["header"]["width"]);
        let text = f(&p["headerText"]["width"]);
        let wrap = f(&p["wrap"]["width"]);
        // The content column is at most 46rem wide on a desktop; the header fills it.
        assert!(
            text >= 0.9 * header,
            "{size}: header text {text} of {header}"
        );
        assert!(
            header >= 0.9 * wrap,
            "{size}: header {header} of column {wrap}"
        );
        if size == "phone" {
            let viewport = f(&p["viewport"]);
            assert!(
                header >= 0.9 * viewport,
                "phone: header {header} of {viewport}"
            );
        }
    }
}

#[test]
fn with_a_cover_no_page_scrolls_sideways_and_the_pages_show_what_they_promise() {
    require!(Tool::Chromium, Tool::NpmPackages);
    let (report, served) = pages(example(true), "cover", CHAPTERS_PAGE);
    let feed_url = format!("{}feed.xml", served.show.base_url());
    let feed = std::fs::read_to_string(served.show.public().join("feed.xml")).expect("feed");
    let episodes = feed.matches("<item>").count() as u64;
    for size in ["phone", "desktop"] {
        for page in ["index", "subscribe", "episode"] {
            assert_no_overflow(&report, &format!("{size}/{page}"));
        }
        let index = &report[format!("{size}/index")];
        assert_eq!(
            index["audios"].as_u64(),
            Some(episodes),
            "{size}: every episode keeps its <audio>"
        );
        let sub = &report[format!("{size}/subscribe")];
        assert_eq!(sub["feedUrl"], feed_url.as_str());
        assert!(sub["body"]
            .as_str()
            .unwrap_or("")
            .contains("Open in an app"));
        let apps = sub["apps"].as_array().expect("apps");
        assert!(apps.len() >= 4, "{apps:?}");
        let ep = &report[format!("{size}/episode")];
        let chapters = ep["chapters"].to_string();
        assert!(chapters.contains("Pieces and hashes"), "{size}: {chapters}");
        assert_eq!(ep["audios"], 1);
    }
    // Desktop: the cover sits beside the text, which still has most of the column.
    let d = &report["desktop/index"];
    assert!(f(&d["headerText"]["width"]) >= 0.5 * f(&d["wrap"]["width"]));
}

#[test]
fn an_episode_page_shows_its_transcript() {
    require!(Tool::Chromium, Tool::NpmPackages);
    let (report, _served) = pages(example(true), "transcript", EPISODE_PAGE);
    for size in ["phone", "desktop"] {
        let ep = &report[format!("{size}/episode")];
        let cues = ep["cues"].to_string();
        assert!(cues.contains("a tiny example podcast."), "{size}: {cues}");
        assert!(cues.contains("0:05"), "{size}: {cues}");
    }
}

/// What a browser shows of feed.xml from `report`: the show through feed.xsl.
fn assert_feed_reads_as_a_page(report: &Value) {
    for size in ["phone", "desktop"] {
        let feed = &report[format!("{size}/feed")];
        assert!(
            feed.get("error").is_none(),
            "{size}: feed.xml: {}",
            feed["error"]
        );
        let body = feed["body"].as_str().unwrap_or("");
        assert!(
            body.contains("This is a podcast feed") && body.contains("Swarm Basics"),
            "{size}: feed.xml is not shown through feed.xsl: {body}"
        );
        assert_no_overflow(report, &format!("{size}/feed"));
    }
}

/// `serve` sends feeds as `application/xml`, so a browser runs feed.xsl (it shows
/// `application/rss+xml` as plain text).
#[test]
fn served_by_podseed_the_feed_reads_as_a_page_through_feed_xsl() {
    require!(Tool::Chromium, Tool::NpmPackages);
    let (report, _served) = pages(example(true), "feed", EPISODE_PAGE);
    assert_feed_reads_as_a_page(&report);
}

/// The output folder on a static host that sends feeds as `application/xml`, as the README
/// says to.
#[test]
fn on_a_static_host_the_feed_reads_as_a_page_through_feed_xsl() {
    require!(Tool::Chromium, Tool::NpmPackages, Tool::Nginx);
    let show = Show::example().served_from_loopback(&[]);
    show.publish();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let http = format!(
        "types {{ audio/mpeg mp3; application/xml xml; application/xslt+xml xsl; text/html html; }}\n\
         server {{\n  listen {addr};\n  root {};\n}}\n",
        show.public().display()
    );
    let _nginx = Nginx::start(show.path(), &http, addr);
    let report = run_page_mjs(
        &format!("http://{addr}/"),
        show.path(),
        "static",
        EPISODE_PAGE,
    );
    assert_feed_reads_as_a_page(&report);
}
