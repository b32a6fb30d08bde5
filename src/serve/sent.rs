//! Response bodies that report, once sent or abandoned, how many bytes actually went out:
//! what the access log and the download counter both need, and the file handler cannot
//! know (a listener may hang up in the middle of an episode).

use axum::body::Body;
use axum::http::Response;
use futures_util::StreamExt;

/// Wraps `response` so that `on_end(status, bytes sent)` runs once its body has been sent
/// to the end or dropped (the connection closed first).
pub fn when_sent(
    response: Response<Body>,
    on_end: impl FnOnce(u16, u64) + Send + 'static,
) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let mut sent = Sent {
        status: parts.status.as_u16(),
        bytes: 0,
        on_end: Some(Box::new(on_end)),
    };
    // The closure owns `sent` (through a method call: a field alone would be copied out),
    // so `sent` drops, and reports, with the stream.
    let counted = body.into_data_stream().map(move |chunk| {
        if let Ok(c) = &chunk {
            sent.add(c.len());
        }
        chunk
    });
    Response::from_parts(parts, Body::from_stream(counted))
}

/// Bytes a body has sent so far, reported when it is dropped.
struct Sent {
    status: u16,
    bytes: u64,
    on_end: Option<Box<dyn FnOnce(u16, u64) + Send>>,
}

impl Sent {
    fn add(&mut self, n: usize) {
        self.bytes += n as u64;
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        if let Some(report) = self.on_end.take() {
            report(self.status, self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn reports_the_bytes_sent_whether_read_to_the_end_or_dropped() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        let r = when_sent(Response::new(Body::from("hello world")), move |s, n| {
            log.lock().expect("lock").push((s, n));
        });
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        assert_eq!(&body[..], b"hello world");
        let log = got.clone();
        let r = when_sent(Response::new(Body::from("unread")), move |s, n| {
            log.lock().expect("lock").push((s, n));
        });
        drop(r);
        assert_eq!(*got.lock().expect("lock"), [(200, 11), (200, 0)]);
    }
}
