//! `search`: one chat filled with messages of generated Russian and English words,
//! indexed by the server's `search.index` job, then several clients send `search`
//! op frames for random words (20 results a page) as fast as answers come back.

use crate::conn::{Transport, frame_type};
use crate::setup::{self, User};
use crate::target::{Kind, Server};
use anyhow::{Result, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What `search` measured.
#[derive(Debug, Serialize)]
pub struct Search {
    /// Messages in the chat.
    pub messages: usize,
    /// Seconds from the last message sent until the index had it.
    pub index_secs: f64,
    /// Searches answered per second, all clients together.
    pub queries_per_sec: f64,
    /// Server CPU per search, µs.
    pub server_cpu_us_per_query: f64,
    /// Median search latency, ms.
    pub p50_ms: f64,
    /// 99th percentile search latency, ms.
    pub p99_ms: f64,
}

/// The vocabulary messages are made of (and queries drawn from).
pub const WORDS: &[&str] = &[
    "книга",
    "книгами",
    "машина",
    "город",
    "городами",
    "школа",
    "работа",
    "работой",
    "письмо",
    "встреча",
    "проект",
    "вопрос",
    "ответ",
    "утро",
    "вечер",
    "report",
    "reports",
    "planning",
    "garden",
    "meeting",
    "letter",
    "question",
    "answer",
    "window",
    "coffee",
    "bridge",
    "station",
    "ticket",
    "music",
    "weather",
];

fn next(k: &mut u64) -> u64 {
    *k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *k >> 33
}

/// Sends `n` messages of 8 random words into `chat` (up to 256 unacknowledged), then
/// one with a unique marker, and waits until a search finds the marker.
pub async fn fill(transport: Transport, server: &Server, user: &User, chat: i64, n: usize) -> Result<f64> {
    let mut c = setup::client(Kind::Sova, transport, &server.endpoint, 0, user, &[chat]).await?;
    let mut k = 0x5eed_u64;
    let (mut sent, mut acked) = (0usize, 0usize);
    let marker = format!("zz{}marker", std::process::id());
    while acked <= n {
        while sent <= n && sent - acked < 256 {
            sent += 1;
            let text = if sent > n {
                marker.clone()
            } else {
                (0..8)
                    .map(|_| WORDS[next(&mut k) as usize % WORDS.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            c.writer
                .feed(format!(
                    r#"{{"type":"message","id":"f{sent}","chat_id":{chat},"text":"{text}"}}"#
                ))
                .await?;
        }
        c.writer.flush().await?;
        let frame = c.reader.expect(Duration::from_secs(60)).await?;
        match frame_type(&frame) {
            Some("ack") => acked += 1,
            Some("error") => bail!("filling the search corpus: {frame}"),
            _ => {}
        }
    }
    let started = Instant::now();
    for i in 0.. {
        c.writer
            .send(format!(
                r#"{{"type":"search","id":"w{i}","q":"{marker}","chat_id":{chat}}}"#
            ))
            .await?;
        let answer = c.reader.answer(&format!("w{i}"), Duration::from_secs(30)).await?;
        if answer.contains("\"kind\":\"message\"") {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the search index did not catch up within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.writer.close().await;
    Ok(started.elapsed().as_secs_f64())
}

/// `clients` connections search `chat` for `secs` seconds.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    transport: Transport,
    server: &Server,
    user: &User,
    chat: i64,
    messages: usize,
    index_secs: f64,
    clients: usize,
    secs: f64,
) -> Result<Search> {
    let mut tasks = Vec::new();
    let cpu = server.cpu_secs();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    for i in 0..clients {
        let mut c = setup::client(Kind::Sova, transport, &server.endpoint, i, user, &[chat]).await?;
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut k = i as u64 * 7919 + 1;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let q = WORDS[next(&mut k) as usize % WORDS.len()];
                let started = Instant::now();
                c.writer
                    .send(format!(r#"{{"type":"search","id":"s{n}","q":"{q}","limit":20}}"#))
                    .await?;
                let answer = c.reader.answer(&format!("s{n}"), Duration::from_secs(30)).await?;
                if frame_type(&answer) == Some("error") {
                    bail!("search failed: {answer}");
                }
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
    let queries = hist.len() as f64;
    Ok(Search {
        messages,
        index_secs,
        queries_per_sec: queries / elapsed,
        server_cpu_us_per_query: if queries > 0.0 { cpu * 1e6 / queries } else { 0.0 },
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
    })
}
