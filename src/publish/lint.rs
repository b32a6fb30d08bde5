//! The rules a built show is held to beyond what makes it buildable: Apple's and the
//! podcast namespace's (artwork, owner, category, explicit, descriptions, titles, HTTPS
//! enclosures), placeholders left from `podseed init`, and torrents without a tracker.
//!
//! Pure judgement over a planned build: it reads artwork bytes (a header each) and
//! nothing else, and never fails; each broken rule is a [`Finding`] with a stable rule id,
//! a severity, the place and the fix. `publish` prints them as warnings and keeps
//! building; `podseed check` reports them with its online probes and sets its exit code.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::config::{Config, PLACEHOLDER_COVER};

use super::artwork::{self, ArtworkError};
use super::layout::Layout;
use super::output::{Content, OutputFile};
use super::{notes, Episode};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Works, but apps or directories will show it badly or a listener will miss out.
    Warning,
    /// Apple (or the feed's readers) will reject or break on it.
    Error,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id (listed in the README).
    pub rule: &'static str,
    /// Warning or error.
    pub severity: Severity,
    /// Where: a config field, a source file or a URL.
    pub place: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

impl Finding {
    /// A finding of `rule` at `place`.
    pub fn new(
        rule: &'static str,
        severity: Severity,
        place: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            rule,
            severity,
            place: place.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// As `podseed check` prints it: `severity[rule] place: message`, then the fix.
impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}] {}: {}\n    fix: {}",
            self.severity, self.rule, self.place, self.message, self.fix
        )
    }
}

impl Finding {
    /// The line `publish` prints for this finding: publish builds anyway, so it leads with
    /// the place rather than a severity, and says what `podseed check` will make of it.
    pub fn as_publish_warning(&self) -> String {
        let verdict = match self.severity {
            Severity::Warning => "a warning",
            Severity::Error => "an error",
        };
        format!(
            "{}: {}; {} [{}: {verdict} for podseed check]",
            self.place, self.message, self.fix, self.rule
        )
    }
}

/// Apple shows at most this many bytes of a description.
pub const DESCRIPTION_MAX_BYTES: usize = 4000;

/// Every rule the planned build breaks, in a stable order.
pub fn lint(
    config: &Config,
    layout: &Layout,
    episodes: &[Episode],
    assets: &[OutputFile],
    trackers: &[String],
) -> Vec<Finding> {
    let mut out = Vec::new();
    show_rules(config, &mut out);
    placeholders(config, &mut out);
    show_artwork(config, layout, &mut out);
    episode_artwork(layout, episodes, assets, &mut out);
    descriptions(episodes, &mut out);
    duplicate_titles(episodes, &mut out);
    enclosures(episodes, &mut out);
    if trackers.is_empty() && !episodes.is_empty() {
        out.push(Finding::new(
            "torrent-no-tracker",
            Severity::Warning,
            config_place(config, "torrent.trackers"),
            "the torrents and magnets name no tracker, so BitTorrent clients find peers only through DHT and the web seed",
            "set serve.public_url to where `podseed serve` is reached (its trackers go into every torrent), or list trackers under torrent.trackers",
        ));
    }
    out
}

fn config_place(config: &Config, field: &str) -> String {
    format!("{}: {field}", config.path.display())
}

/// Required channel elements Apple checks.
fn show_rules(config: &Config, out: &mut Vec<Finding>) {
    let show = &config.show;
    if show.image.is_none() {
        out.push(Finding::new(
            "show-image-missing",
            Severity::Error,
            config_place(config, "image"),
            "the show has no artwork; Apple requires it",
            "set image: to a square JPEG or PNG of 1400 to 3000 pixels",
        ));
    }
    if show
        .owner
        .as_ref()
        .is_none_or(|o| o.email.trim().is_empty())
    {
        out.push(Finding::new(
            "owner-email-missing",
            Severity::Error,
            config_place(config, "owner.email"),
            "no owner email; Apple uses it to verify the show is yours",
            "set owner: with name: and email:",
        ));
    }
    if show.categories.is_empty() {
        out.push(Finding::new(
            "category-missing",
            Severity::Error,
            config_place(config, "categories"),
            "no Apple category; Apple requires at least one",
            "add categories: with e.g. \"Technology\" or \"Arts > Books\"",
        ));
    }
    if !show.explicit_given {
        out.push(Finding::new(
            "explicit-missing",
            Severity::Warning,
            config_place(config, "explicit"),
            "explicit is not stated, so the feed says false",
            "set explicit: true or explicit: false",
        ));
    }
    if notes::html_to_text(&show.description).is_empty() {
        out.push(Finding::new(
            "description-empty",
            Severity::Error,
            config_place(config, "description"),
            "the show's description is empty",
            "describe the show in a sentence or two",
        ));
    }
}

/// Values the starter config ships with, left unchanged.
fn placeholders(config: &Config, out: &mut Vec<Finding>) {
    let show = &config.show;
    let mut left = Vec::new();
    if show.base_url.host_str().is_some_and(is_example_host) {
        left.push(("base_url", show.base_url.to_string()));
    }
    if let Some(o) = &show.owner {
        if o.email.rsplit('@').next().is_some_and(is_example_host) {
            left.push(("owner.email", o.email.clone()));
        }
    }
    if show.title == "My Podcast" {
        left.push(("title", show.title.clone()));
    }
    if show.author == "Your Name" {
        left.push(("author", show.author.clone()));
    }
    if show.description.starts_with("What the show is about") {
        left.push(("description", show.description.clone()));
    }
    for (field, value) in left {
        out.push(Finding::new(
            "placeholder",
            Severity::Error,
            config_place(config, field),
            format!("{value:?} is a placeholder (left from `podseed init`, or a reserved example domain)"),
            format!("set {field} to your show's own value"),
        ));
    }
    let is_placeholder_cover = show
        .image
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .is_some_and(|b| b == PLACEHOLDER_COVER);
    if is_placeholder_cover {
        out.push(Finding::new(
            "placeholder",
            Severity::Error,
            config_place(config, "image"),
            "the cover is the placeholder `podseed init` wrote",
            "replace the file with your show's artwork (square JPEG or PNG, 1400 to 3000 pixels)",
        ));
    }
}

/// example.com, .org, .net and their subdomains (RFC 2606), the starter's hosts.
fn is_example_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|e| host == *e || host.ends_with(&format!(".{e}")))
}

fn show_artwork(config: &Config, layout: &Layout, out: &mut Vec<Finding>) {
    let Some((_, source)) = layout.cover() else {
        return;
    };
    let place = source.display().to_string();
    match std::fs::read(source) {
        Ok(bytes) => artwork_rules(&place, &bytes, Severity::Error, out),
        Err(e) => out.push(Finding::new(
            "artwork-format",
            Severity::Error,
            place,
            format!("cannot be read: {e}"),
            format!("fix image: in {}", config.path.display()),
        )),
    }
}

/// Episode artwork: the image files of the plan (from the config or the tags), found by
/// their URL's path below base_url.
fn episode_artwork(
    layout: &Layout,
    episodes: &[Episode],
    assets: &[OutputFile],
    out: &mut Vec<Finding>,
) {
    let by_rel: HashMap<&str, &Content> = assets
        .iter()
        .map(|f| (f.rel.as_str(), &f.content))
        .collect();
    for e in episodes {
        let Some(url) = &e.image_url else { continue };
        let Some(rel) = url.as_str().strip_prefix(layout.base_url().as_str()) else {
            continue;
        };
        let rel = percent_encoding::percent_decode_str(rel).decode_utf8_lossy();
        let Some(content) = by_rel.get(rel.as_ref()) else {
            continue;
        };
        let embedded = format!("{} (embedded picture, published as {rel})", e.rel);
        let (place, bytes) = match content {
            Content::Bytes(b) => (embedded, Cow::Borrowed(b.as_slice())),
            // An unchanged episode's picture is the previous build's copy: still embedded.
            Content::SameAs(p) if p.starts_with(layout.root()) => (embedded, head_of(p)),
            Content::SameAs(p) => (p.display().to_string(), head_of(p)),
            // Already in the output, unchanged: the published copy.
            Content::Kept => (embedded, head_of(&layout.root().join(rel.as_ref()))),
        };
        // Apple drops a bad episode image and shows the show's: a warning, not an error.
        artwork_rules(&place, &bytes, Severity::Warning, out);
    }
}

/// Bytes of an image file enough to judge it: its first [`HEAD_BYTES`] (where PNG and
/// nearly every JPEG state their size), the whole file when its header goes on past them
/// (a JPEG with large metadata first); nothing when it cannot be read.
fn head_of(path: &Path) -> Cow<'static, [u8]> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Cow::Borrowed(&[]);
    };
    // One buffer of the full size: a growing one costs a read per doubling.
    let mut head = vec![0u8; HEAD_BYTES];
    let Ok(n) = super::media::read_up_to(&mut file, &mut head) else {
        return Cow::Borrowed(&[]);
    };
    head.truncate(n);
    let cut = n == HEAD_BYTES;
    if cut && matches!(artwork::inspect(&head), Err(ArtworkError::BadHeader(_))) {
        return Cow::Owned(std::fs::read(path).unwrap_or_default());
    }
    Cow::Owned(head)
}

/// What [`head_of`] reads first of an image: every build judges every episode's artwork.
const HEAD_BYTES: usize = 64 * 1024;

/// Apple's artwork rules for one image's bytes.
pub fn artwork_rules(place: &str, bytes: &[u8], severity: Severity, out: &mut Vec<Finding>) {
    let fix_size = format!(
        "export it as a square of {} to {} pixels",
        artwork::MIN_SIDE,
        artwork::MAX_SIDE
    );
    let a = match artwork::inspect(bytes) {
        Ok(a) => a,
        Err(e) => {
            let fix = match e {
                ArtworkError::OtherFormat(_) => {
                    "convert it to JPEG or PNG (renaming is not enough)"
                }
                ArtworkError::BadHeader(_) => "export the image again",
            };
            out.push(Finding::new(
                "artwork-format",
                severity,
                place,
                e.to_string(),
                fix,
            ));
            return;
        }
    };
    for p in artwork::problems(&a) {
        out.push(match p {
            artwork::Problem::Size(m) => {
                Finding::new("artwork-size", severity, place, m, &fix_size)
            }
            artwork::Problem::Colour(m) => Finding::new(
                "artwork-colour",
                severity,
                place,
                m,
                "convert it to the RGB colour space",
            ),
        });
    }
}

fn descriptions(episodes: &[Episode], out: &mut Vec<Finding>) {
    for e in episodes {
        let text = notes::html_to_text(&e.description);
        if text.is_empty() {
            out.push(Finding::new(
                "description-empty",
                Severity::Warning,
                &e.rel,
                "the episode's description is empty",
                format!(
                    "write show notes in {} beside it, or set description: for it",
                    md_name(&e.rel)
                ),
            ));
        } else if text.trim() == e.title.trim() {
            out.push(Finding::new(
                "description-is-title",
                Severity::Warning,
                &e.rel,
                "the description only repeats the title (no notes were found in the config, a Markdown file or the tags)",
                format!("write show notes in {} beside it, or set description: for it", md_name(&e.rel)),
            ));
        }
        if e.description.len() > DESCRIPTION_MAX_BYTES {
            out.push(Finding::new(
                "description-too-long",
                Severity::Warning,
                &e.rel,
                format!(
                    "the description has {} bytes; Apple shows {DESCRIPTION_MAX_BYTES}",
                    e.description.len()
                ),
                "shorten the notes, or link to a page with the rest",
            ));
        }
    }
}

fn md_name(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => format!("{stem}.md"),
        _ => format!("{name}.md"),
    }
}

fn duplicate_titles(episodes: &[Episode], out: &mut Vec<Finding>) {
    let mut first: HashMap<String, &str> = HashMap::new();
    for e in episodes {
        let key = e.title.trim().to_lowercase();
        match first.get(&key) {
            Some(other) => out.push(Finding::new(
                "title-duplicate",
                Severity::Warning,
                &e.rel,
                format!("has the same title as {other}: {:?}", e.title),
                "give every episode its own title (apps list them by title)",
            )),
            None => {
                first.insert(key, &e.rel);
            }
        }
    }
}

fn enclosures(episodes: &[Episode], out: &mut Vec<Finding>) {
    for e in episodes {
        // A show served from this machine is a preview (or a test), never submitted.
        if e.media_url.scheme() != "https" && !is_loopback(&e.media_url) {
            out.push(Finding::new(
                "enclosure-not-https",
                Severity::Warning,
                e.media_url.as_str(),
                "the enclosure URL is not HTTPS; Apple and some apps refuse or warn on plain HTTP",
                "serve the show over HTTPS and use an https:// base_url (or media_base_url)",
            ));
        }
        if e.mime_type == "audio/ogg" {
            out.push(Finding::new(
                "enclosure-not-apple",
                Severity::Warning,
                e.rel.as_str(),
                "is Ogg Opus, which Apple Podcasts does not play (other apps do)",
                "publish an M4A or MP3 of it for Apple's listeners (e.g. `ffmpeg -i IN.opus -c:a aac -b:a 96k -movflags +faststart OUT.m4a`), or keep it for apps that play Opus",
            ));
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_hosts() {
        assert!(is_example_host("example.com"));
        assert!(is_example_host("pod.Example.org"));
        assert!(!is_example_host("myexample.com"));
    }

    #[test]
    fn artwork_rules_name_the_rule() {
        let mut out = Vec::new();
        artwork_rules("c.png", b"GIF89a", Severity::Error, &mut out);
        assert_eq!(out[0].rule, "artwork-format");
        out.clear();
        let png = super::super::artwork::tests::png_header(500, 300, 0);
        artwork_rules("c.png", &png, Severity::Error, &mut out);
        let rules: Vec<_> = out.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["artwork-size", "artwork-colour"]);
        out.clear();
        artwork_rules("c.png", PLACEHOLDER_COVER, Severity::Error, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn md_names() {
        assert_eq!(md_name("s1/ep.1.mp3"), "ep.1.md");
        assert_eq!(md_name("ep"), "ep.md");
    }

    #[test]
    fn an_image_is_judged_by_its_head_or_whole_when_its_header_runs_past_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let small = artwork::tests::jpeg_header(1400, 1400, 3);
        // Two APP1 segments of 65,533 bytes (metadata) before the frame header.
        let mut big = vec![0xFF, 0xD8];
        for _ in 0..2 {
            big.extend_from_slice(&[0xFF, 0xE1, 0xFF, 0xFF]);
            big.extend(std::iter::repeat_n(0u8, 65_533));
        }
        big.extend_from_slice(&small[2..]);
        for (name, bytes) in [("small.jpg", &small), ("big.jpg", &big)] {
            let path = d.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            let a = artwork::inspect(&head_of(&path)).expect(name);
            assert_eq!((a.width, a.height), (1400, 1400), "{name}");
        }
        assert!(head_of(&d.path().join("missing.jpg")).is_empty());
    }
}
