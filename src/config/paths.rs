//! Where the config's files and URLs are: joining relative paths to base URLs, one
//! spelling per listed file, checking that named sources exist, and keeping the output
//! folder apart from every source. It does not decide the output layout of a build (that
//! is `publish`'s), and it reads no YAML itself.

use std::path::{Path, PathBuf};

use url::Url;

use super::check::Checker;
use super::EpisodeConfig;

/// Joins a relative path (with `/` separators) to a base URL, percent-encoding each segment.
pub fn join_url(base: &Url, relative: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
        for part in relative.split('/') {
            segs.push(part);
        }
    }
    url
}

/// Makes sure a base URL ends in `/` so relative joins stay below it.
pub(super) fn as_directory(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// `base` joined with the folder `dir`, ending in `/`.
pub(super) fn join_dir(base: &Url, dir: &str) -> Url {
    as_directory(join_url(base, dir))
}

/// `./a//b.mp3` → `a/b.mp3`: `/` separators, no empty or `.` segments.
pub fn normalize_rel(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `dir`/`name` when it is a file, else a problem at `field`.
pub(super) fn existing_file(
    c: &mut Checker,
    field: &str,
    dir: &Path,
    name: &str,
) -> Option<PathBuf> {
    let p = dir.join(name);
    if p.is_file() {
        Some(p)
    } else {
        c.problem(
            field,
            format!(
                "{} does not exist (paths are relative to {})",
                p.display(),
                display_dir(dir)
            ),
        );
        None
    }
}

/// A folder for messages: `.` rather than nothing.
fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".to_string()
    } else {
        dir.display().to_string()
    }
}

/// The path as the filesystem resolves it (symlinks followed), for overlap checks; a path
/// that does not exist yet resolves through its nearest existing ancestor.
pub(super) fn resolved(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// The files besides the episodes' audio that a build reads, by field: the show's artwork,
/// the templates, and each episode's artwork, chapters and transcript.
fn attachments(
    image: &Option<PathBuf>,
    templates_dir: &Option<PathBuf>,
    episodes: &[EpisodeConfig],
) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    if let Some(i) = image {
        found.push(("image".into(), i.clone()));
    }
    if let Some(t) = templates_dir {
        found.push(("templates_dir".into(), t.clone()));
    }
    for (i, e) in episodes.iter().enumerate() {
        for (key, v) in [
            ("image", &e.image),
            ("chapters", &e.chapters),
            ("transcript", &e.transcript),
        ] {
            if let Some(v) = v {
                found.push((format!("episodes[{i}].{key}"), v.clone()));
            }
        }
    }
    found
}

/// The output folder is podseed's alone (it deletes what it no longer writes there), so no
/// source may live in it, and it may not overlap the episodes folder either way.
pub(super) fn check_output_is_separate(
    c: &mut Checker,
    output_dir: &Path,
    episodes_dir: &Path,
    image: &Option<PathBuf>,
    templates_dir: &Option<PathBuf>,
    episodes: &[EpisodeConfig],
) {
    let out = resolved(output_dir);
    let eps = resolved(episodes_dir);
    if out.starts_with(&eps) || eps.starts_with(&out) {
        c.problem(
            "output_dir",
            format!(
                "{} overlaps episodes_dir {}; podseed would publish its own output (and may delete in it): use separate folders",
                output_dir.display(),
                episodes_dir.display()
            ),
        );
        return;
    }
    let inputs = attachments(image, templates_dir, episodes);
    for (field, path) in inputs {
        if resolved(&path).starts_with(&out) {
            c.problem(
                &field,
                format!(
                    "{} is inside output_dir {}; keep sources outside the output folder",
                    path.display(),
                    output_dir.display()
                ),
            );
        }
    }
}

/// Every source (episodes, artwork, chapters, transcripts, templates) must resolve inside
/// `root`, the config's folder, links followed: a pull request that edits podcast.yaml (or
/// adds a link) must not get a CI runner to publish its secrets. `allow_sources_outside`
/// lifts the rule for podcasters who keep media elsewhere on purpose.
pub(super) fn check_sources_inside(
    c: &mut Checker,
    root: &Path,
    episodes_dir: &Path,
    image: &Option<PathBuf>,
    templates_dir: &Option<PathBuf>,
    episodes: &[EpisodeConfig],
) {
    let mut sources: Vec<(String, PathBuf)> = vec![("episodes_dir".into(), episodes_dir.into())];
    for (i, e) in episodes.iter().enumerate() {
        sources.push((format!("episodes[{i}].file"), episodes_dir.join(&e.file)));
    }
    sources.extend(attachments(image, templates_dir, episodes));
    for (field, path) in sources {
        let real = resolved(&path);
        if !real.starts_with(root) {
            c.problem(
                &field,
                format!(
                    "{} is outside the config's folder {} (it resolves to {}); move it inside, or set `allow_sources_outside: true` if publishing files from elsewhere is intended",
                    path.display(),
                    root.display(),
                    real.display()
                ),
            );
        }
    }
}

/// The image format from its magic bytes (artwork in the config, pictures in ID3 tags); podcast apps show JPEG and PNG, browsers all four.
pub fn image_extension(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(b"GIF8") {
        Some("gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// Artwork must be what podcast apps show: PNG or JPEG, told by its first bytes.
pub(super) fn check_artwork(c: &mut Checker, field: &str, path: &Path) {
    let mut head = [0u8; 12];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    if !matches!(image_extension(&head[..n]), Some("png" | "jpg")) {
        c.problem(
            field,
            format!(
                "{} is not a PNG or JPEG image; podcast apps show only these (Apple asks for 1400 to 3000 pixels square)",
                path.display()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};
    use super::*;

    #[test]
    fn image_formats_by_magic() {
        assert_eq!(image_extension(b"\x89PNG\r\n\x1a\nrest"), Some("png"));
        assert_eq!(image_extension(b"GIF89a"), Some("gif"));
        assert_eq!(image_extension(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(image_extension(b"BM"), None);
    }

    #[test]
    fn output_must_not_overlap_sources() {
        let d = dir_with_episode();
        std::fs::write(d.path().join("cover.png"), b"png").expect("write");
        let text = format!("{MINIMAL}output_dir: .\nimage: cover.png\n");
        let err = parse_in(d.path(), &text).expect_err("overlap").to_string();
        assert!(
            err.contains("output_dir:") && err.contains("overlaps episodes_dir"),
            "{err}"
        );
        let text = format!("{MINIMAL}output_dir: site\nimage: site/cover.png\n");
        std::fs::create_dir(d.path().join("site")).expect("mkdir");
        std::fs::write(d.path().join("site/cover.png"), b"png").expect("write");
        let err = parse_in(d.path(), &text).expect_err("inside").to_string();
        assert!(
            err.contains("image:") && err.contains("inside output_dir"),
            "{err}"
        );
        let text = format!("{MINIMAL}episodes_dir: episodes\noutput_dir: episodes/public\n");
        let err = parse_in(d.path(), &text).expect_err("nested").to_string();
        assert!(err.contains("overlaps episodes_dir"), "{err}");
    }

    #[test]
    fn url_join_encodes_segments() {
        let base = Url::parse("https://e.com/pod/").expect("url");
        assert_eq!(
            join_url(&base, "episodes/my show #1.mp3").as_str(),
            "https://e.com/pod/episodes/my%20show%20%231.mp3"
        );
    }
}
