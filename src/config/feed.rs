//! The `feed:` section: how many episodes the feeds list. Every episode by default; a show
//! whose listeners' apps struggle with a very long feed may keep only the newest ones (the
//! show page and its archive still list them all).

use super::check::{Checker, Fields};

/// `feed:` settings.
#[derive(Debug, Clone, Default)]
pub struct FeedSettings {
    /// At most this many episodes in `feed.xml` and `torrents.xml` (the newest), when set.
    pub limit: Option<usize>,
}

/// Reads `feed:` from the top-level mapping.
pub(super) fn read_feed(c: &mut Checker, f: &mut Fields<'_>) -> FeedSettings {
    let mut settings = FeedSettings::default();
    let Some((v, p)) = f.get("feed") else {
        return settings;
    };
    let mut ff = Fields::new(c, v, &p);
    if let Some(n) = ff.number(c, "limit") {
        if n >= 1 {
            settings.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
        } else {
            let path = ff.field_path("limit");
            c.problem(&path, "expected a number of episodes, 1 or more");
        }
    }
    ff.finish(c);
    settings
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};

    #[test]
    fn the_feed_keeps_every_episode_unless_limited() {
        let d = dir_with_episode();
        let c = parse_in(d.path(), MINIMAL).expect("valid");
        assert_eq!(c.feed.limit, None);
        let c = parse_in(d.path(), &format!("{MINIMAL}feed:\n  limit: 300\n")).expect("valid");
        assert_eq!(c.feed.limit, Some(300));
        for bad in ["limit: 0", "limit: lots", "size: 3"] {
            let text = format!("{MINIMAL}feed:\n  {bad}\n");
            let err = parse_in(d.path(), &text).expect_err("bad").to_string();
            assert!(err.contains("feed."), "{err}");
        }
    }
}
