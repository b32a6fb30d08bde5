//! CORS for everything the HTTP listener serves, so that a page or web app on another
//! origin can read the feed, chapters, transcripts, the web seed (WebTorrent in a browser
//! reads it with `fetch` and Range) and the tracker's figures.
//!
//! Everything here is public and read-only, and no request carries cookies or credentials,
//! so the answer is the same for every origin: `Access-Control-Allow-Origin: *` on every
//! response (errors, 206, 304 and 416 included; a browser reading a 416 or 404 must be
//! allowed to see it), and a fixed answer to every `OPTIONS` preflight. `/stats` and
//! `/metrics` are included on purpose: anyone can already fetch them without a browser,
//! and the show's page (served from a CDN, say) may show the swarm's figures. Not here:
//! which files exist, methods other than preflight (the routes decide).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};

/// Methods a cross-origin page may use.
pub const ALLOW_METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a cross-origin page may send: the ones a player or WebTorrent's web
/// seed client sets (`range`, `cache-control`, `user-agent` in its lib/webconn.js) and the
/// conditional ones a cache revalidating the feed sends.
pub const ALLOW_HEADERS: &str =
    "range, cache-control, if-none-match, if-modified-since, if-range, user-agent";
/// Response headers a cross-origin page may read beyond the CORS-safelisted ones: what a
/// ranged reader needs to know what it got.
pub const EXPOSE_HEADERS: &str = "Content-Range, Content-Length, Accept-Ranges, ETag";
/// How long a browser may keep a preflight answer, in seconds (a day; Chromium caps it
/// at two hours, Firefox at a day).
pub const MAX_AGE: &str = "86400";

/// Adds the headers every response carries.
pub fn add_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The answer to any `OPTIONS` request: 204 allowing the methods and headers above, for
/// any path (a preflight asks whether a request may be sent, not whether the file exists).
pub fn preflight() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    add_headers(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW_METHODS));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(headers: &HeaderMap, name: header::HeaderName) -> &str {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[test]
    fn preflight_allows_range_reads_from_any_origin() {
        let r = preflight();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(value(h, header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
        assert_eq!(
            value(h, header::ACCESS_CONTROL_ALLOW_METHODS),
            "GET, HEAD, OPTIONS"
        );
        let allowed = value(h, header::ACCESS_CONTROL_ALLOW_HEADERS);
        for name in [
            "range",
            "cache-control",
            "if-none-match",
            "if-modified-since",
            "if-range",
            "user-agent",
        ] {
            assert!(allowed.split(", ").any(|a| a == name), "{name}");
        }
        assert_eq!(value(h, header::ACCESS_CONTROL_MAX_AGE), "86400");
    }

    #[test]
    fn every_response_exposes_the_range_headers() {
        let mut h = HeaderMap::new();
        add_headers(&mut h);
        assert_eq!(value(&h, header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
        let exposed = value(&h, header::ACCESS_CONTROL_EXPOSE_HEADERS);
        for name in ["Content-Range", "Content-Length", "Accept-Ranges", "ETag"] {
            assert!(exposed.contains(name), "{name}");
        }
    }
}
