//! `history`: one chat filled with messages, then several clients page through it
//! (100 messages a page, from random points) as fast as answers come back.

use crate::conn::{Transport, frame_type, int_field};
use crate::setup::{self, User};
use crate::target::{Kind, Server};
use anyhow::{Result, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What `history` measured.
#[derive(Debug, Serialize)]
pub struct History {
    /// Messages in the chat.
    pub messages: usize,
    /// Pages answered per second, all clients together.
    pub pages_per_sec: f64,
    /// Server CPU per page, µs.
    pub server_cpu_us_per_page: f64,
    /// Median page latency, ms.
    pub p50_ms: f64,
    /// 99th percentile page latency, ms.
    pub p99_ms: f64,
}

/// Sends `n` messages into `chat` as `user` (up to 256 unacknowledged); returns their seqs.
pub async fn fill(
    kind: Kind,
    transport: Transport,
    server: &Server,
    user: &User,
    chat: i64,
    n: usize,
) -> Result<Vec<i64>> {
    let mut c = setup::client(kind, transport, &server.endpoint, 0, user, &[chat]).await?;
    let mut seqs = Vec::with_capacity(n);
    let mut sent = 0usize;
    while seqs.len() < n {
        while sent < n && sent - seqs.len() < 256 {
            sent += 1;
            c.writer
                .feed(format!(
                    r#"{{"type":"message","id":"f{sent}","chat_id":{chat},"text":"history message {sent} with some words in it"}}"#
                ))
                .await?;
        }
        c.writer.flush().await?;
        let frame = c.reader.expect(Duration::from_secs(60)).await?;
        match frame_type(&frame) {
            Some("ack") => seqs.push(int_field(&frame, "seq").unwrap_or(0)),
            Some("error") => bail!("filling history: {frame}"),
            _ => {}
        }
    }
    c.writer.close().await;
    Ok(seqs)
}

/// `clients` connections page through `chat` for `secs` seconds.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    kind: Kind,
    transport: Transport,
    server: &Server,
    user: &User,
    chat: i64,
    seqs: &[i64],
    clients: usize,
    secs: f64,
) -> Result<History> {
    let mut tasks = Vec::new();
    let cpu = server.cpu_secs();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    for i in 0..clients {
        let mut c = setup::client(kind, transport, &server.endpoint, i, user, &[chat]).await?;
        let seqs = seqs.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut k = i * 7919;
            while Instant::now() < deadline {
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 1;
                let before = seqs.get(k % seqs.len().max(1)).copied().unwrap_or(i64::MAX);
                let started = Instant::now();
                c.writer
                    .send(format!(
                        r#"{{"type":"messages","id":"h{k}","chat_id":{chat},"limit":100,"before":{before}}}"#
                    ))
                    .await?;
                c.reader.answer(&format!("h{k}"), Duration::from_secs(30)).await?;
                hist.record((started.elapsed().as_micros() as u64).max(1))?;
            }
            c.writer.close().await;
            anyhow::Ok(hist)
        }));
    }
    let started = Instant::now();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        hist.add(t.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_secs() - cpu;
    let pages = hist.len() as f64;
    Ok(History {
        messages: seqs.len(),
        pages_per_sec: pages / elapsed,
        server_cpu_us_per_page: if pages > 0.0 { cpu * 1e6 / pages } else { 0.0 },
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
    })
}
