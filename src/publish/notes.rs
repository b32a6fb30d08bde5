//! Show notes in Markdown: the `episode.md` beside an episode (same stem) or the config's
//! `description_file`, rendered to the HTML that feeds and pages carry, plus the plain
//! text that `itunes:summary` wants.
//!
//! Rendering is pulldown-cmark (CommonMark with tables, strikethrough and autolinks). Raw
//! HTML inside the Markdown is escaped, never passed through: the notes end up inside
//! podcast apps and our own pages, and escaping is the one choice that needs no sanitiser
//! to be safe. Links and images whose URL has a scheme other than http, https or mailto
//! (e.g. `javascript:`) keep their text but lose the link. Not cached: the file is read on
//! every build (it is small), so an edited note changes the build without re-hashing media.

use std::path::Path;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The extensions of a notes file beside its episode (`<stem>.md`), in the order they are
/// looked for (by `scan`, among the files it lists).
pub const SIDECAR_EXTENSIONS: [&str; 3] = ["md", "MD", "markdown"];

/// Notes longer than this are refused unread: Apple shows 4000 bytes, and a file this big
/// is a mistake (a media file named `.md`), not show notes.
pub const MAX_BYTES: u64 = 1 << 20;

/// Reads the notes at `path` as UTF-8 Markdown, at most [`MAX_BYTES`].
pub fn read(path: &Path) -> Result<String, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_BYTES {
        return Err(format!(
            "show notes of {len} bytes are over the limit of {MAX_BYTES}; keep notes short (Apple shows 4000 bytes)"
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| format!("show notes cannot be read as UTF-8 text: {e}"))
}

/// Markdown → HTML, with raw HTML escaped and unsafe link schemes dropped.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let (mut dropped_links, mut dropped_images) = (0usize, 0usize);
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        // Raw HTML is shown as the text it is, never interpreted.
        Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
        Event::Start(Tag::Link { ref dest_url, .. }) if !safe_url(dest_url) => {
            dropped_links += 1;
            None
        }
        Event::End(TagEnd::Link) if dropped_links > 0 => {
            dropped_links -= 1;
            None
        }
        // An image's alt text follows as text events: shown as text.
        Event::Start(Tag::Image { ref dest_url, .. }) if !safe_url(dest_url) => {
            dropped_images += 1;
            None
        }
        Event::End(TagEnd::Image) if dropped_images > 0 => {
            dropped_images -= 1;
            None
        }
        other => Some(other),
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html.trim_end().to_string()
}

/// Whether a link may stay a link: http, https, mailto, or relative (no scheme). Links do
/// not nest in CommonMark (nor images in images), so counting dropped starts pairs each
/// with its end.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Plain text of an HTML fragment, for `itunes:summary`: tags dropped (block ends become
/// line breaks), the five XML entities and numeric references decoded, one block per line.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = rest[..end].to_ascii_lowercase();
            if is_block_break(&tag) {
                out.push('\n');
            }
            rest = &rest[end..];
        } else {
            let end = rest.find(';').filter(|&e| e <= 10).map_or(0, |e| e + 1);
            match entity(&rest[..end]) {
                Some(c) if end > 0 => {
                    out.push(c);
                    rest = &rest[end..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    fold_blank(&out)
}

fn is_block_break(tag: &str) -> bool {
    [
        "</p",
        "<br",
        "</li",
        "</h",
        "</pre",
        "</blockquote",
        "</tr",
        "</ul",
        "</ol",
    ]
    .iter()
    .any(|t| tag.starts_with(t))
}

fn entity(e: &str) -> Option<char> {
    match e {
        "&amp;" => Some('&'),
        "&lt;" => Some('<'),
        "&gt;" => Some('>'),
        "&quot;" => Some('"'),
        "&apos;" | "&#39;" => Some('\''),
        "&nbsp;" => Some(' '),
        _ => {
            let num = e.strip_prefix("&#")?.strip_suffix(';')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Trims each line and drops blank ones: one block per line.
fn fold_blank(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_to_html() {
        let html =
            to_html("# Notes\n\nWith **bold** and [a link](https://e.com/x).\n\n- one\n- two\n");
        assert!(html.contains("<h1>Notes</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://e.com/x">a link</a>"#),
            "{html}"
        );
        assert!(html.contains("<li>one</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_escaped() {
        let html = to_html("Hi <script>alert(1)</script> <b>x</b>\n\n<div onclick=\"x\">y</div>\n");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn unsafe_link_schemes_lose_the_link_but_keep_the_text() {
        let html = to_html("[click](javascript:alert(1)) and [ok](/rel) and [m](mailto:a@b.c)");
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains("click"), "{html}");
        assert!(html.contains(r#"<a href="/rel">ok</a>"#), "{html}");
        assert!(html.contains("mailto:a@b.c"), "{html}");
    }

    #[test]
    fn plain_text_of_html() {
        let text = html_to_text("<h1>Notes</h1>\n<p>Tom &amp; Jerry &lt;3 &#233;t&#xE9;</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>");
        assert_eq!(text, "Notes\nTom & Jerry <3 été\none\ntwo");
        assert_eq!(html_to_text("a & b"), "a & b");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "[<>&;#xa-f0-9 ép/\\[\\]()*:\n]{0,80}") {
            let html = to_html(&text);
            let _ = html_to_text(&html);
            let _ = html_to_text(&text);
        }
    }
}
