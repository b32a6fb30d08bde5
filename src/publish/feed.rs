//! Stage 5a: the two feeds, as bytes.
//!
//! `feed.xml` is RSS 2.0 with the itunes, podcast (Podcasting 2.0), atom and content
//! namespaces: the HTTP enclosure every podcatcher plays, plus `podcast:alternateEnclosure`
//! offering the same audio by HTTPS, .torrent and magnet. `torrents.xml` is a BEP 36 feed for
//! BitTorrent clients' RSS readers, with ezRSS `torrent:` tags. Output is a pure function of
//! its input (no clock, no map order). Nothing here touches the disk.

use std::borrow::Cow;
use std::io::Cursor;

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesPI, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::config::{Config, Show, ShowType};

use super::layout::Layout;
use super::Episode;

/// Podcasting 2.0 namespace.
pub const PODCAST_NS: &str = "https://podcastindex.org/namespace/1.0";
/// Apple's namespace.
pub const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
/// ezRSS torrent namespace.
pub const TORRENT_NS: &str = "http://xmlns.ezrss.it/0.1/";
/// Minutes a feed reader may cache the feeds.
const TTL_MINUTES: &str = "60";
/// Atom, for the feeds' `atom:link rel="self"`.
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

type W = Writer<Cursor<Vec<u8>>>;

/// RFC 2822 date as RSS wants it (`Wed, 01 May 2024 00:00:00 +0000`).
pub fn rfc2822(d: &DateTime<Utc>) -> String {
    d.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

// Writing to a Vec cannot fail, so the io::Result of quick-xml is dropped in one place.
fn ev(w: &mut W, e: Event<'_>) {
    let _ = w.write_event(e);
}

/// `s` escaped for a double-quoted pseudo-attribute of a processing instruction.
fn xml_attr(s: &str) -> String {
    xml_safe(s)
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace("?>", "?&gt;")
}

/// Characters XML 1.0 allows; tags and configs can carry others (NUL, other C0 controls).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` without the characters XML cannot carry, so the feed always parses.
fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

fn start(name: &str, attrs: &[(&str, &str)]) -> BytesStart<'static> {
    let mut s = BytesStart::new(name.to_string());
    for (k, v) in attrs {
        s.push_attribute((*k, xml_safe(v).as_ref()));
    }
    s
}

fn open(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    ev(w, Event::Start(start(name, attrs)));
}

fn close(w: &mut W, name: &str) {
    ev(w, Event::End(BytesEnd::new(name)));
}

fn empty(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    ev(w, Event::Empty(start(name, attrs)));
}

fn text(w: &mut W, name: &str, value: &str) {
    text_with(w, name, &[], value);
}

fn text_with(w: &mut W, name: &str, attrs: &[(&str, &str)], value: &str) {
    open(w, name, attrs);
    ev(w, Event::Text(BytesText::new(&xml_safe(value))));
    close(w, name);
}

/// HTML goes in CDATA so readers get it verbatim; a `]]>` inside is split across two sections.
fn cdata(w: &mut W, name: &str, html: &str) {
    open(w, name, &[]);
    let html = xml_safe(html);
    let parts: Vec<&str> = html.split("]]>").collect();
    for (i, part) in parts.iter().enumerate() {
        let mut chunk = String::new();
        if i > 0 {
            chunk.push('>');
        }
        chunk.push_str(part);
        if i + 1 < parts.len() {
            chunk.push_str("]]");
        }
        ev(w, Event::CData(BytesCData::new(chunk)));
    }
    close(w, name);
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn true_false(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The XML declaration, a stylesheet for browsers if any, `<rss version="2.0"
/// …namespaces>` and `<channel>`.
fn start_rss(stylesheet: Option<&str>, namespaces: &[(&str, &str)]) -> W {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    ev(
        &mut w,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    );
    if let Some(href) = stylesheet {
        // Browsers render the feed through it; feed parsers skip processing instructions.
        let pi = format!(
            r#"xml-stylesheet type="text/xsl" href="{}""#,
            xml_attr(href)
        );
        ev(&mut w, Event::PI(BytesPI::new(pi)));
    }
    let mut attrs = vec![("version", "2.0")];
    attrs.extend_from_slice(namespaces);
    open(&mut w, "rss", &attrs);
    open(&mut w, "channel", &[]);
    w
}

/// Closes what [`start_rss`] opened; the document's bytes.
fn finish(mut w: W) -> Vec<u8> {
    close(&mut w, "channel");
    close(&mut w, "rss");
    let mut v = w.into_inner().into_inner();
    v.push(b'\n');
    v
}

/// The date the feed last changed: the newest episode's (not "now", to stay deterministic).
fn last_build(episodes: &[Episode]) -> Option<DateTime<Utc>> {
    episodes.iter().map(|e| e.pub_date).max()
}

/// The channel elements both feeds open with.
fn channel_head(w: &mut W, title: &str, show: &Show, episodes: &[Episode], self_url: &str) {
    text(w, "title", title);
    text(w, "link", show.link.as_str());
    cdata(w, "description", &show.description);
    text(w, "language", &show.language);
    if let Some(c) = &show.copyright {
        text(w, "copyright", c);
    }
    text(w, "generator", "podseed");
    if let Some(d) = last_build(episodes) {
        text(w, "lastBuildDate", &rfc2822(&d));
    }
    text(w, "ttl", TTL_MINUTES);
    empty(
        w,
        "atom:link",
        &[
            ("href", self_url),
            ("rel", "self"),
            ("type", "application/rss+xml"),
        ],
    );
}

/// Renders `feed.xml`.
pub fn render_feed(config: &Config, layout: &Layout, episodes: &[Episode]) -> Vec<u8> {
    let show = &config.show;
    let feed_url = layout.feed().url;
    let image_url = layout.cover().map(|(cover, _)| cover.url);
    // Relative to the feed, which sits beside it: a mirror of the site keeps it working.
    let stylesheet = layout.link_from(&layout.feed().rel, layout.feed_stylesheet().url.as_str());
    let mut w = start_rss(
        Some(&stylesheet),
        &[
            ("xmlns:itunes", ITUNES_NS),
            ("xmlns:podcast", PODCAST_NS),
            ("xmlns:atom", ATOM_NS),
            ("xmlns:content", "http://purl.org/rss/1.0/modules/content/"),
        ],
    );
    channel_head(&mut w, &show.title, show, episodes, feed_url.as_str());
    if let Some(img) = image_url.as_ref().map(|u| u.as_str()) {
        open(&mut w, "image", &[]);
        text(&mut w, "url", img);
        text(&mut w, "title", &show.title);
        text(&mut w, "link", show.link.as_str());
        close(&mut w, "image");
        empty(&mut w, "itunes:image", &[("href", img)]);
    }
    if !show.author.is_empty() {
        text(&mut w, "itunes:author", &show.author);
    }
    if let Some(o) = &show.owner {
        open(&mut w, "itunes:owner", &[]);
        text(&mut w, "itunes:name", &o.name);
        text(&mut w, "itunes:email", &o.email);
        close(&mut w, "itunes:owner");
    }
    for c in &show.categories {
        if c.subcategories.is_empty() {
            empty(&mut w, "itunes:category", &[("text", &c.name)]);
        } else {
            open(&mut w, "itunes:category", &[("text", &c.name)]);
            for s in &c.subcategories {
                empty(&mut w, "itunes:category", &[("text", s)]);
            }
            close(&mut w, "itunes:category");
        }
    }
    text(&mut w, "itunes:explicit", true_false(show.explicit));
    text(&mut w, "itunes:type", show.kind.as_str());
    let guid = show.guid.to_string();
    text(&mut w, "podcast:guid", &guid);
    let owner_email = show.owner.as_ref().map_or("", |o| o.email.as_str());
    text_with(
        &mut w,
        "podcast:locked",
        &[("owner", owner_email)],
        yes_no(show.locked),
    );
    for f in &show.funding {
        text_with(
            &mut w,
            "podcast:funding",
            &[("url", f.url.as_str())],
            &f.text,
        );
    }
    for e in episodes {
        feed_item(&mut w, e);
    }
    finish(w)
}

fn feed_item(w: &mut W, e: &Episode) {
    open(w, "item", &[]);
    text(w, "title", &e.title);
    text(w, "link", e.page_url.as_str());
    cdata(w, "description", &e.description);
    cdata(w, "content:encoded", &e.description);
    // Apple reads HTML from description; apps that still read itunes:summary get plain text.
    text(
        w,
        "itunes:summary",
        &super::notes::html_to_text(&e.description),
    );
    text_with(w, "guid", &[("isPermaLink", "false")], &e.guid);
    text(w, "pubDate", &rfc2822(&e.pub_date));
    let size = e.size.to_string();
    empty(
        w,
        "enclosure",
        &[
            ("url", e.media_url.as_str()),
            ("length", &size),
            ("type", e.mime_type),
        ],
    );
    if let Some(a) = &e.author {
        text(w, "itunes:author", a);
    }
    text(w, "itunes:title", &e.title);
    text(
        w,
        "itunes:duration",
        &(e.duration_secs.round() as u64).to_string(),
    );
    if let Some(img) = &e.image_url {
        empty(w, "itunes:image", &[("href", img.as_str())]);
    }
    if let Some(x) = e.explicit {
        text(w, "itunes:explicit", true_false(x));
    }
    text(w, "itunes:episodeType", e.episode_type.as_str());
    if let Some(s) = e.season {
        text(w, "itunes:season", &s.to_string());
        text(w, "podcast:season", &s.to_string());
    }
    if let Some(n) = e.episode {
        text(w, "itunes:episode", &n.to_string());
        text(w, "podcast:episode", &n.to_string());
    }
    if let Some(c) = &e.chapters_url {
        empty(
            w,
            "podcast:chapters",
            &[("url", c.as_str()), ("type", "application/json+chapters")],
        );
    }
    if let Some((url, mime)) = &e.transcript {
        empty(
            w,
            "podcast:transcript",
            &[("url", url.as_str()), ("type", mime)],
        );
    }
    let bitrate = e.bitrate_bps.map(|b| b.to_string());
    let mut attrs: Vec<(&str, &str)> = vec![("type", e.mime_type), ("length", &size)];
    if let Some(b) = &bitrate {
        attrs.push(("bitrate", b));
    }
    attrs.push(("default", "true"));
    open(w, "podcast:alternateEnclosure", &attrs);
    let sri = format!("sha256-{}", base64(&e.sha256));
    empty(w, "podcast:integrity", &[("type", "sri"), ("value", &sri)]);
    empty(w, "podcast:source", &[("uri", e.media_url.as_str())]);
    empty(
        w,
        "podcast:source",
        &[
            ("uri", e.torrent_url.as_str()),
            ("contentType", "application/x-bittorrent"),
        ],
    );
    empty(w, "podcast:source", &[("uri", &e.magnet)]);
    close(w, "podcast:alternateEnclosure");
    close(w, "item");
}

/// Renders `torrents.xml` (BEP 36 with ezRSS `torrent:` tags).
pub fn render_torrent_feed(config: &Config, layout: &Layout, episodes: &[Episode]) -> Vec<u8> {
    let show = &config.show;
    let mut w = start_rss(
        None,
        &[("xmlns:torrent", TORRENT_NS), ("xmlns:atom", ATOM_NS)],
    );
    let self_url = layout.torrent_feed().url;
    let title = format!("{} (BitTorrent)", show.title);
    channel_head(&mut w, &title, show, episodes, self_url.as_str());
    for e in episodes {
        let hash = e.info_hash.to_hex();
        open(&mut w, "item", &[]);
        text(&mut w, "title", &e.title);
        text(&mut w, "link", &e.magnet);
        cdata(&mut w, "description", &e.description);
        text_with(&mut w, "guid", &[("isPermaLink", "false")], &hash);
        text(&mut w, "pubDate", &rfc2822(&e.pub_date));
        let tsize = e.torrent_size.to_string();
        empty(
            &mut w,
            "enclosure",
            &[
                ("url", e.torrent_url.as_str()),
                ("length", &tsize),
                ("type", "application/x-bittorrent"),
            ],
        );
        text(&mut w, "torrent:contentLength", &e.size.to_string());
        text(&mut w, "torrent:infoHash", &hash);
        text(&mut w, "torrent:fileName", &e.name);
        cdata(&mut w, "torrent:magnetURI", &e.magnet);
        close(&mut w, "item");
    }
    finish(w)
}

/// Standard base64 with padding, for the SRI value.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= c.len() {
                s.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The episodes the feeds list (`episodes` in feed order): all of them, or the newest
/// `feed.limit` when the config sets one.
pub fn in_feed<'a>(config: &Config, episodes: &'a [Episode]) -> &'a [Episode] {
    match config.feed.limit {
        Some(n) if n < episodes.len() => match config.show.kind {
            // Newest first: the head; oldest first: the tail.
            ShowType::Episodic => &episodes[..n],
            ShowType::Serial => &episodes[episodes.len() - n..],
        },
        _ => episodes,
    }
}

/// Serial shows list oldest first; episodic ones newest first.
pub fn sort_for_feed(kind: ShowType, episodes: &mut [Episode]) {
    episodes.sort_by(|a, b| {
        let by_date = a.pub_date.cmp(&b.pub_date).then_with(|| a.rel.cmp(&b.rel));
        match kind {
            ShowType::Serial => by_date,
            ShowType::Episodic => by_date.reverse(),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn characters_xml_forbids_are_dropped() {
        let mut w = Writer::new(Cursor::new(Vec::new()));
        text_with(&mut w, "t", &[("a", "x\u{1}y")], "A\0B\u{7}C\tD");
        cdata(&mut w, "d", "e\u{8}f");
        let s = String::from_utf8(w.into_inner().into_inner()).expect("utf8");
        assert_eq!(s, "<t a=\"xy\">ABC\tD</t><d><![CDATA[ef]]></d>");
    }

    #[test]
    fn rfc2822_dates() {
        let d = DateTime::from_timestamp(1_714_521_600, 0).expect("date");
        assert_eq!(rfc2822(&d), "Wed, 01 May 2024 00:00:00 +0000");
    }

    #[test]
    fn cdata_survives_its_terminator() {
        let mut w = Writer::new(Cursor::new(Vec::new()));
        cdata(&mut w, "d", "a]]>b");
        let s = String::from_utf8(w.into_inner().into_inner()).expect("utf8");
        assert_eq!(s, "<d><![CDATA[a]]]]><![CDATA[>b]]></d>");
    }
}
