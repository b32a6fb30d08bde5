//! Stage 5b: the HTML page (`index.html`) and the Podcasting 2.0 chapters files.
//!
//! The page comes from a minijinja template: the user's `templates_dir/index.html` when
//! there is one, else the built-in `templates/index.html`. The context holds plain strings
//! only (no clock), so the page is as deterministic as the feeds. No disk writes here.

use serde::Serialize;

use crate::config::Config;

use super::layout::Layout;
use super::probe::Chapter;
use super::{Episode, PublishError};

/// The built-in page template.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/index.html");

#[derive(Serialize)]
struct PageShow<'a> {
    title: &'a str,
    description_html: &'a str,
    author: &'a str,
    language: &'a str,
    link: &'a str,
    image_url: Option<String>,
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
    script: &'static str,
    /// STUN servers for WebRTC, space-separated (empty: host candidates only).
    ice_servers: String,
}

#[derive(Serialize)]
struct PageLink<'a> {
    url: &'a str,
    text: &'a str,
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
    torrent_url: String,
    magnet: &'a str,
    info_hash: String,
    image_url: Option<String>,
    season: Option<u32>,
    episode: Option<u32>,
    episode_type: &'static str,
    chapters_url: Option<String>,
    transcript_url: Option<String>,
}

/// Renders `index.html`, with the browser player when `with_player` (its scripts are in
/// the build).
pub fn render_page(
    config: &Config,
    layout: &Layout,
    episodes: &[Episode],
    with_player: bool,
) -> Result<Vec<u8>, PublishError> {
    let (source, name) = template(config)?;
    let show = &config.show;
    // The page links to its own site relatively, so it works wherever it is opened (a local
    // preview, a mirror); the feeds keep absolute URLs, as RSS requires.
    let rel = |url: &str| layout.link_from_page(url);
    let page_show = PageShow {
        title: &show.title,
        description_html: &show.description,
        author: &show.author,
        language: &show.language,
        link: show.link.as_str(),
        image_url: layout.cover().map(|(cover, _)| rel(cover.url.as_str())),
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
    };
    let page_episodes: Vec<PageEpisode<'_>> = episodes
        .iter()
        .map(|e| PageEpisode {
            anchor: &e.anchor,
            name: &e.name,
            title: &e.title,
            description_html: &e.description,
            date_human: e.pub_date.format("%-d %B %Y").to_string(),
            date_iso: e.pub_date.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            duration_human: human_duration(e.duration_secs),
            size_human: human_size(e.size),
            media_url: rel(e.media_url.as_str()),
            torrent_url: rel(e.torrent_url.as_str()),
            magnet: &e.magnet,
            info_hash: e.info_hash.to_hex(),
            image_url: e.image_url.as_ref().map(|u| rel(u.as_str())),
            season: e.season,
            episode: e.episode,
            episode_type: e.episode_type.as_str(),
            chapters_url: e.chapters_url.as_ref().map(|u| rel(u.as_str())),
            transcript_url: e.transcript.as_ref().map(|(u, _)| rel(u.as_str())),
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.set_formatter(html_formatter);
    let template_err = |e: minijinja::Error| PublishError::Template {
        name: name.clone(),
        message: format!("{e:#}"),
    };
    env.add_template("index.html", &source)
        .map_err(template_err)?;
    let tmpl = env.get_template("index.html").map_err(template_err)?;
    let html = tmpl
        .render(minijinja::context! {
            show => page_show,
            episodes => page_episodes,
            generator => concat!("podseed ", env!("CARGO_PKG_VERSION")),
            player => with_player.then(|| PagePlayer {
                script: super::webtorrent::PLAYER_REL,
                ice_servers: ice_servers(config).join(" "),
            }),
        })
        .map_err(template_err)?;
    Ok(html.into_bytes())
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

/// The page template's text and its name for error messages: the user's
/// `templates_dir/index.html` when there is one, else the built-in template.
fn template(config: &Config) -> Result<(String, String), PublishError> {
    match &config.templates_dir {
        Some(dir) if dir.join("index.html").is_file() => {
            let p = dir.join("index.html");
            let text = std::fs::read_to_string(&p).map_err(|source| PublishError::Io {
                path: p.clone(),
                source,
            })?;
            Ok((text, p.display().to_string()))
        }
        _ => Ok((
            DEFAULT_TEMPLATE.to_string(),
            "built-in index.html".to_string(),
        )),
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
        let html = render_page(&config, &layout, &[], with_player).expect("render");
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
