//! The frame protocol over WebSocket or TCP, behind one type.

use crate::{ClientError, DEFAULT_TIMEOUT, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sova_types::{ApiError, ErrorCode};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::codec::{FramedRead, LinesCodec};

enum Inner {
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Tcp {
        reader: FramedRead<OwnedReadHalf, LinesCodec>,
        writer: OwnedWriteHalf,
    },
}

/// A realtime connection (WebSocket or TCP) speaking JSON frames.
pub struct Realtime {
    inner: Inner,
    timeout: Duration,
    next_id: u64,
    /// Frames read while waiting for an answer; `recv` returns them first.
    backlog: std::collections::VecDeque<Value>,
}

fn transport(e: impl std::fmt::Display) -> ClientError {
    ClientError::Transport(e.to_string())
}

impl Realtime {
    /// Connects to a WebSocket URL such as `ws://127.0.0.1:8080/ws`.
    pub async fn connect_ws(url: &str) -> Result<Realtime> {
        let (ws, _) = tokio::time::timeout(
            DEFAULT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .map_err(|_| ClientError::Timeout)?
        .map_err(transport)?;
        Ok(Realtime {
            inner: Inner::Ws(Box::new(ws)),
            timeout: DEFAULT_TIMEOUT,
            next_id: 1,
            backlog: Default::default(),
        })
    }

    /// Connects to the TCP port, e.g. `127.0.0.1:8888`.
    pub async fn connect_tcp(addr: &str) -> Result<Realtime> {
        let stream = tokio::time::timeout(DEFAULT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(transport)?;
        stream.set_nodelay(true).map_err(transport)?;
        let (r, w) = stream.into_split();
        Ok(Realtime {
            inner: Inner::Tcp {
                reader: FramedRead::new(r, LinesCodec::new_with_max_length(64 * 1024 * 1024)),
                writer: w,
            },
            timeout: DEFAULT_TIMEOUT,
            next_id: 1,
            backlog: Default::default(),
        })
    }

    /// Changes the receive timeout.
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    /// A fresh request id (`r1`, `r2`, …).
    pub fn next_request_id(&mut self) -> String {
        let id = format!("r{}", self.next_id);
        self.next_id += 1;
        id
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: &Value) -> Result<()> {
        self.send_text(&frame.to_string()).await
    }

    /// Sends raw text as one frame (a line on TCP; a text frame on WS).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        match &mut self.inner {
            Inner::Ws(ws) => ws.send(WsMessage::Text(text.into())).await.map_err(transport),
            Inner::Tcp { writer, .. } => {
                let mut line = Vec::with_capacity(text.len() + 1);
                line.extend_from_slice(text.as_bytes());
                line.push(b'\n');
                writer.write_all(&line).await.map_err(transport)
            }
        }
    }

    /// Sends raw bytes: a binary frame on WS, the bytes as-is on TCP.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Ws(ws) => ws
                .send(WsMessage::Binary(bytes.to_vec().into()))
                .await
                .map_err(transport),
            Inner::Tcp { writer, .. } => writer.write_all(bytes).await.map_err(transport),
        }
    }

    /// Receives the next frame (any type).
    pub async fn recv(&mut self) -> Result<Value> {
        if let Some(f) = self.backlog.pop_front() {
            return Ok(f);
        }
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.recv_inner())
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn recv_inner(&mut self) -> Result<Value> {
        loop {
            let text = match &mut self.inner {
                Inner::Ws(ws) => match ws.next().await {
                    None => return Err(ClientError::Closed),
                    Some(Err(e)) => return Err(transport(e)),
                    Some(Ok(WsMessage::Text(t))) => t.to_string(),
                    Some(Ok(WsMessage::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(WsMessage::Close(_))) => return Err(ClientError::Closed),
                    Some(Ok(_)) => continue,
                },
                Inner::Tcp { reader, .. } => match reader.next().await {
                    None => return Err(ClientError::Closed),
                    Some(Err(e)) => return Err(transport(e)),
                    Some(Ok(line)) => line,
                },
            };
            return serde_json::from_str(&text).map_err(|e| ClientError::Protocol(format!("bad frame {text}: {e}")));
        }
    }

    /// Receives frames until one has `"type"` == `ty`, skipping others.
    pub async fn recv_type(&mut self, ty: &str) -> Result<Value> {
        loop {
            let f = self.recv().await?;
            if f["type"] == ty {
                return Ok(f);
            }
        }
    }

    /// Receives frames until the answer to request `re` arrives (an error frame
    /// becomes `ClientError::Api`); frames in between stay queued for `recv`.
    pub async fn recv_answer(&mut self, re: &str) -> Result<Value> {
        let timeout = self.timeout;
        let mut skipped = Vec::new();
        let found = tokio::time::timeout(timeout, async {
            loop {
                let f = self.recv_inner().await?;
                if f["re"] == re {
                    return Ok(f);
                }
                skipped.push(f);
            }
        })
        .await;
        self.backlog.extend(skipped);
        frame_result(found.map_err(|_| ClientError::Timeout)??)
    }

    /// Frames received but not yet returned by `recv`.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Sends `frame` with a fresh `id` and waits for its answer.
    pub async fn request(&mut self, mut frame: Value) -> Result<Value> {
        let id = self.next_request_id();
        frame["id"] = json!(id);
        self.send(&frame).await?;
        self.recv_answer(&id).await
    }

    /// Logs in with a password; returns the `auth_success` frame.
    pub async fn auth_password(&mut self, username: &str, password: &str) -> Result<Value> {
        self.request(json!({"type": "auth", "username": username, "password": password}))
            .await
    }

    /// Attaches an access token; `since` replays missed events (then `synced`).
    pub async fn auth_token(&mut self, token: &str, since: Option<i64>) -> Result<Value> {
        let mut f = json!({"type": "auth", "token": token});
        if let Some(s) = since {
            f["since"] = json!(s);
        }
        self.request(f).await
    }

    /// Sends a message (to `general` without `chat_id`) and waits for its `ack`.
    pub async fn send_message(&mut self, text: &str, client_msg_id: Option<&str>) -> Result<Value> {
        let mut f = json!({"type": "message", "text": text});
        if let Some(c) = client_msg_id {
            f["client_msg_id"] = json!(c);
        }
        self.request(f).await
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        match &mut self.inner {
            Inner::Ws(ws) => {
                let _ = ws.send(WsMessage::Close(None)).await;
            }
            Inner::Tcp { writer, .. } => {
                let _ = writer.shutdown().await;
            }
        }
    }
}

/// Turns an `error` frame into `ClientError::Api`.
pub fn frame_result(f: Value) -> Result<Value> {
    if f["type"] == "error" {
        let code: ErrorCode = serde_json::from_value(f["code"].clone()).unwrap_or(ErrorCode::Internal);
        let message = f["message"].as_str().unwrap_or_default().to_owned();
        return Err(ClientError::Api {
            status: code.http_status(),
            // Keep the machine-readable parts (`retry_after`, `details`) too.
            error: ApiError {
                retry_after: f["retry_after"].as_u64(),
                details: Some(f["details"].clone()).filter(|d| !d.is_null()),
                ..ApiError::new(code, message)
            },
        });
    }
    Ok(f)
}
