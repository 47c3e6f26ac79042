//! A load-generator connection: WebSocket or TCP, split into a writer and a reader so
//! one task sends while another counts what arrives. Frames stay raw text: the load
//! generator looks for a few byte patterns instead of parsing JSON, so its own CPU
//! per delivery stays small next to the server's.

use anyhow::{Context, Result, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{FramedRead, LinesCodec};

/// Which socket transport a scenario drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One JSON object per WebSocket text message at `/ws`.
    Ws,
    /// One JSON object per `\n`-terminated line.
    Tcp,
}

impl Transport {
    /// Lower-case name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Tcp => "tcp",
        }
    }
}

/// Where a server under test listens.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// HTTP port (REST and `/ws`).
    pub http_port: u16,
    /// Line-protocol port.
    pub tcp_port: u16,
}

impl Endpoint {
    /// `http://127.0.0.1:<port>`.
    pub fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }
}

/// The sending half.
pub enum Writer {
    /// WebSocket sink.
    Ws(SplitSink<WebSocketStream<TcpStream>, Message>),
    /// Buffered TCP write half.
    Tcp(BufWriter<OwnedWriteHalf>),
}

/// The receiving half.
pub enum Reader {
    /// WebSocket stream.
    Ws(SplitStream<WebSocketStream<TcpStream>>),
    /// Newline-delimited frames.
    Tcp(FramedRead<OwnedReadHalf, LinesCodec>),
}

/// Source addresses rotate over 127.0.0.1–127.0.0.16 so tens of thousands of
/// connections do not run out of ephemeral ports on one address pair.
fn source_ip(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (index % 16) as u8))
}

async fn tcp_connect(port: u16, index: usize) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source_ip(index), 0))?;
    let stream = tokio::time::timeout(
        Duration::from_secs(30),
        socket.connect(SocketAddr::from(([127, 0, 0, 1], port))),
    )
    .await
    .context("connect timed out")??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Small buffers: the load generator holds up to 19,000 connections in one process.
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
}

/// Opens a connection; `index` picks the source address.
pub async fn connect(transport: Transport, endpoint: &Endpoint, index: usize) -> Result<(Writer, Reader)> {
    match transport {
        Transport::Ws => {
            let stream = tcp_connect(endpoint.http_port, index).await?;
            let url = format!("ws://127.0.0.1:{}/ws", endpoint.http_port);
            let (ws, _) = tokio::time::timeout(
                Duration::from_secs(30),
                tokio_tungstenite::client_async_with_config(url, stream, Some(client_config())),
            )
            .await
            .context("WebSocket handshake timed out")??;
            let (sink, stream) = ws.split();
            Ok((Writer::Ws(sink), Reader::Ws(stream)))
        }
        Transport::Tcp => {
            let stream = tcp_connect(endpoint.tcp_port, index).await?;
            let (r, w) = stream.into_split();
            Ok((
                Writer::Tcp(BufWriter::with_capacity(16 * 1024, w)),
                Reader::Tcp(FramedRead::new(r, LinesCodec::new_with_max_length(4 << 20))),
            ))
        }
    }
}

impl Writer {
    /// Queues one frame without flushing.
    pub async fn feed(&mut self, frame: String) -> Result<()> {
        match self {
            Writer::Ws(sink) => sink.feed(Message::text(frame)).await?,
            Writer::Tcp(w) => {
                w.write_all(frame.as_bytes()).await?;
                w.write_all(b"\n").await?;
            }
        }
        Ok(())
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        match self {
            Writer::Ws(sink) => sink.flush().await?,
            Writer::Tcp(w) => w.flush().await?,
        }
        Ok(())
    }

    /// Sends one frame now.
    pub async fn send(&mut self, frame: String) -> Result<()> {
        self.feed(frame).await?;
        self.flush().await
    }

    /// Closes the connection politely.
    pub async fn close(&mut self) {
        match self {
            Writer::Ws(sink) => {
                let _ = sink.close().await;
            }
            Writer::Tcp(w) => {
                let _ = w.shutdown().await;
            }
        }
    }
}

impl Reader {
    /// The next text frame; `None` when the connection closed.
    pub async fn next(&mut self) -> Option<Result<String>> {
        loop {
            match self {
                Reader::Ws(stream) => match stream.next().await? {
                    Ok(Message::Text(t)) => return Some(Ok(t.as_str().to_owned())),
                    Ok(Message::Close(_)) => return None,
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e.into())),
                },
                Reader::Tcp(lines) => return lines.next().await.map(|r| r.map_err(Into::into)),
            }
        }
    }

    /// The next frame within `wait`, failing on close or timeout.
    pub async fn expect(&mut self, wait: Duration) -> Result<String> {
        match tokio::time::timeout(wait, self.next()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => bail!("connection closed"),
            Err(_) => bail!("no frame within {wait:?}"),
        }
    }

    /// Reads until a frame of `kind` answering `re` (or an error frame) arrives.
    pub async fn answer(&mut self, re: &str, wait: Duration) -> Result<String> {
        let re_pat = format!("\"re\":\"{re}\"");
        loop {
            let frame = self.expect(wait).await?;
            if memchr::memmem::find(frame.as_bytes(), re_pat.as_bytes()).is_some() {
                if frame_type(&frame) == Some("error") {
                    bail!("server answered with an error: {frame}");
                }
                return Ok(frame);
            }
        }
    }
}

/// The `"type"` of a frame, found without parsing the rest.
pub fn frame_type(frame: &str) -> Option<&str> {
    let at = memchr::memmem::find(frame.as_bytes(), b"\"type\":\"")? + 8;
    let rest = &frame[at..];
    let end = memchr::memchr(b'"', rest.as_bytes())?;
    Some(&rest[..end])
}

/// The integer after `"<field>":` in a frame (the first occurrence).
pub fn int_field(frame: &str, field: &str) -> Option<i64> {
    let pat = format!("\"{field}\":");
    let at = memchr::memmem::find(frame.as_bytes(), pat.as_bytes())? + pat.len();
    let digits: &str = &frame[at..];
    let end = digits
        .bytes()
        .position(|b| !(b.is_ascii_digit() || b == b'-'))
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The send time a benchmark message carries in its text (`"text":"t<ns>…"`).
pub fn stamp(frame: &str) -> Option<u64> {
    let at = memchr::memmem::find(frame.as_bytes(), b"\"text\":\"t")? + 9;
    let digits = &frame[at..];
    let end = digits.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Authenticates with `token` and waits for `auth_success` (optionally resuming after `since`).
pub async fn auth(writer: &mut Writer, reader: &mut Reader, token: &str, since: Option<i64>) -> Result<String> {
    let frame = match since {
        Some(s) => serde_json::json!({"type": "auth", "id": "auth", "token": token, "since": s}),
        None => serde_json::json!({"type": "auth", "id": "auth", "token": token}),
    };
    writer.send(frame.to_string()).await?;
    loop {
        let f = reader.expect(Duration::from_secs(60)).await?;
        match frame_type(&f) {
            Some("auth_success") => return Ok(f),
            Some("error") => bail!("auth refused: {f}"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_find_fields_without_parsing() {
        let f = r#"{"type":"new_message","id":42,"chat_id":7,"text":"t123456 x","seq":42}"#;
        assert_eq!(frame_type(f), Some("new_message"));
        assert_eq!(int_field(f, "seq"), Some(42));
        assert_eq!(int_field(f, "chat_id"), Some(7));
        assert_eq!(stamp(f), Some(123_456));
        assert_eq!(stamp(r#"{"type":"ack","re":"1"}"#), None);
        assert_eq!(int_field(r#"{"seq":-1}"#, "seq"), Some(-1));
    }
}
