//! The access log: one line per HTTP request in the combined log format that log analysers
//! (GoAccess, AWStats, a podcast host's download counter) read, written when the response
//! has been sent (or abandoned), with the bytes actually sent.
//!
//! Lines go through a bounded queue to a writer thread, so a slow disk never holds up a
//! response: when the queue is full a line is dropped and counted, and the count is logged.
//! Off by default; `serve.access_log: stdout` or a file path turns it on. The file is opened
//! for appending, so `logrotate`'s `copytruncate` works with it.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Response, Uri, Version};

use crate::config;

/// Lines waiting for the writer at most; past this they are dropped (and counted).
const QUEUE: usize = 16_384;

/// The access log of one `serve`; cheap to share.
#[derive(Clone, Default)]
pub struct AccessLog {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tx: Mutex<Option<SyncSender<String>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    dropped: AtomicU64,
}

impl AccessLog {
    /// Opens the log `setting` names (None when off). Fails when the file cannot be opened.
    pub fn open(setting: &config::AccessLog) -> std::io::Result<AccessLog> {
        let out: Box<dyn Write + Send> = match setting {
            config::AccessLog::Off => return Ok(AccessLog::default()),
            config::AccessLog::Stdout => Box::new(std::io::stdout()),
            config::AccessLog::File(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(&rx, out))?;
        Ok(AccessLog {
            inner: Some(Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                dropped: AtomicU64::new(0),
            })),
        })
    }

    /// Whether requests are logged.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues one line; never blocks.
    fn push(&self, line: String) {
        let Some(inner) = &self.inner else { return };
        let sent = match &*inner.tx.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(tx) => tx.try_send(line),
            None => return,
        };
        if let Err(TrySendError::Full(_)) = sent {
            let n = inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!("access log: {n} lines dropped (the log cannot keep up)");
            }
        }
    }

    /// Writes what is queued and stops the writer (at shutdown).
    pub fn close(&self) {
        let Some(inner) = &self.inner else { return };
        inner.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let writer = inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = writer {
            let _ = w.join();
        }
    }

    /// Wraps `response` so that its line is logged once its body is sent or dropped.
    pub fn record(&self, request: Request, response: Response<Body>) -> Response<Body> {
        if !self.is_on() {
            return response;
        }
        let log = self.clone();
        super::sent::when_sent(response, move |status, bytes| {
            log.push(combined(&request, status, bytes));
        })
    }
}

/// What the log needs of a request, taken before the handler consumes it.
pub struct Request {
    client: IpAddr,
    time: chrono::DateTime<chrono::Utc>,
    line: String,
    referer: String,
    user_agent: String,
}

impl Request {
    /// The request `method uri version` from `client` with these headers, received now.
    pub fn new(
        client: IpAddr,
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
    ) -> Request {
        let header_text = |name: header::HeaderName| {
            headers
                .get(name)
                .map_or("-".to_string(), |v| escape(v.as_bytes()))
        };
        Request {
            client,
            time: chrono::Utc::now(),
            line: escape(format!("{method} {uri} {version:?}").as_bytes()),
            referer: header_text(header::REFERER),
            user_agent: header_text(header::USER_AGENT),
        }
    }
}

/// One line of the combined log format:
/// `client - - [day/Mon/year:H:M:S +0000] "request" status bytes "referer" "user-agent"`.
fn combined(r: &Request, status: u16, bytes: u64) -> String {
    let bytes = if bytes == 0 {
        "-".to_string()
    } else {
        bytes.to_string()
    };
    format!(
        "{} - - [{}] \"{}\" {status} {bytes} \"{}\" \"{}\"",
        r.client,
        r.time.format("%d/%b/%Y:%H:%M:%S +0000"),
        r.line,
        r.referer,
        r.user_agent
    )
}

/// Text a client sent, made safe for one log line: quotes and backslashes escaped, bytes
/// outside printable ASCII as `\xHH` (as nginx does), so no request can forge a line.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out
}

/// The writer thread: writes each batch of queued lines, then flushes (one write(2) per
/// batch, so `tail -f` sees lines at once and a busy server does not write per line).
fn write_lines(rx: &Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    let mut failed = false;
    let mut write = |out: &mut std::io::BufWriter<Box<dyn Write + Send>>, line: &str| {
        let wrote = out
            .write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = wrote {
            if !failed {
                tracing::warn!("access log: cannot write: {e}");
                failed = true;
            }
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                write(&mut out, &line);
                while let Ok(more) = rx.try_recv() {
                    write(&mut out, &more);
                }
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_in_the_combined_format_with_hostile_text_escaped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            "Pod\"cast\\App/1.0".parse().expect("ua"),
        );
        let uri: Uri = "/episodes/a%20b.mp3?x=1".parse().expect("uri");
        let mut r = Request::new(
            "203.0.113.9".parse().expect("ip"),
            &Method::GET,
            &uri,
            Version::HTTP_11,
            &headers,
        );
        r.time = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
        assert_eq!(
            combined(&r, 206, 1000),
            "203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] \"GET /episodes/a%20b.mp3?x=1 HTTP/1.1\" 206 1000 \"-\" \"Pod\\\"cast\\\\App/1.0\""
        );
        assert_eq!(escape(b"a\nb\x7f\xff"), "a\\x0Ab\\x7F\\xFF");
        assert!(combined(&r, 304, 0).contains(" 304 - "));
    }
}
