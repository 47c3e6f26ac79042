//! The WebSocket transport at `/ws`: one JSON object per text frame. Frames above
//! the configured limit (but below a hard cap) are answered with `too_large` and the
//! socket stays open; everything else is the gateway's.

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use sova_gateway::{CloseReason, FrameSink, Gateway, Inbound};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Read buffer of one WebSocket connection.
const READ_BUFFER: usize = 8 * 1024;
/// Bytes gathered before a write reaches the socket (a flush always writes).
const WRITE_BUFFER: usize = 8 * 1024;

/// What the `/ws` route needs.
#[derive(Clone)]
pub struct WsState {
    pub gateway: Arc<Gateway>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

/// The `/ws` route, ready to merge into the HTTP router.
pub fn routes(state: WsState) -> Router {
    Router::new().route("/ws", get(upgrade)).with_state(state)
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "websocket".to_owned(), |a| a.chars().take(256).collect());
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let peer = SocketAddr::new(state.gateway.client_ip(peer.ip(), forwarded), peer.port());
    let limit = state.gateway.max_frame_bytes();
    // Frames up to 4x the limit are read and refused politely; beyond that the
    // socket is closed by the protocol layer.
    let hard_cap = limit.saturating_mul(4).max(4 * 1024 * 1024);
    // Small per-connection buffers (128 KiB each by default) keep an idle socket
    // cheap; larger frames still arrive, the buffer just reads them in pieces.
    ws.max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| {
            let tracker = state.tracker.clone();
            tracker.track_future(run(socket, state, peer, agent))
        })
}

async fn run(socket: WebSocket, state: WsState, peer: SocketAddr, agent: String) {
    let (sink, stream) = socket.split();
    let limit = state.gateway.max_frame_bytes();
    let incoming = stream
        .take_while(|m| std::future::ready(matches!(m, Ok(m) if !matches!(m, Message::Close(_)))))
        .filter_map(move |m| async move {
            match m {
                Ok(Message::Text(t)) if t.len() > limit => Some(Inbound::TooLarge),
                Ok(Message::Binary(b)) if b.len() > limit => Some(Inbound::TooLarge),
                Ok(Message::Text(t)) => Some(Inbound::Frame(Bytes::from(t))),
                Ok(Message::Binary(b)) => Some(Inbound::Frame(b)),
                _ => None,
            }
        });
    let sink = WsSink { sink, closing: false };
    state
        .gateway
        .clone()
        .serve(Box::pin(incoming), sink, peer, agent, state.shutdown.clone())
        .await;
}

struct WsSink {
    sink: SplitSink<WebSocket, Message>,
    closing: bool,
}

fn io_err(e: axum::Error) -> io::Error {
    io::Error::other(e)
}

impl FrameSink for WsSink {
    async fn feed(&mut self, frame: Bytes) -> io::Result<()> {
        // Frames are JSON produced by serde_json: always valid UTF-8.
        let text = Utf8Bytes::try_from(frame).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        self.sink.feed(Message::Text(text)).await.map_err(io_err)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.sink.flush().await.map_err(io_err)
    }

    async fn close(&mut self, reason: CloseReason) {
        if std::mem::replace(&mut self.closing, true) {
            return;
        }
        let (code, text) = match reason {
            CloseReason::Normal => (close_code::NORMAL, "bye"),
            CloseReason::GoingAway => (close_code::AWAY, "server shutting down"),
            CloseReason::Policy => (close_code::POLICY, "policy violation"),
            CloseReason::TryAgainLater => (close_code::AGAIN, "slow consumer; resume with sync"),
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(text),
        };
        let _ = self.sink.send(Message::Close(Some(frame))).await;
        let _ = self.sink.close().await;
    }
}
