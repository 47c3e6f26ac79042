//! Pipelining check (not the benchmark suite): one connection sends `n` messages
//! one at a time (waiting for each ack), then `n` more without waiting, and prints
//! both rates and whether the acks came back in send order.
//!
//!     cargo run --release -p sova-client --example pipeline -- http://127.0.0.1:8080 1000 ws
//!
//! The server must allow the burst: start it with `RATE_LIMIT_FRAMES_PER_SEC` and
//! `RATE_LIMIT_MESSAGES_PER_MIN` above `n`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use sova_client::{Realtime, RestClient};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let transport = args.get(3).cloned().unwrap_or_else(|| "ws".into());
    let tcp_addr = args.get(4).cloned().unwrap_or_else(|| "127.0.0.1:8888".into());
    let rest = RestClient::new(&base).unwrap();
    let name = format!(
        "pl{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let pair = rest.signup(&name, "pipeline-password").await.unwrap();
    let mut rt = if transport == "tcp" {
        Realtime::connect_tcp(&tcp_addr).await.unwrap()
    } else {
        Realtime::connect_ws(&format!("{}/ws", base.replacen("http", "ws", 1)))
            .await
            .unwrap()
    };
    rt.set_timeout(Duration::from_secs(60));
    rt.auth_token(&pair.token, None).await.unwrap();
    let chat = rt
        .request(json!({"type": "create_chat", "chat_type": "group", "name": "pipeline", "members": []}))
        .await
        .unwrap()["data"]["id"]
        .clone();

    let start = Instant::now();
    for i in 0..n {
        let id = format!("s{i}");
        rt.send(&json!({"type": "message", "id": id, "chat_id": chat, "text": format!("one at a time {i}")}))
            .await
            .unwrap();
        let ack = rt.recv_answer(&id).await.unwrap();
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let sequential = start.elapsed();

    let start = Instant::now();
    for i in 0..n {
        rt.send(&json!({"type": "message", "id": format!("p{i}"), "chat_id": chat, "text": format!("pipelined {i}")}))
            .await
            .unwrap();
    }
    let mut acks = Vec::with_capacity(n);
    while acks.len() < n {
        let f = rt.recv().await.unwrap();
        match f["type"].as_str() {
            Some("ack") => acks.push((f["re"].as_str().unwrap_or_default().to_owned(), f["seq"].as_i64())),
            Some("error") => panic!("error frame: {f}"),
            _ => {}
        }
    }
    let pipelined = start.elapsed();
    let in_order =
        acks.iter().enumerate().all(|(i, (re, _))| *re == format!("p{i}")) && acks.windows(2).all(|w| w[0].1 < w[1].1);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{transport}: n={n} one-at-a-time {:.0} msg/s ({:.3} ms/round trip); pipelined {:.0} msg/s; \
         speed-up {:.1}x; acks in send order: {in_order}",
        rate(sequential),
        sequential.as_secs_f64() * 1000.0 / n as f64,
        rate(pipelined),
        sequential.as_secs_f64() / pipelined.as_secs_f64()
    );
}
