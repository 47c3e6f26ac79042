//! The raw TCP transport: one UTF-8 JSON object per `\n`-terminated line, both ways.
//! Lines above the size limit are discarded up to their newline and answered with
//! `too_large`, so the connection stays usable. Everything else is the gateway's.

use bytes::{Buf, Bytes, BytesMut};
use sova_gateway::{CloseReason, FrameSink, Gateway, Inbound};
use sova_tls::TlsListener;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;
use tokio_util::codec::{Decoder, FramedRead};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Splits a byte stream into lines of at most `max` bytes (without `\n` / `\r\n`).
#[derive(Debug)]
pub struct LineCodec {
    max: usize,
    /// Bytes already searched for `\n`.
    scanned: usize,
    /// Inside an over-long line: drop bytes until its newline.
    discarding: bool,
}

impl LineCodec {
    pub fn new(max: usize) -> Self {
        LineCodec {
            max,
            scanned: 0,
            discarding: false,
        }
    }
}

impl Decoder for LineCodec {
    type Item = Inbound;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Inbound>> {
        loop {
            let Some(pos) = buf[self.scanned..].iter().position(|b| *b == b'\n') else {
                if buf.len() > self.max {
                    // Far too long already: forget it and skip to its end.
                    self.discarding = true;
                    buf.clear();
                }
                self.scanned = buf.len();
                return Ok(None);
            };
            let end = self.scanned + pos;
            self.scanned = 0;
            if self.discarding {
                buf.advance(end + 1);
                self.discarding = false;
                return Ok(Some(Inbound::TooLarge));
            }
            let mut line = buf.split_to(end + 1).freeze();
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            if line.len() > self.max {
                return Ok(Some(Inbound::TooLarge));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue; // blank keep-alive lines
            }
            return Ok(Some(Inbound::Frame(line)));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Inbound>> {
        if let Some(item) = self.decode(buf)? {
            return Ok(Some(item));
        }
        // A last line without its newline still counts.
        let rest = buf.split().freeze();
        self.scanned = 0;
        if std::mem::take(&mut self.discarding) {
            return Ok(Some(Inbound::TooLarge));
        }
        if rest.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Ok(Some(Inbound::Frame(rest)))
    }
}

/// Writes frames as lines through a buffer; `flush` sends them.
pub struct TcpSink<W> {
    writer: BufWriter<W>,
}

impl<W: AsyncWrite + Unpin + Send> FrameSink for TcpSink<W> {
    async fn feed(&mut self, frame: Bytes) -> io::Result<()> {
        self.writer.write_all(&frame).await?;
        self.writer.write_all(b"\n").await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().await
    }

    async fn close(&mut self, _: CloseReason) {
        let _ = self.writer.flush().await;
        let _ = self.writer.shutdown().await;
    }
}

/// Runs one connection (plain or TLS) through the gateway.
async fn handle<S>(stream: S, peer: SocketAddr, agent: &str, gw: Arc<Gateway>, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let incoming = FramedRead::new(read, LineCodec::new(gw.max_frame_bytes()));
    let incoming = futures_util::StreamExt::filter_map(incoming, |r| async move {
        match r {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::debug!(error = %e, "tcp read error");
                None
            }
        }
    });
    let sink = TcpSink {
        writer: BufWriter::with_capacity(16 * 1024, write),
    };
    gw.serve(Box::pin(incoming), sink, peer, agent.to_owned(), stop).await;
}

/// Accepts connections until `shutdown` fires; each runs on `tracker`.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: CancellationToken, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tracker.spawn(handle(stream, peer, "tcp", gateway.clone(), shutdown.clone()));
    }
    tracing::info!("tcp listener stopped");
}

/// The same protocol over TLS (`TCP_TLS_PORT`).
pub async fn serve_tls(
    mut listener: TlsListener,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.next() => a,
        };
        let Some((stream, peer)) = accepted else { break };
        tracker.spawn(handle(stream, peer, "tcp+tls", gateway.clone(), shutdown.clone()));
    }
    tracing::info!("tcp tls listener stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(codec: &mut LineCodec, input: &[u8]) -> Vec<String> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(match item {
                Inbound::Frame(b) => String::from_utf8_lossy(&b).into_owned(),
                Inbound::TooLarge => "<too large>".into(),
            });
        }
        out
    }

    #[test]
    fn splits_lines_and_skips_blank_ones() {
        let mut c = LineCodec::new(16);
        assert_eq!(
            frames(&mut c, b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c"),
            vec!["{\"a\":1}", "{\"b\":2}"]
        );
    }

    #[test]
    fn oversize_lines_are_reported_and_skipped() {
        let mut c = LineCodec::new(8);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"0123456789abcdef");
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert!(buf.is_empty(), "over-long prefix is dropped, not buffered");
        buf.extend_from_slice(b"more\nok\n");
        assert!(matches!(c.decode(&mut buf).unwrap(), Some(Inbound::TooLarge)));
        assert!(matches!(c.decode(&mut buf).unwrap(), Some(Inbound::Frame(ref b)) if &b[..] == b"ok"));
        // Complete but too long line in one read.
        assert_eq!(frames(&mut c, b"123456789\nfine\n"), vec!["<too large>", "fine"]);
    }

    #[test]
    fn last_line_without_newline_counts_at_eof() {
        let mut c = LineCodec::new(16);
        let mut buf = BytesMut::from(&b"{\"x\":1}"[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert!(matches!(c.decode_eof(&mut buf).unwrap(), Some(Inbound::Frame(_))));
        assert!(c.decode_eof(&mut buf).unwrap().is_none());
    }
}
