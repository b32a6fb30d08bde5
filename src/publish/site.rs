//! Stage 5b: the HTML pages (`index.html`, `subscribe.html`, one `e/<stem>.html` per
//! episode) and the Podcasting 2.0 chapters files.
//!
//! Each page comes from a minijinja template: the user's `templates_dir/<name>` when there
//! is one, else the built-in one in `templates/` (they share `page.css`). The context holds
//! plain strings only (no clock), so the pages are as deterministic as the feeds. No disk
//! writes here.

use serde::Serialize;

use crate::config::Config;

use super::layout::Layout;
use super::probe::Chapter;
use super::{Episode, PublishError};

/// The built-in page template.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/index.html");
/// The built-in subscribe page template.
pub const SUBSCRIBE_TEMPLATE: &str = include_str!("../../templates/subscribe.html");
/// The built-in episode page template.
pub const EPISODE_TEMPLATE: &str = include_str!("../../templates/episode.html");
/// The pages' shared CSS, included inline by every built-in template.
pub const PAGE_CSS: &str = include_str!("../../templates/page.css");
/// The stylesheet that shows `feed.xml` as a page in a browser.
pub const FEED_XSL: &str = include_str!("../../templates/feed.xsl");

#[derive(Serialize)]
struct PageShow<'a> {
    title: &'a str,
    description_html: &'a str,
    author: &'a str,
    language: &'a str,
    link: &'a str,
    /// The cover, relative to the page.
    image_url: Option<String>,
    /// The cover's absolute URL, for social cards (which never resolve relative URLs).
    image_abs: Option<String>,
    /// The show's page, absolute (`base_url`).
    site_url: String,
    /// The show's page, relative to this page.
    site_url_rel: String,
    /// The subscribe page, relative to this page.
    subscribe_url: String,
    /// The subscribe page, absolute.
    subscribe_abs: String,
    /// The feed, absolute: it is copied into apps.
    feed_url: String,
    torrents_feed_url: String,
    explicit: bool,
    copyright: Option<&'a str>,
    funding: Vec<PageLink<'a>>,
}

/// The browser player's settings, when the page has it.
#[derive(Serialize)]
struct PagePlayer {
    /// Our script, relative to the page.
    script: String,
    /// STUN servers for WebRTC, space-separated (empty: host candidates only).
    ice_servers: String,
}

#[derive(Serialize)]
struct PageLink<'a> {
    url: &'a str,
    text: &'a str,
}

/// An "open in" link of the subscribe page.
#[derive(Serialize)]
struct AppLink {
    url: String,
    text: &'static str,
}

#[derive(Serialize)]
struct PageEpisode<'a> {
    anchor: &'a str,
    /// The media file's name, the torrent's `name` (the player streams it by that name).
    name: &'a str,
    title: &'a str,
    description_html: &'a str,
    date_human: String,
    date_iso: String,
    duration_human: String,
    size_human: String,
    media_url: String,
    /// The media's MIME type and a short name of its format (MP3, M4A, Opus, MP4 video).
    mime_type: &'static str,
    format_name: &'static str,
    /// Video plays in a `<video>` (over plain HTTP: the WebTorrent player streams audio).
    is_video: bool,
    torrent_url: String,
    magnet: &'a str,
    info_hash: String,
    image_url: Option<String>,
    season: Option<u32>,
    episode: Option<u32>,
    episode_type: &'static str,
    chapters_url: Option<String>,
    transcript_url: Option<String>,
    /// The episode's own page, relative.
    page_url: String,
    /// Absolute URLs for the episode page's social tags.
    page_abs: &'a str,
    media_abs: &'a str,
    image_abs: Option<String>,
    /// Only on the episode's own page.
    chapters: Vec<PageMark<'a>>,
    cues: Vec<PageMark<'a>>,
}

/// A chapter or a transcript cue on the episode page.
#[derive(Serialize)]
struct PageMark<'a> {
    start: String,
    start_secs: String,
    speaker: Option<&'a str>,
    /// A chapter's title or a cue's words.
    text: &'a str,
}

impl<'a> PageMark<'a> {
    fn new(start_secs: f64, speaker: Option<&'a str>, text: &'a str) -> Self {
        PageMark {
            start: human_duration(start_secs),
            start_secs: format!("{:.3}", start_secs.max(0.0))
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            speaker,
            text,
        }
    }
}

/// The show as a page at `from` (relative to the output folder) sees it.
fn page_show<'a>(config: &'a Config, layout: &Layout, from: &str) -> PageShow<'a> {
    let show = &config.show;
    // Pages link to their own site relatively, so they work wherever they are opened (a
    // local preview, a mirror); the feeds and social tags keep absolute URLs.
    let rel = |url: &str| layout.link_from(from, url);
    let cover = layout.cover().map(|(cover, _)| cover.url);
    PageShow {
        title: &show.title,
        description_html: &show.description,
        author: &show.author,
        language: &show.language,
        link: show.link.as_str(),
        image_url: cover.as_ref().map(|u| rel(u.as_str())),
        image_abs: cover.map(|u| u.to_string()),
        site_url: layout.base_url().to_string(),
        site_url_rel: rel(layout.base_url().as_str()),
        subscribe_url: rel(layout.subscribe_page().url.as_str()),
        subscribe_abs: layout.subscribe_page().url.to_string(),
        feed_url: layout.feed().url.to_string(),
        torrents_feed_url: layout.torrent_feed().url.to_string(),
        explicit: show.explicit,
        copyright: show.copyright.as_deref(),
        funding: show
            .funding
            .iter()
            .map(|f| PageLink {
                url: f.url.as_str(),
                text: &f.text,
            })
            .collect(),
    }
}

/// An episode as a page at `from` sees it; with its chapters and cues when `full`.
fn page_episode<'a>(layout: &Layout, from: &str, e: &'a Episode, full: bool) -> PageEpisode<'a> {
    let rel = |url: &str| layout.link_from(from, url);
    let cover = layout.cover().map(|(cover, _)| cover.url);
    PageEpisode {
        anchor: &e.anchor,
        name: &e.name,
        title: &e.title,
        description_html: &e.description,
        date_human: e.pub_date.format("%-d %B %Y").to_string(),
        date_iso: e.pub_date.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        duration_human: human_duration(e.duration_secs),
        size_human: human_size(e.size),
        media_url: rel(e.media_url.as_str()),
        mime_type: e.mime_type,
        format_name: format_name(e.mime_type),
        is_video: e.mime_type.starts_with("video/"),
        torrent_url: rel(e.torrent_url.as_str()),
        magnet: &e.magnet,
        info_hash: e.info_hash.to_hex(),
        image_url: e.image_url.as_ref().map(|u| rel(u.as_str())),
        season: e.season,
        episode: e.episode,
        episode_type: e.episode_type.as_str(),
        chapters_url: e.chapters_url.as_ref().map(|u| rel(u.as_str())),
        transcript_url: e.transcript.as_ref().map(|(u, _)| rel(u.as_str())),
        page_url: rel(e.page_url.as_str()),
        page_abs: e.page_url.as_str(),
        media_abs: e.media_url.as_str(),
        image_abs: e.image_url.clone().or(cover).map(|u| u.to_string()),
        chapters: if full {
            e.chapter_marks
                .iter()
                .map(|c| PageMark::new(c.start_secs, None, &c.title))
                .collect()
        } else {
            Vec::new()
        },
        cues: if full {
            e.cues
                .iter()
                .map(|c| PageMark::new(c.start_secs, c.speaker.as_deref(), &c.text))
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// One page of the show's episode list: `index.html` (number 1) or `archive/<n>.html`.
#[derive(Debug, Clone, Copy)]
pub struct ListPage<'a> {
    /// Its number, from 1.
    pub number: usize,
    /// How many list pages there are.
    pub count: usize,
    /// The episodes on it.
    pub episodes: &'a [Episode],
}

/// Links between the list pages, as the template sees them.
#[derive(Serialize)]
struct Pager {
    number: usize,
    count: usize,
    /// The previous (newer) and next (older) list page, relative.
    prev_url: Option<String>,
    next_url: Option<String>,
    pages: Vec<PagerLink>,
}

#[derive(Serialize)]
struct PagerLink {
    number: usize,
    url: String,
    current: bool,
}

/// A page to write: its template and context, and a digest of both (the page's bytes are a
/// function of them), so an unchanged page is not rendered again.
pub struct PageJob<'a> {
    name: &'static str,
    ctx: PageContext<'a>,
    /// SHA-1 (hex) of the template set, the template's name and the context.
    pub inputs: String,
}

/// What a template sees, as typed values: hashed as they are for the digest, turned into
/// template values only when the page is rendered.
#[derive(Serialize)]
#[serde(untagged)]
enum PageContext<'a> {
    List {
        show: PageShow<'a>,
        episodes: Vec<PageEpisode<'a>>,
        pager: Option<Pager>,
        generator: &'static str,
        player: Option<PagePlayer>,
    },
    Subscribe {
        show: PageShow<'a>,
        apps: Vec<AppLink>,
        generator: &'static str,
    },
    Episode {
        show: PageShow<'a>,
        // Boxed: the largest context, one per episode page.
        episode: Box<PageEpisode<'a>>,
        generator: &'static str,
    },
}

/// The page templates of one build, compiled once (the user's or the built-in ones).
pub struct Pages {
    env: minijinja::Environment<'static>,
    /// Per template, the name errors give it.
    labels: Vec<(&'static str, String)>,
    /// SHA-1 of every template's text (and podseed's version): part of every page's inputs.
    templates: [u8; 20],
}

impl Pages {
    /// Reads and compiles the templates.
    pub fn new(config: &Config) -> Result<Pages, PublishError> {
        use sha1::Digest;
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".css") {
                minijinja::AutoEscape::None
            } else {
                minijinja::AutoEscape::Html
            }
        });
        env.set_formatter(html_formatter);
        let mut digest = sha1::Sha1::new();
        digest.update(GENERATOR);
        let mut labels = Vec::new();
        for name in ["page.css", "index.html", "subscribe.html", "episode.html"] {
            let (source, label) = if name == "page.css" {
                (PAGE_CSS.to_string(), "built-in page.css".to_string())
            } else {
                template(config, name)?
            };
            digest.update((source.len() as u64).to_le_bytes());
            digest.update(source.as_bytes());
            env.add_template_owned(name, source)
                .map_err(|e| template_err(&label, e))?;
            labels.push((name, label));
        }
        Ok(Pages {
            env,
            labels,
            templates: digest.finalize().into(),
        })
    }

    /// A page of the episode list, with the browser player when `with_player`.
    pub fn list_page<'a>(
        &self,
        config: &'a Config,
        layout: &Layout,
        page: ListPage<'a>,
        with_player: bool,
    ) -> PageJob<'a> {
        let from = layout.list_page(page.number).rel;
        let page_episodes: Vec<PageEpisode<'_>> = page
            .episodes
            .iter()
            .map(|e| page_episode(layout, &from, e, false))
            .collect();
        let link = |n: usize| layout.link_from(&from, layout.list_page(n).url.as_str());
        let pager = (page.count > 1).then(|| Pager {
            number: page.number,
            count: page.count,
            prev_url: (page.number > 1).then(|| link(page.number - 1)),
            next_url: (page.number < page.count).then(|| link(page.number + 1)),
            pages: (1..=page.count)
                .map(|n| PagerLink {
                    number: n,
                    url: link(n),
                    current: n == page.number,
                })
                .collect(),
        });
        let script = layout.link_from(
            &from,
            layout
                .base_url()
                .join(super::webtorrent::PLAYER_REL)
                .map_or_else(
                    |_| super::webtorrent::PLAYER_REL.to_string(),
                    |u| u.to_string(),
                )
                .as_str(),
        );
        self.job(
            "index.html",
            PageContext::List {
                show: page_show(config, layout, &from),
                episodes: page_episodes,
                pager,
                generator: GENERATOR,
                player: with_player.then(|| PagePlayer {
                    script,
                    ice_servers: ice_servers(config).join(" "),
                }),
            },
        )
    }

    /// `subscribe.html`: the feed URL to copy and "open in" links for common apps.
    pub fn subscribe<'a>(&self, config: &'a Config, layout: &Layout) -> PageJob<'a> {
        let from = layout.subscribe_page().rel;
        self.job(
            "subscribe.html",
            PageContext::Subscribe {
                show: page_show(config, layout, &from),
                apps: app_links(&layout.feed().url),
                generator: GENERATOR,
            },
        )
    }

    /// One episode's own page (`e/<stem>.html`).
    pub fn episode<'a>(
        &self,
        config: &'a Config,
        layout: &Layout,
        episode: &'a Episode,
    ) -> PageJob<'a> {
        let from = &episode.page_rel;
        self.job(
            "episode.html",
            PageContext::Episode {
                show: page_show(config, layout, from),
                episode: Box::new(page_episode(layout, from, episode, true)),
                generator: GENERATOR,
            },
        )
    }

    fn job<'a>(&self, name: &'static str, ctx: PageContext<'a>) -> PageJob<'a> {
        use sha1::Digest;
        let mut digest = sha1::Sha1::new();
        digest.update(self.templates);
        digest.update(name);
        // The context as JSON: the same JSON renders the same page.
        let _ = serde_json::to_writer(&mut digest, &ctx);
        PageJob {
            name,
            ctx,
            inputs: crate::bt::hex(&digest.finalize()),
        }
    }

    /// Renders a page.
    pub fn render(&self, job: &PageJob<'_>) -> Result<Vec<u8>, PublishError> {
        let label = self
            .labels
            .iter()
            .find(|(n, _)| *n == job.name)
            .map_or(job.name, |(_, l)| l.as_str());
        let tmpl = self
            .env
            .get_template(job.name)
            .map_err(|e| template_err(label, e))?;
        let html = tmpl.render(&job.ctx).map_err(|e| template_err(label, e))?;
        Ok(html.into_bytes())
    }
}

fn template_err(label: &str, e: minijinja::Error) -> PublishError {
    PublishError::Template {
        name: label.to_string(),
        message: format!("{e:#}"),
    }
}

const GENERATOR: &str = concat!("podseed ", env!("CARGO_PKG_VERSION"));

/// "Open in" links for the feed. URL formats as the apps document them or the Podlove
/// subscribe button's client list records them: Apple Podcasts takes `podcast://` (iOS)
/// and `pcast://` (macOS) in place of the scheme; Overcast an `x-callback-url/add` with
/// the address after `https://`; Pocket Casts `pktc://subscribe/` and the whole URL;
/// AntennaPod and most Android apps the generic `itpc://` in place of the scheme.
fn app_links(feed: &url::Url) -> Vec<AppLink> {
    let full = feed.as_str();
    let bare = full
        .strip_prefix("https://")
        .or_else(|| full.strip_prefix("http://"))
        .unwrap_or(full);
    let no_https = full.strip_prefix("https://").unwrap_or(full);
    vec![
        AppLink {
            url: format!("podcast://{bare}"),
            text: "Apple Podcasts (iPhone, iPad)",
        },
        AppLink {
            url: format!("pcast://{bare}"),
            text: "Apple Podcasts (Mac)",
        },
        AppLink {
            url: format!("overcast://x-callback-url/add?url={no_https}"),
            text: "Overcast",
        },
        AppLink {
            url: format!("pktc://subscribe/{full}"),
            text: "Pocket Casts",
        },
        AppLink {
            url: format!("itpc://{bare}"),
            text: "AntennaPod and other Android apps",
        },
    ]
}

/// The STUN servers the page's WebRTC uses: the configured ones, else podseed's own on the
/// UDP tracker's port when `serve.public_url` says where that is, else none (peers on one
/// network still connect). Never a third party's unless configured.
fn ice_servers(config: &Config) -> Vec<String> {
    if !config.page.stun_servers.is_empty() {
        return config.page.stun_servers.clone();
    }
    config.serve.stun_url().into_iter().collect()
}

/// A template's text and its name for error messages: the user's `templates_dir/<name>`
/// when there is one, else the built-in template.
fn template(config: &Config, name: &str) -> Result<(String, String), PublishError> {
    match &config.templates_dir {
        Some(dir) if dir.join(name).is_file() => {
            let p = dir.join(name);
            let text = std::fs::read_to_string(&p).map_err(|source| PublishError::Io {
                path: p.clone(),
                source,
            })?;
            Ok((text, p.display().to_string()))
        }
        _ => Ok((built_in(name).to_string(), format!("built-in {name}"))),
    }
}

/// The built-in template called `name`.
fn built_in(name: &str) -> &'static str {
    match name {
        "subscribe.html" => SUBSCRIBE_TEMPLATE,
        "episode.html" => EPISODE_TEMPLATE,
        _ => DEFAULT_TEMPLATE,
    }
}

/// Escapes only what HTML needs (`& < > " '`): minijinja's default also escapes `/`,
/// which turns every URL in the page source into `https:&#x2f;&#x2f;…`.
fn html_formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(s) if !value.is_safe() && state.auto_escape() != minijinja::AutoEscape::None => out
            .write_str(&escape_html(s))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())),
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Escapes `& < > " '` for HTML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A link label for a media MIME type.
fn format_name(mime: &str) -> &'static str {
    match mime {
        "audio/x-m4a" => "M4A",
        "audio/ogg" => "Opus",
        m if m.starts_with("video/") => "MP4",
        _ => "MP3",
    }
}

/// `12:34` or `1:02:03`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// `1.2 MB` (decimal units, as podcast apps show them).
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

#[derive(Serialize)]
struct ChaptersJson<'a> {
    version: &'static str,
    chapters: Vec<ChapterJson<'a>>,
}

#[derive(Serialize)]
struct ChapterJson<'a> {
    #[serde(rename = "startTime")]
    start_time: f64,
    #[serde(rename = "endTime")]
    end_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// A Podcasting 2.0 JSON chapters file from ID3 CHAP frames.
pub fn chapters_json(chapters: &[Chapter]) -> Vec<u8> {
    let doc = ChaptersJson {
        version: "1.2.0",
        chapters: chapters
            .iter()
            .map(|c| ChapterJson {
                start_time: f64::from(c.start_ms) / 1000.0,
                end_time: f64::from(c.end_ms) / 1000.0,
                title: c.title.as_deref(),
                url: c.url.as_deref(),
            })
            .collect(),
    };
    let mut v = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page of a show without episodes, with `extra` appended to a minimal config.
    fn page(extra: &str, with_player: bool) -> String {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(d.path().join("episodes")).expect("mkdir");
        let text =
            format!("title: Show\ndescription: About\nbase_url: https://pod.example.com/\n{extra}");
        let config = Config::parse(&text, &d.path().join("podcast.yaml")).expect("config");
        let layout = Layout::new(&config, &config.output_dir);
        let pages = Pages::new(&config).expect("templates");
        let list = ListPage {
            number: 1,
            count: 1,
            episodes: &[],
        };
        let job = pages.list_page(&config, &layout, list, with_player);
        let html = pages.render(&job).expect("render");
        String::from_utf8(html).expect("utf-8")
    }

    #[test]
    fn the_player_script_is_on_the_page_only_with_the_player() {
        let html = page("", false);
        assert!(!html.contains("player.js"), "{html}");
        let html = page("", true);
        let script = concat!(
            r#"<script type="module" src="player.js" data-podseed-player "#,
            r#"data-ice-servers=""></script>"#
        );
        assert!(html.contains(script), "{html}");
    }

    #[test]
    fn the_page_uses_our_own_stun_unless_told_otherwise() {
        let public = "serve:\n  public_url: https://pod.example.com/\n";
        let html = page(public, true);
        assert!(
            html.contains(r#"data-ice-servers="stun:pod.example.com:6969""#),
            "{html}"
        );
        let html = page(&format!("{public}  udp_tracker: \"off\"\n"), true);
        assert!(html.contains(r#"data-ice-servers="""#), "{html}");
        let html = page(
            &format!("{public}page:\n  stun_servers: [\"stun:a.example:3478\", \"stun:b.example:19302\"]\n"),
            true,
        );
        assert!(
            html.contains(r#"data-ice-servers="stun:a.example:3478 stun:b.example:19302""#),
            "{html}"
        );
    }

    #[test]
    fn human_figures() {
        assert_eq!(human_duration(59.6), "1:00");
        assert_eq!(human_duration(3723.0), "1:02:03");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(123_456), "123 kB");
        assert_eq!(human_size(61_234_567), "61.2 MB");
    }

    #[test]
    fn chapters_json_shape() {
        let json = chapters_json(&[Chapter {
            start_ms: 1500,
            end_ms: 3000,
            title: Some("Intro".into()),
            url: None,
        }]);
        let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v["version"], "1.2.0");
        assert_eq!(v["chapters"][0]["startTime"], 1.5);
        assert_eq!(v["chapters"][0]["title"], "Intro");
        assert!(v["chapters"][0].get("url").is_none());
    }
}
