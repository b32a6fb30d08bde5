//! Where every file of the output folder lives and the public URL it is served at.
//!
//! [`Layout`] is built once per publish from the config and the output folder; every stage
//! asks it for paths and URLs instead of joining strings itself. Show-level files sit at the
//! root (`feed.xml`, `torrents.xml`, `index.html`, the cover image); each episode's files
//! are named after its path under `episodes_dir` ([`EpisodeFiles`]). Media URLs are under
//! `media_base_url`, everything else under `base_url`. This module only names things: it
//! reads and writes nothing, and the content of the files is the other stages' business.

use std::path::{Path, PathBuf};

use url::Url;

use crate::config::{join_url, Config};

use super::output::MANIFEST;

/// One output file: its path in the output folder and its public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPath {
    /// Path relative to the output folder, `/`-separated.
    pub rel: String,
    /// Where the world fetches it.
    pub url: Url,
}

/// The output folder's layout for one show.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    base_url: Url,
    media_base_url: Url,
    cover: Option<PathBuf>,
}

impl Layout {
    /// The layout of `root` for the show `config` describes.
    pub fn new(config: &Config, root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
            base_url: config.show.base_url.clone(),
            media_base_url: config.show.media_base_url.clone(),
            cover: config.show.image.clone(),
        }
    }

    /// The output folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `rel` (relative to the output folder) is on this machine.
    pub fn local(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The build manifest on this machine (never served, so it has no URL).
    pub fn manifest_file(&self) -> PathBuf {
        self.local(MANIFEST)
    }

    /// The main feed, `feed.xml`.
    pub fn feed(&self) -> OutputPath {
        self.site_file("feed.xml".into())
    }

    /// The BEP 36 feed, `torrents.xml`.
    pub fn torrent_feed(&self) -> OutputPath {
        self.site_file("torrents.xml".into())
    }

    /// The show's page, `index.html`.
    pub fn page(&self) -> OutputPath {
        self.site_file("index.html".into())
    }

    /// Page `number` (from 1) of the show's episode list: `index.html`, then
    /// `archive/2.html`, `archive/3.html`…
    pub fn list_page(&self, number: usize) -> OutputPath {
        if number <= 1 {
            self.page()
        } else {
            self.site_file(format!("archive/{number}.html"))
        }
    }

    /// The human page about subscribing, `subscribe.html` (the page's RSS button leads there).
    pub fn subscribe_page(&self) -> OutputPath {
        self.site_file("subscribe.html".into())
    }

    /// The XSL stylesheet a browser applies to `feed.xml`, `feed.xsl`.
    pub fn feed_stylesheet(&self) -> OutputPath {
        self.site_file("feed.xsl".into())
    }

    /// The site's root URL (`base_url`).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The show's artwork, copied to the root under its own file name, with its source file.
    pub fn cover(&self) -> Option<(OutputPath, &Path)> {
        let source = self.cover.as_deref()?;
        let name = file_name(&source.to_string_lossy()).to_string();
        Some((self.site_file(name), source))
    }

    /// The output files of the episode at `rel` (relative to `episodes_dir`).
    pub fn episode<'a>(&'a self, rel: &'a str) -> EpisodeFiles<'a> {
        EpisodeFiles { layout: self, rel }
    }

    /// The URL of an episode on the show's page, by its HTML id.
    pub fn episode_on_page(&self, anchor: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_fragment(Some(anchor));
        url
    }

    /// How the page links to `url`: relative when it is on the site (`./` for the site
    /// itself), else the absolute URL.
    pub fn link_from_page(&self, url: &str) -> String {
        self.link_from(&self.page().rel, url)
    }

    /// How the page at `from` (relative to the output folder) links to `url`: relative when
    /// it is on the site, else the absolute URL.
    pub fn link_from(&self, from: &str, url: &str) -> String {
        let up = "../".repeat(from.matches('/').count());
        match url.strip_prefix(self.base_url.as_str()) {
            Some("") if up.is_empty() => "./".to_string(),
            Some(rest) => format!("{up}{rest}"),
            None => url.to_string(),
        }
    }

    fn site_file(&self, rel: String) -> OutputPath {
        let url = join_url(&self.base_url, &rel);
        OutputPath { rel, url }
    }
}

/// Where one episode's files go: all named after its path under `episodes_dir`.
#[derive(Debug, Clone, Copy)]
pub struct EpisodeFiles<'a> {
    layout: &'a Layout,
    rel: &'a str,
}

impl EpisodeFiles<'_> {
    /// The media file's name (the torrent's `name`).
    pub fn name(&self) -> &str {
        file_name(self.rel)
    }

    /// The media, `episodes/<rel>`, served under `media_base_url`.
    pub fn media(&self) -> OutputPath {
        OutputPath {
            rel: format!("episodes/{}", self.rel),
            url: join_url(&self.layout.media_base_url, self.rel),
        }
    }

    /// The torrent, `torrents/<stem>.torrent`.
    pub fn torrent(&self) -> OutputPath {
        self.beside("torrents", "torrent")
    }

    /// The artwork, `images/<stem>.<ext>`.
    pub fn image(&self, ext: &str) -> OutputPath {
        self.beside("images", ext)
    }

    /// The JSON chapters, `chapters/<stem>.json`.
    pub fn chapters(&self) -> OutputPath {
        self.beside("chapters", "json")
    }

    /// The transcript, `transcripts/<stem>.<ext>`.
    pub fn transcript(&self, ext: &str) -> OutputPath {
        self.beside("transcripts", ext)
    }

    /// The episode's own page (its permalink), `e/<stem>.html`: a folder of its own, so it
    /// never meets the media under `episodes/`.
    pub fn page(&self) -> OutputPath {
        self.beside("e", "html")
    }

    /// The episode's HTML id on the page, before duplicates are numbered.
    pub fn anchor(&self) -> String {
        anchor_for(self.rel)
    }

    fn beside(&self, folder: &str, ext: &str) -> OutputPath {
        self.layout
            .site_file(format!("{folder}/{}.{ext}", stem(self.rel)))
    }
}

/// The last component of a `/`- or `\`-separated path.
fn file_name(rel: &str) -> &str {
    rel.rsplit(['/', '\\']).next().unwrap_or(rel)
}

/// `rel` without its extension (a leading-dot name keeps its dot).
fn stem(rel: &str) -> &str {
    match rel.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() && !s.ends_with('/') => s,
        _ => rel,
    }
}

/// A source file's extension, lower-cased, for the name it gets in the output.
pub fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// An HTML id from a path: lower-case letters and digits (any script) and dashes.
fn anchor_for(rel: &str) -> String {
    let mut a = String::new();
    for c in stem(rel).chars() {
        if c.is_alphanumeric() {
            a.extend(c.to_lowercase());
        } else if !a.ends_with('-') {
            a.push('-');
        }
    }
    format!("ep-{}", a.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(extra: &str) -> (tempfile::TempDir, Layout) {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("cover art.png"), b"\x89PNG\r\n\x1a\n").expect("write");
        std::fs::create_dir(d.path().join("episodes")).expect("mkdir");
        let yaml = format!(
            "title: T\ndescription: D\nbase_url: https://e.com/show/\nimage: cover art.png\n{extra}"
        );
        let config = Config::parse(&yaml, &d.path().join("podcast.yaml")).expect("config");
        let layout = Layout::new(&config, &d.path().join("public"));
        (d, layout)
    }

    #[test]
    fn show_files_sit_at_the_root_under_base_url() {
        let (d, l) = layout("");
        assert_eq!(l.feed().url.as_str(), "https://e.com/show/feed.xml");
        assert_eq!(l.torrent_feed().rel, "torrents.xml");
        assert_eq!(l.page().url.as_str(), "https://e.com/show/index.html");
        let (cover, source) = l.cover().expect("cover");
        assert_eq!(cover.rel, "cover art.png");
        assert_eq!(cover.url.as_str(), "https://e.com/show/cover%20art.png");
        assert_eq!(source, d.path().join("cover art.png"));
        assert_eq!(
            l.manifest_file(),
            d.path().join("public/.podseed/manifest.json")
        );
    }

    #[test]
    fn episode_files_are_named_after_the_media_path() {
        let (_d, l) = layout("");
        let e = l.episode("s1/My show #1.mp3");
        assert_eq!(e.name(), "My show #1.mp3");
        assert_eq!(e.media().rel, "episodes/s1/My show #1.mp3");
        assert_eq!(
            e.media().url.as_str(),
            "https://e.com/show/episodes/s1/My%20show%20%231.mp3"
        );
        assert_eq!(e.torrent().rel, "torrents/s1/My show #1.torrent");
        assert_eq!(e.image("jpg").rel, "images/s1/My show #1.jpg");
        assert_eq!(
            e.chapters().url.as_str(),
            "https://e.com/show/chapters/s1/My%20show%20%231.json"
        );
        assert_eq!(e.transcript("srt").rel, "transcripts/s1/My show #1.srt");
        assert_eq!(e.anchor(), "ep-s1-my-show-1");
        assert_eq!(e.page().rel, "e/s1/My show #1.html");
        assert_eq!(
            l.link_from(&e.page().rel, e.media().url.as_str()),
            "../../episodes/s1/My%20show%20%231.mp3"
        );
        assert_eq!(l.link_from("e/a.html", "https://e.com/show/"), "../");
        assert_eq!(l.subscribe_page().rel, "subscribe.html");
        assert_eq!(
            l.feed_stylesheet().url.as_str(),
            "https://e.com/show/feed.xsl"
        );
        assert_eq!(
            l.episode_on_page("ep-x").as_str(),
            "https://e.com/show/#ep-x"
        );
        assert_eq!(l.link_from_page("https://e.com/show/"), "./");
        assert_eq!(
            l.link_from_page(e.torrent().url.as_str()),
            "torrents/s1/My%20show%20%231.torrent"
        );
        assert_eq!(
            l.link_from_page("https://other.org/x"),
            "https://other.org/x"
        );
    }

    #[test]
    fn media_urls_follow_media_base_url_and_the_rest_base_url() {
        let (_d, l) = layout("media_base_url: https://cdn.example.net/bucket/\n");
        let e = l.episode("a.mp3");
        assert_eq!(e.media().rel, "episodes/a.mp3");
        assert_eq!(
            e.media().url.as_str(),
            "https://cdn.example.net/bucket/a.mp3"
        );
        assert_eq!(
            e.torrent().url.as_str(),
            "https://e.com/show/torrents/a.torrent"
        );
    }

    #[test]
    fn stems_and_anchors() {
        assert_eq!(stem("a.b.mp3"), "a.b");
        assert_eq!(stem(".hidden"), ".hidden");
        assert_eq!(stem("dir/.x"), "dir/.x");
        assert_eq!(stem("noext"), "noext");
        assert_eq!(file_name("a\\b.mp3"), "b.mp3");
        assert_eq!(anchor_for("Grüße & More.mp3"), "ep-grüße-more");
        assert_eq!(extension(Path::new("x/Art.PNG")), "png");
    }
}
