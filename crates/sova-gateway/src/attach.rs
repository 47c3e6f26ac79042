//! In-process connections, for transports whose messages are not socket frames
//! (gRPC streams, GraphQL subscriptions): the transport hands in a stream of request
//! frames and reads every server frame back from a channel. The connection is an
//! ordinary gateway connection (auth, pipelining, send order, replay with `since`,
//! slow-consumer cut-off, revocation), so those transports inherit the exact socket
//! semantics instead of re-implementing them.

use crate::{CloseReason, FrameSink, Gateway, Inbound};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Server frames buffered towards the transport before the connection waits (the
/// gateway's own bounded push queue and write timeout apply behind it).
const ATTACH_BUFFER: usize = 64;

/// The server side of an attached connection: every frame the gateway writes, in
/// order. Dropping it closes the connection.
pub struct Attached {
    rx: mpsc::Receiver<Bytes>,
    _closed: DropGuard,
}

impl Stream for Attached {
    type Item = Bytes;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.rx.poll_recv(cx)
    }
}

struct ChannelSink {
    tx: mpsc::Sender<Bytes>,
}

impl FrameSink for ChannelSink {
    async fn feed(&mut self, frame: Bytes) -> std::io::Result<()> {
        self.tx
            .send(frame)
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    async fn close(&mut self, _reason: CloseReason) {}
}

impl Gateway {
    /// Runs a connection fed by `incoming` (one JSON frame per item, as on a socket;
    /// the first is normally `{"type":"auth","token":…}`). The connection stays open
    /// after `incoming` ends, until the returned stream is dropped, the gateway closes
    /// it, or `shutdown` fires; the returned stream ends when the connection does.
    pub fn attach<S>(
        self: &Arc<Self>,
        incoming: S,
        peer: SocketAddr,
        agent: String,
        shutdown: CancellationToken,
    ) -> Attached
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        let closed = CancellationToken::new();
        let (tx, rx) = mpsc::channel(ATTACH_BUFFER);
        let incoming = incoming
            .map(Inbound::Frame)
            .chain(futures_util::stream::pending())
            .take_until(closed.clone().cancelled_owned());
        let gateway = self.clone();
        tokio::spawn(async move {
            gateway
                .serve(Box::pin(incoming), ChannelSink { tx }, peer, agent, shutdown)
                .await;
        });
        Attached {
            rx,
            _closed: closed.drop_guard(),
        }
    }
}
