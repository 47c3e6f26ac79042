//! A quick load check (not the benchmark suite): `clients` users each in a private
//! group of their own send over WebSocket with acks for `secs` seconds, while one
//! listener per group counts pushes. Prints messages/s and ack latency percentiles.
//!
//!     cargo run --release -p sova-client --example load -- http://127.0.0.1:8080 64 10
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use sova_client::{Realtime, RestClient};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let secs: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
    let rest = RestClient::new(&base).unwrap();
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    // Connect everyone first; the clock starts when all are ready.
    let mut pairs = Vec::new();
    for i in 0..clients {
        let (a, b) = (format!("ld{run}a{i}"), format!("ld{run}b{i}"));
        let pa = rest.signup(&a, "load-password").await.unwrap();
        let pb = rest.signup(&b, "load-password").await.unwrap();
        let mut ra = Realtime::connect_ws(&ws_url).await.unwrap();
        ra.auth_token(&pa.token, None).await.unwrap();
        let g = ra
            .request(json!({"type": "create_chat", "chat_type": "group", "name": "load", "members": [pb.user_id]}))
            .await
            .unwrap();
        let chat = g["data"]["id"].clone();
        let mut rb = Realtime::connect_ws(&ws_url).await.unwrap();
        rb.auth_token(&pb.token, None).await.unwrap();
        pairs.push((ra, rb, chat));
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (mut ra, mut rb, chat) in pairs {
        let (sent, received) = (sent.clone(), received.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let listener = tokio::spawn(async move {
                while Instant::now() < deadline + Duration::from_secs(2) {
                    match tokio::time::timeout(Duration::from_secs(3), rb.recv()).await {
                        Ok(Ok(f)) if f["type"] == "new_message" => {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Ok(_)) => {}
                        _ => break,
                    }
                }
            });
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                ra.request(json!({"type": "send", "chat_id": chat, "text": format!("load {n}")}))
                    .await
                    .unwrap();
                lat.push(t.elapsed());
                sent.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            let _ = listener.await;
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64().min(secs as f64).max(0.001);
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let s = sent.load(Ordering::Relaxed);
    println!(
        "clients={clients} secs={secs} sent={s} received={} rate={:.0} msg/s",
        received.load(Ordering::Relaxed),
        s as f64 / elapsed
    );
    println!(
        "ack latency p50={:?} p99={:?} max={:?}",
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or_default()
    );
}
