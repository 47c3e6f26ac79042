//! Writing to a connection: every write bounded in time (a peer that stops reading
//! is dropped), and the encodings of direct answers.

use crate::{CloseReason, FrameSink};
use bytes::Bytes;
use sova_types::frames::ServerFrame;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Bounds every write by `WRITE_TIMEOUT`.
pub(crate) struct TimedSink<K> {
    pub(crate) inner: K,
    /// While set, a write blocked on a peer that stopped reading gives up as soon as
    /// the hub flags this connection as a slow consumer.
    pub(crate) abort: Option<CancellationToken>,
    pub(crate) limit: Duration,
}

fn timed_out(_: tokio::time::error::Elapsed) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "peer is not reading")
}

async fn aborted(token: &Option<CancellationToken>) {
    match token {
        Some(t) => t.cancelled().await,
        None => std::future::pending().await,
    }
}

impl<K: FrameSink> FrameSink for TimedSink<K> {
    async fn feed(&mut self, frame: Bytes) -> std::io::Result<()> {
        tokio::select! {
            r = tokio::time::timeout(self.limit, self.inner.feed(frame)) => r.map_err(timed_out)?,
            _ = aborted(&self.abort) => Err(std::io::Error::other("slow consumer")),
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        tokio::select! {
            r = tokio::time::timeout(self.limit, self.inner.flush()) => r.map_err(timed_out)?,
            _ = aborted(&self.abort) => Err(std::io::Error::other("slow consumer")),
        }
    }

    async fn close(&mut self, reason: CloseReason) {
        let _ = tokio::time::timeout(self.limit, self.inner.close(reason)).await;
    }
}

/// Queues one frame; the caller flushes.
pub(crate) async fn feed_frame<K: FrameSink>(sink: &mut K, frame: &ServerFrame) -> std::io::Result<()> {
    sink.feed(Bytes::from(frame.to_json())).await
}

pub(crate) async fn send_frame<K: FrameSink>(sink: &mut K, frame: &ServerFrame) -> std::io::Result<()> {
    sink.feed(Bytes::from(frame.to_json())).await?;
    sink.flush().await
}

/// `{"type":"result","re"?,"data"}` around an operation's JSON body (`null` when it
/// has none), without parsing the body again.
pub(crate) fn result_frame(re: Option<&str>, body: Option<&Bytes>) -> Bytes {
    let data: &[u8] = body.map_or(b"null", |b| b.as_ref());
    let mut out = Vec::with_capacity(40 + data.len() + re.map_or(0, str::len));
    out.extend_from_slice(br#"{"type":"result""#);
    if let Some(re) = re {
        out.extend_from_slice(br#","re":"#);
        // A string always serializes.
        out.extend_from_slice(&serde_json::to_vec(re).unwrap_or_default());
    }
    out.extend_from_slice(br#","data":"#);
    out.extend_from_slice(data);
    out.push(b'}');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_frames_wrap_the_body_unchanged() {
        let v: serde_json::Value =
            serde_json::from_slice(&result_frame(Some("r\"1"), Some(&Bytes::from_static(br#"{"a":[1]}"#)))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "result", "re": "r\"1", "data": {"a": [1]}})
        );
        let v: serde_json::Value = serde_json::from_slice(&result_frame(None, None)).unwrap();
        assert_eq!(v, serde_json::json!({"type": "result", "data": null}));
    }
}
