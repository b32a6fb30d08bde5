//! What an episode page shows of its chapters and transcript, read from the files podseed
//! publishes: WebVTT or SubRip cues as plain text with their start times, and the start
//! times and titles of a Podcasting 2.0 JSON chapters file. Pure text in, values out; a
//! file that does not parse gives fewer cues, never an error (the page is a courtesy, the
//! feed links the file itself).

use serde::Serialize;

/// One cue of a transcript: when it starts, who speaks (WebVTT `<v>`), and its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    /// Start in seconds.
    pub start_secs: f64,
    /// The speaker named by a WebVTT voice tag, if any.
    pub speaker: Option<String>,
    /// The cue's text without markup, lines joined by a space.
    pub text: String,
}

/// One chapter as the page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChapterMark {
    /// Start in seconds.
    pub start_secs: f64,
    /// The chapter's title (may be empty).
    pub title: String,
}

/// The cues of a WebVTT or SubRip file (both: blocks separated by blank lines, a timing
/// line with `-->`, then text). NOTE, STYLE and REGION blocks have no timing line and are
/// skipped.
pub fn cues(text: &str) -> Vec<Cue> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut cues = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines().skip_while(|l| !l.contains("-->"));
        let Some(timing) = lines.next() else { continue };
        let Some(start_secs) = timing.split("-->").next().and_then(timestamp) else {
            continue;
        };
        let mut speaker = None;
        let mut words = Vec::new();
        for line in lines {
            let (who, said) = strip_tags(line);
            if speaker.is_none() {
                speaker = who;
            }
            if !said.is_empty() {
                words.push(said);
            }
        }
        if !words.is_empty() {
            cues.push(Cue {
                start_secs,
                speaker,
                text: words.join(" "),
            });
        }
    }
    cues
}

/// `hh:mm:ss.ttt`, `mm:ss.ttt` or SubRip's `hh:mm:ss,ttt` in seconds.
fn timestamp(s: &str) -> Option<f64> {
    let s = s.trim().replace(',', ".");
    let mut secs = 0.0;
    for part in s.split(':') {
        let v: f64 = part.parse().ok()?;
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        secs = secs * 60.0 + v;
    }
    Some(secs)
}

/// A cue line without its markup (`<v Name>`, `<b>`, `<00:01.000>`…), with the voice's
/// name if the line has one, and the entities WebVTT allows decoded.
fn strip_tags(line: &str) -> (Option<String>, String) {
    let mut speaker = None;
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if let Some(name) = tag.strip_prefix('v').filter(|n| n.starts_with([' ', '.'])) {
            // `<v.loud Name>`: classes first, then the name after the first space.
            let name = name.split_once(' ').map_or("", |(_, n)| n).trim();
            if !name.is_empty() {
                speaker = Some(name.to_string());
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    (speaker, out.trim().to_string())
}

/// The chapters of a Podcasting 2.0 JSON chapters file (`{"chapters": [{"startTime",
/// "title"}]}`), in the file's order; chapters marked `"toc": false` are left out, as
/// the spec says players do.
pub fn chapters_from_json(bytes: &[u8]) -> Vec<ChapterMark> {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    let Some(list) = doc.get("chapters").and_then(|c| c.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .filter(|c| c.get("toc").and_then(|t| t.as_bool()) != Some(false))
        .filter_map(|c| {
            let start_secs = c.get("startTime")?.as_f64()?;
            let title = c.get("title").and_then(|t| t.as_str()).unwrap_or("");
            Some(ChapterMark {
                start_secs,
                title: title.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webvtt_cues_lose_markup_and_keep_voices() {
        let vtt = "WEBVTT\n\nNOTE a comment\n\n1\n00:00:01.500 --> 00:00:04.000 align:start\n<v.host Ada Lovelace>Hello &amp; <b>welcome</b>\nto the show\n\n01:05.000 --> 01:06.000\nBye\n";
        assert_eq!(
            cues(vtt),
            vec![
                Cue {
                    start_secs: 1.5,
                    speaker: Some("Ada Lovelace".into()),
                    text: "Hello & welcome to the show".into()
                },
                Cue {
                    start_secs: 65.0,
                    speaker: None,
                    text: "Bye".into()
                }
            ]
        );
    }

    #[test]
    fn subrip_cues_with_crlf() {
        let srt = "1\r\n00:00:02,250 --> 00:00:03,000\r\nOne\r\n\r\n2\r\n01:00:00,000 --> 01:00:01,000\r\nTwo\r\n";
        let c = cues(srt);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].start_secs, 2.25);
        assert_eq!(c[1].start_secs, 3600.0);
        assert_eq!(c[1].text, "Two");
    }

    #[test]
    fn garbage_gives_no_cues() {
        assert!(cues("--> -->\n\nx --> y\nz").is_empty());
        assert!(chapters_from_json(b"not json").is_empty());
    }

    #[test]
    fn json_chapters() {
        let json = br#"{"version":"1.2.0","chapters":[{"startTime":0,"title":"Intro"},{"startTime":12.5,"title":"Hidden","toc":false},{"startTime":30}]}"#;
        let c = chapters_from_json(json);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].title, "Intro");
        assert_eq!(c[1].start_secs, 30.0);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = cues(&s);
            let _ = chapters_from_json(s.as_bytes());
        }
    }
}
