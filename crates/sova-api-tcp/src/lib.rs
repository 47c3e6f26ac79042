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
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
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

/// Writes frames as lines without copying them: `feed` queues the frame's shared
/// bytes (the same allocation every recipient of an event writes) and a static
/// newline, `flush` hands the queue to the socket in vectored writes. An idle
/// connection holds no write buffer.
pub struct TcpSink<W> {
    writer: W,
    queue: std::collections::VecDeque<Bytes>,
    queued_bytes: usize,
}

/// Initial read buffer of a connection.
const READ_BUFFER: usize = 1024;

/// Slices per vectored write (half of them newlines).
const MAX_IOV: usize = 128;
/// Bytes queued before `feed` writes them out on its own.
const FLUSH_AT: usize = 64 * 1024;
/// Queue slots kept while idle; a queue that grew past this is freed once drained.
const IDLE_SLOTS: usize = 64;

static NEWLINE: Bytes = Bytes::from_static(b"\n");

impl<W: AsyncWrite + Unpin + Send> TcpSink<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> Self {
        TcpSink {
            writer,
            queue: std::collections::VecDeque::new(),
            queued_bytes: 0,
        }
    }

    /// Writes out everything queued (partial writes resume where they stopped).
    async fn drain(&mut self) -> io::Result<()> {
        while !self.queue.is_empty() {
            let mut slices = [io::IoSlice::new(&[]); MAX_IOV];
            let mut used = 0;
            for (slot, b) in slices.iter_mut().zip(&self.queue) {
                *slot = io::IoSlice::new(b);
                used += 1;
            }
            let mut n = self.writer.write_vectored(&slices[..used]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.queued_bytes -= n;
            while n > 0 {
                let Some(front) = self.queue.front_mut() else { break };
                if n >= front.len() {
                    n -= front.len();
                    self.queue.pop_front();
                } else {
                    front.advance(n);
                    n = 0;
                }
            }
        }
        if self.queue.capacity() > IDLE_SLOTS {
            self.queue = std::collections::VecDeque::new();
        }
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin + Send> FrameSink for TcpSink<W> {
    async fn feed(&mut self, frame: Bytes) -> io::Result<()> {
        self.queued_bytes += frame.len() + 1;
        self.queue.push_back(frame);
        self.queue.push_back(NEWLINE.clone());
        if self.queued_bytes >= FLUSH_AT {
            self.drain().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.drain().await?;
        self.writer.flush().await
    }

    async fn close(&mut self, _: CloseReason) {
        let _ = self.drain().await;
        let _ = self.writer.shutdown().await;
    }
}

/// Runs one connection (plain or TLS) through the gateway.
async fn handle<S>(stream: S, peer: SocketAddr, agent: &str, gw: Arc<Gateway>, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    // Starts small so an idle connection holds little; the buffer grows for bursts
    // and large frames (the codec bounds a line at the frame limit).
    let incoming = FramedRead::with_capacity(read, LineCodec::new(gw.max_frame_bytes()), READ_BUFFER);
    let incoming = futures_util::StreamExt::filter_map(incoming, |r| async move {
        match r {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::debug!(error = %e, "tcp read error");
                None
            }
        }
    });
    let sink = TcpSink::new(write);
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

    #[tokio::test]
    async fn sink_writes_every_frame_whole_through_partial_writes() {
        use tokio::io::AsyncReadExt;
        // A 7-byte pipe: every vectored write is cut short, often mid-frame.
        let (client, mut server) = tokio::io::duplex(7);
        let frames: Vec<String> = (0..300)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 50)))
            .collect();
        let expected: String = frames.iter().map(|f| format!("{f}\n")).collect();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut sink = TcpSink::new(client);
        for (i, f) in frames.iter().enumerate() {
            sink.feed(Bytes::from(f.clone())).await.unwrap();
            if i % 37 == 0 {
                sink.flush().await.unwrap();
            }
        }
        sink.close(CloseReason::Normal).await;
        drop(sink);
        let got = reader.await.unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), expected);
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
