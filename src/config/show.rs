//! The show (channel) fields at the top of `podcast.yaml`: title, description, base and
//! media URLs, language, owner, artwork, Apple categories, type, funding and `podcast:guid`,
//! with their defaults and checks. It does not write the feed (that is `publish::feed`);
//! the folders and the other sections are read beside it in `config`.

use std::path::{Path, PathBuf};

use url::Url;
use uuid::Uuid;

use super::categories;
use super::check::{kind, Checker, Fields};
use super::paths::{as_directory, existing_file, join_dir, join_url};

/// Show (channel) metadata.
#[derive(Debug, Clone)]
pub struct Show {
    /// Show title.
    pub title: String,
    /// Show description (HTML allowed).
    pub description: String,
    /// Where the output folder is served; always ends with `/`.
    pub base_url: Url,
    /// Where episode MP3s are served; always ends with `/`.
    pub media_base_url: Url,
    /// Language code such as `en` or `en-us`.
    pub language: String,
    /// `itunes:author`.
    pub author: String,
    /// `itunes:owner`.
    pub owner: Option<Owner>,
    /// Show artwork, a local file copied to the output root.
    pub image: Option<PathBuf>,
    /// Apple categories.
    pub categories: Vec<Category>,
    /// `itunes:explicit`.
    pub explicit: bool,
    /// Whether the config sets `explicit` (Apple wants it stated; `check` warns otherwise).
    pub explicit_given: bool,
    /// `itunes:type`.
    pub kind: ShowType,
    /// Copyright line.
    pub copyright: Option<String>,
    /// The show's website; defaults to base_url.
    pub link: Url,
    /// `podcast:locked`.
    pub locked: bool,
    /// `podcast:funding` links.
    pub funding: Vec<Funding>,
    /// `podcast:guid`, pinned in the config or derived from the feed URL.
    pub guid: Uuid,
    /// Whether the config pins `guid` (else it follows base_url).
    pub guid_pinned: bool,
}

/// `itunes:owner`.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Owner name.
    pub name: String,
    /// Owner email (Apple uses it to verify ownership).
    pub email: String,
}

/// One Apple category with its subcategories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Top-level name.
    pub name: String,
    /// Subcategory names.
    pub subcategories: Vec<String>,
}

/// A `podcast:funding` link.
#[derive(Debug, Clone)]
pub struct Funding {
    /// Where listeners can support the show.
    pub url: Url,
    /// Link text.
    pub text: String,
}

/// `itunes:type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowType {
    /// Newest first; the default.
    Episodic,
    /// Oldest first, numbered.
    Serial,
}

impl ShowType {
    /// The value written into the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            ShowType::Episodic => "episodic",
            ShowType::Serial => "serial",
        }
    }
}

/// The show's fields as read, before the checks that need the whole file.
pub(super) struct ShowDraft {
    title: Option<String>,
    description: Option<String>,
    base_url: Option<Url>,
    media_base_url: Option<Url>,
    language: String,
    author: Option<String>,
    owner: Option<Owner>,
    /// Show artwork, wanted by the output-overlap check before the show is complete.
    pub(super) image: Option<PathBuf>,
    categories: Vec<Category>,
    explicit: Option<bool>,
    kind: ShowType,
    copyright: Option<String>,
    link: Option<Url>,
    locked: bool,
    funding: Vec<Funding>,
    guid: Option<Uuid>,
}

impl ShowDraft {
    /// Reads the show's fields from the top-level mapping; `image` is relative to `root`.
    pub(super) fn read(c: &mut Checker, f: &mut Fields<'_>, root: &Path) -> ShowDraft {
        let title = f.required_text(c, "title");
        let description = f.required_text(c, "description");
        let base_url = match f.url(c, "base_url") {
            Some(u) => Some(as_directory(u)),
            None => {
                if f.missing("base_url") {
                    f.report_missing(
                        c,
                        "base_url",
                        "this field is required (where the output folder is served, e.g. https://example.com/podcast/)",
                    );
                }
                None
            }
        };
        let media_base_url = f.url(c, "media_base_url").map(as_directory);
        let language = f.text(c, "language").unwrap_or_else(|| "en".to_string());
        if !is_language_code(&language) {
            c.problem(
                "language",
                format!("{language:?} is not a language code; expected e.g. en or en-us"),
            );
        }
        let author = f.text(c, "author");
        let owner = read_owner(c, f);
        let image = f
            .text(c, "image")
            .and_then(|t| existing_file(c, "image", root, &t));
        let categories = read_categories(c, f);
        let explicit = f.boolean(c, "explicit");
        let kind = match f.text(c, "type").as_deref() {
            None | Some("episodic") => ShowType::Episodic,
            Some("serial") => ShowType::Serial,
            Some(other) => {
                c.problem(
                    "type",
                    format!("{other:?} is not a show type; expected episodic or serial"),
                );
                ShowType::Episodic
            }
        };
        let copyright = f.text(c, "copyright");
        let link = f.url(c, "link");
        let locked = f.boolean(c, "locked").unwrap_or(false);
        let funding = read_funding(c, f);
        let guid = f.text(c, "guid").and_then(|g| match Uuid::parse_str(&g) {
            Ok(u) => Some(u),
            Err(_) => {
                c.problem(
                    "guid",
                    format!("{g:?} is not a UUID; expected e.g. 917393e3-1b1e-5cef-ace4-edaa54e1f810, or remove it to derive one from the feed URL"),
                );
                None
            }
        });
        ShowDraft {
            title,
            description,
            base_url,
            media_base_url,
            language,
            author,
            owner,
            image,
            categories,
            explicit,
            kind,
            copyright,
            link,
            locked,
            funding,
            guid,
        }
    }

    /// `podcast:locked` names the owner, so `locked: true` needs one.
    pub(super) fn check_lock(&self, c: &mut Checker) {
        if self.locked && self.owner.is_none() {
            c.problem(
                "locked",
                "locked: true needs owner.email (podcast:locked names the owner)",
            );
        }
    }

    /// The show with its derived defaults, or None when a required field was missing.
    pub(super) fn finish(self) -> Option<Show> {
        let base_url = self.base_url?;
        let media_base_url = self
            .media_base_url
            .unwrap_or_else(|| join_dir(&base_url, "episodes"));
        let feed = join_url(&base_url, "feed.xml");
        Some(Show {
            title: self.title?,
            description: self.description?,
            link: self.link.unwrap_or_else(|| base_url.clone()),
            guid_pinned: self.guid.is_some(),
            guid: self.guid.unwrap_or_else(|| podcast_guid_for(&feed)),
            base_url,
            media_base_url,
            language: self.language,
            author: self.author.unwrap_or_default(),
            owner: self.owner,
            image: self.image,
            categories: self.categories,
            explicit: self.explicit.unwrap_or(false),
            explicit_given: self.explicit.is_some(),
            kind: self.kind,
            copyright: self.copyright,
            locked: self.locked,
            funding: self.funding,
        })
    }
}

/// `owner:` with its name and a plausible email.
fn read_owner(c: &mut Checker, f: &mut Fields<'_>) -> Option<Owner> {
    let (v, p) = f.get("owner")?;
    let mut o = Fields::new(c, v, &p);
    let name = o.required_text(c, "name");
    let email = o.required_text(c, "email");
    if let Some(e) = &email {
        if !is_email(e) {
            c.problem(
                &format!("{p}.email"),
                format!("{e:?} is not an email address"),
            );
        }
    }
    o.finish(c);
    Some(Owner {
        name: name?,
        email: email?,
    })
}

/// `categories:` as Apple names them, subcategories grouped under their parent once.
fn read_categories(c: &mut Checker, f: &mut Fields<'_>) -> Vec<Category> {
    let mut categories: Vec<Category> = Vec::new();
    for (v, p) in f.list(c, "categories") {
        let Some(spec) = v.as_str() else {
            c.problem(
                &p,
                format!(
                    "expected text like \"Technology\" or \"Arts > Books\", found {}",
                    kind(v)
                ),
            );
            continue;
        };
        match categories::lookup(spec) {
            Ok((name, sub)) => {
                let i = match categories.iter().position(|c| c.name == name) {
                    Some(i) => i,
                    None => {
                        categories.push(Category {
                            name: name.to_string(),
                            subcategories: Vec::new(),
                        });
                        categories.len() - 1
                    }
                };
                let cat = &mut categories[i];
                if let Some(s) = sub {
                    if !cat.subcategories.iter().any(|x| x == s) {
                        cat.subcategories.push(s.to_string());
                    }
                }
            }
            Err(msg) => c.problem(&p, msg),
        }
    }
    categories
}

/// `funding:` links; text defaults to "Support the show".
fn read_funding(c: &mut Checker, f: &mut Fields<'_>) -> Vec<Funding> {
    let mut funding = Vec::new();
    for (v, p) in f.list(c, "funding") {
        let mut ff = Fields::new(c, v, &p);
        let url = ff.url(c, "url");
        let text = ff.text(c, "text");
        if ff.absent("url") {
            c.problem(&p, "missing url");
        }
        ff.finish(c);
        if let Some(url) = url {
            funding.push(Funding {
                text: text.unwrap_or_else(|| "Support the show".to_string()),
                url,
            });
        }
    }
    funding
}

/// The `podcast:guid` rule: UUIDv5 of the feed URL without scheme and trailing slashes.
pub fn podcast_guid_for(feed_url: &Url) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0xead4c236_bf58_58c6_a2c6_a6b28d128cb6);
    let s = feed_url.as_str();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    Uuid::new_v5(&NAMESPACE, s.trim_end_matches('/').as_bytes())
}

fn is_language_code(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, host)) => {
            !user.is_empty() && host.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};
    use super::*;

    #[test]
    fn categories_group_under_their_parent_and_funding_has_default_text() {
        let d = dir_with_episode();
        let text = format!(
            "{MINIMAL}categories: [Arts > Books, Technology, Arts > Design, Arts > Books]\nfunding:\n  - url: https://example.com/support\n"
        );
        let c = parse_in(d.path(), &text).expect("valid");
        let cats: Vec<(&str, Vec<&str>)> = c
            .show
            .categories
            .iter()
            .map(|c| {
                let subs = c.subcategories.iter().map(String::as_str).collect();
                (c.name.as_str(), subs)
            })
            .collect();
        assert_eq!(
            cats,
            [("Arts", vec!["Books", "Design"]), ("Technology", vec![])]
        );
        assert_eq!(c.show.funding[0].text, "Support the show");
    }

    #[test]
    fn podcast_guid_follows_the_namespace_rule() {
        // The example from the podcast namespace spec.
        let u = Url::parse("https://mp3s.nashownotes.com/pc20rss.xml").expect("url");
        assert_eq!(
            podcast_guid_for(&u).to_string(),
            "917393e3-1b1e-5cef-ace4-edaa54e1f810"
        );
    }
}
