//! A show to publish: a temp copy of the shipped example (podcast.yaml + examples/), edited
//! by builder calls (a `serve:` section, loopback URLs, more episodes, any config line), and
//! publish's JSON summary read back. Writes only inside its own temp folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::{copy_tree, podseed, podseed_ok, repo, unhex20};

/// The example's public URL, which a loopback show replaces.
const EXAMPLE_BASE_URL: &str = "https://podcast.example.com/seedbox/";
/// The example's tracker list.
const EXAMPLE_TRACKERS: &str = "  trackers:\n    - udp://tracker.opentrackr.org:1337/announce\n";

/// A show in a temp folder; the folder goes when the show is dropped.
pub struct Show {
    dir: tempfile::TempDir,
    /// The port the show's public URL names (`http://127.0.0.1:PORT/`), when it is served
    /// from loopback.
    http_port: Option<u16>,
}

impl Show {
    /// A temp copy of the shipped example, unpublished.
    pub fn example() -> Show {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&repo().join("examples"), &dir.path().join("examples"));
        std::fs::copy(repo().join("podcast.yaml"), dir.path().join("podcast.yaml")).expect("copy");
        Show {
            dir,
            http_port: None,
        }
    }

    /// The example served from loopback by our seeder alone: no web seed, no other
    /// tracker, and `serve` (usually [`Serve::seeder`]) for the server.
    pub fn seeded_alone(serve: Serve) -> Show {
        Show::example()
            .served_from_loopback(&[])
            .without_web_seed()
            .with_serve(serve)
    }

    /// The show's public URLs (base_url, and so the web seeds and `public_url`) point at
    /// `http://127.0.0.1:PORT/` on a free port that [`Show::with_serve`] then binds; the
    /// example's public tracker is replaced by `trackers`.
    pub fn served_from_loopback(mut self, trackers: &[String]) -> Show {
        let port = super::free_port();
        self.http_port = Some(port);
        let base = self.base_url();
        self.edit_yaml(EXAMPLE_BASE_URL, &base);
        self.with_trackers(trackers)
    }

    /// The example's public tracker replaced by `trackers` (none: `trackers: []`).
    pub fn with_trackers(self, trackers: &[String]) -> Show {
        let list = if trackers.is_empty() {
            "  trackers: []\n".to_string()
        } else {
            let items: String = trackers.iter().map(|t| format!("    - {t}\n")).collect();
            format!("  trackers:\n{items}")
        };
        self.edit_yaml(EXAMPLE_TRACKERS, &list);
        self
    }

    /// Torrents without a web seed: only BitTorrent peers can serve them.
    pub fn without_web_seed(self) -> Show {
        self.with_yaml("  web_seed: true", "  web_seed: false")
    }

    /// podcast.yaml with `from` (which must be there) replaced by `to`.
    pub fn with_yaml(self, from: &str, to: &str) -> Show {
        self.edit_yaml(from, to);
        self
    }

    /// A `serve:` section appended to podcast.yaml. On a show
    /// [served from loopback](Show::served_from_loopback), the server's HTTP address and
    /// public URL are that port's.
    pub fn with_serve(self, serve: Serve) -> Show {
        let serve = match self.http_port {
            Some(port) => serve
                .set("http", &format!("127.0.0.1:{port}"))
                .set("public_url", &self.base_url()),
            None => serve,
        };
        let yaml = self.yaml();
        self.write_yaml(&format!("{yaml}{serve}"));
        self
    }

    /// Another config file `name` for the same show (podcast.yaml as it is, less any
    /// `serve:` section) with `serve` for its server.
    pub fn write_config(&self, name: &str, serve: Serve) {
        let yaml = self.yaml();
        let show = yaml.split("\nserve:\n").next().unwrap_or(&yaml);
        let show = show.trim_end_matches('\n');
        std::fs::write(self.path().join(name), format!("{show}\n{serve}")).expect("write");
    }

    /// `http://127.0.0.1:PORT/` of a show served from loopback.
    pub fn base_url(&self) -> String {
        let port = self.http_port.expect("a show served from loopback");
        format!("http://127.0.0.1:{port}/")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The output folder.
    pub fn public(&self) -> PathBuf {
        self.path().join("public")
    }

    /// The episodes folder the podcaster fills.
    pub fn episodes(&self) -> PathBuf {
        self.path().join("examples/episodes")
    }

    /// The bytes of the source episode `file`.
    pub fn source(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.episodes().join(file)).expect("source episode")
    }

    /// The published .torrent of episode `file` (`x.mp3` → `public/torrents/x.torrent`).
    pub fn torrent(&self, file: &str) -> PathBuf {
        let stem = Path::new(file).file_stem().expect("stem");
        self.public()
            .join("torrents")
            .join(stem)
            .with_extension("torrent")
    }

    /// The bencoded info dict of episode `file`'s published torrent.
    pub fn info_dict(&self, file: &str) -> Vec<u8> {
        lava_torrent::torrent::v1::Torrent::read_from_file(self.torrent(file))
            .expect("torrent")
            .construct_info()
            .encode()
    }

    pub fn yaml(&self) -> String {
        std::fs::read_to_string(self.path().join("podcast.yaml")).expect("yaml")
    }

    pub fn write_yaml(&self, text: &str) {
        std::fs::write(self.path().join("podcast.yaml"), text).expect("write yaml");
    }

    /// Replaces every `from` (there must be one) by `to` in podcast.yaml.
    pub fn edit_yaml(&self, from: &str, to: &str) {
        let yaml = self.yaml();
        assert!(yaml.contains(from), "podcast.yaml lacks {from:?}");
        self.write_yaml(&yaml.replace(from, to));
    }

    /// Copies `from` into the episodes folder as `file`.
    pub fn add_episode(&self, file: &str, from: &Path) {
        std::fs::copy(from, self.episodes().join(file)).expect("copy episode");
    }

    /// Adds episode `file` of about `bytes` bytes: MPEG-1 layer III frames (128 kbit/s,
    /// 44.1 kHz, 417 bytes each) with a pseudo-random payload, so every piece differs.
    pub fn add_synthetic_episode(&self, file: &str, bytes: usize) {
        self.write_synthetic_episode(file, bytes, 0);
    }

    /// Adds episode `file` of about `bytes` bytes that decoders play (as silence): frames as
    /// [`Show::add_synthetic_episode`] writes, whose side information is zero (no audio
    /// data, so browsers decode them without error) and whose remaining bytes, ancillary
    /// data to a decoder, are pseudo-random, so every piece still differs.
    pub fn add_playable_episode(&self, file: &str, bytes: usize) {
        self.write_frames(file, bytes, 0, 32);
    }

    /// Writes episode `file` as [`Show::add_synthetic_episode`] does, with a payload drawn
    /// from `seed`, under a temporary name renamed over `file` (as an editor saves): a file
    /// already published keeps its old bytes in the output until publish replaces it.
    pub fn write_synthetic_episode(&self, file: &str, bytes: usize, seed: u64) {
        self.write_frames(file, bytes, seed, 0);
    }

    /// MPEG-1 layer III frames up to `bytes`: the header, `zeros` zero bytes, then a
    /// pseudo-random payload from `seed`; written under a temporary name, then renamed.
    fn write_frames(&self, file: &str, bytes: usize, seed: u64, zeros: usize) {
        const HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x44];
        const FRAME: usize = 417;
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed;
        let mut out = Vec::with_capacity(bytes + FRAME);
        while out.len() < bytes {
            out.extend_from_slice(&HEADER);
            out.extend(std::iter::repeat_n(0, zeros));
            out.extend((0..FRAME - HEADER.len() - zeros).map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // Never 0xFF, so no payload byte starts a false frame sync.
                (state >> 56) as u8 & 0x7F
            }));
        }
        let tmp = self.episodes().join(format!(".{file}.partial"));
        std::fs::write(&tmp, out).expect("write episode");
        std::fs::rename(&tmp, self.episodes().join(file)).expect("rename episode");
    }

    /// Adds episode `file`, a copy of the welcome episode under another name (so another
    /// info hash).
    pub fn add_copy_of_welcome(&self, file: &str) {
        self.add_episode(file, &self.episodes().join("2026-01-15-welcome.mp3"));
    }

    /// Drops an example episode from disk and its entry from podcast.yaml's episodes list,
    /// as a podcaster removing it would.
    pub fn remove_episode(&self, file: &str) {
        std::fs::remove_file(self.episodes().join(file)).expect("rm");
        let yaml = self.yaml();
        let start = yaml
            .find(&format!("  - file: {file}\n"))
            .expect("episode entry");
        // The entry ends at the next episode, or at the next top-level key.
        let rest = &yaml[start + 1..];
        let end = rest
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .find(|&i| {
                let line = &rest[i..];
                line.starts_with("  - ") || line.starts_with(|c: char| !c.is_whitespace())
            })
            .map_or(yaml.len(), |i| start + 1 + i);
        self.write_yaml(&format!("{}{}", &yaml[..start], &yaml[end..]));
    }

    /// Runs `podseed ARGS` in the show's folder.
    pub fn podseed(&self, args: &[&str]) -> Output {
        podseed(self.path(), args)
    }

    /// `podseed publish --json ARGS`, which must succeed; its summary.
    pub fn publish_with(&self, args: &[&str]) -> Summary {
        let out = podseed_ok(self.path(), &[&["publish", "--json"], args].concat());
        Summary(serde_json::from_str(&out).expect("--json prints JSON"))
    }

    /// `podseed publish --json`, which must succeed; its summary.
    pub fn publish(&self) -> Summary {
        self.publish_with(&[])
    }

    /// The info hashes the output's manifest lists as published.
    pub fn published_info_hashes(&self) -> Vec<[u8; 20]> {
        let m: Value = serde_json::from_slice(
            &std::fs::read(self.public().join(".podseed/manifest.json")).expect("manifest"),
        )
        .expect("json");
        m["published"]
            .as_array()
            .expect("published")
            .iter()
            .map(|p| unhex20(p["info_hash"].as_str().expect("hash")))
            .collect()
    }
}

/// publish's `--json` summary; indexes like the JSON value it is.
#[derive(Clone, Debug)]
pub struct Summary(pub Value);

impl std::ops::Deref for Summary {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0
    }
}

impl Summary {
    /// The summary of episode `file`.
    pub fn episode(&self, file: &str) -> &Value {
        self.episodes()
            .iter()
            .find(|e| e["file"] == file)
            .unwrap_or_else(|| panic!("no episode {file} in the summary"))
    }

    pub fn episodes(&self) -> &Vec<Value> {
        self.0["episodes"].as_array().expect("episodes")
    }

    /// Episode summaries by file name.
    pub fn by_file(&self) -> BTreeMap<String, Value> {
        self.episodes()
            .iter()
            .map(|e| (e["file"].as_str().expect("file").to_string(), e.clone()))
            .collect()
    }

    /// The info hash of episode `file`.
    pub fn info_hash(&self, file: &str) -> [u8; 20] {
        unhex20(self.episode(file)["info_hash"].as_str().expect("hash"))
    }
}

/// A `serve:` section, one `key: value` line each, in order.
#[derive(Clone, Debug)]
pub struct Serve {
    lines: Vec<(String, String)>,
}

impl Serve {
    /// Tracker and web seed: HTTP and UDP on ephemeral loopback ports, no seeder.
    pub fn tracker() -> Serve {
        Serve { lines: Vec::new() }
            .set("http", "127.0.0.1:0")
            .set("udp_tracker", "127.0.0.1:0")
            .set("peer", "off")
    }

    /// The seeder: HTTP and peer on ephemeral loopback ports, no UDP tracker, no DHT.
    pub fn seeder() -> Serve {
        Serve { lines: Vec::new() }
            .set("http", "127.0.0.1:0")
            .set("udp_tracker", "off")
            .set("peer", "127.0.0.1:0")
            .set("dht", "false")
    }

    /// `key: value`, in place of an earlier value of `key`.
    pub fn set(mut self, key: &str, value: &str) -> Serve {
        match self.lines.iter_mut().find(|(k, _)| k == key) {
            Some(line) => line.1 = value.to_string(),
            None => self.lines.push((key.to_string(), value.to_string())),
        }
        self
    }

    /// `key:` followed by a YAML list of `items` (each quoted).
    pub fn list(self, key: &str, items: &[String]) -> Serve {
        let items: String = items.iter().map(|i| format!("\n    - \"{i}\"")).collect();
        self.set(key, &items)
    }
}

impl std::fmt::Display for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "serve:")?;
        for (k, v) in &self.lines {
            if v.starts_with('\n') {
                writeln!(f, "  {k}:{v}")?;
            } else {
                writeln!(f, "  {k}: {v}")?;
            }
        }
        Ok(())
    }
}
