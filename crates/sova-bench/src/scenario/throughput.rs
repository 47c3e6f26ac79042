//! `throughput`: G groups × M members, S senders per group. Closed loop (each sender
//! keeps up to `window` messages unacknowledged) or open loop (a fixed total rate,
//! whatever the answers). Measures messages and deliveries per second, CPU per
//! delivery of the server(s) and of the load generator, end-to-end latency (send to
//! each member's `new_message`), and afterwards checks that every acknowledged message
//! reached every member.

use crate::conn::{self, Transport, frame_type};
use crate::setup::{self, Client, User};
use crate::target::{Kind, Server, own_cpu_secs};
use anyhow::{Result, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How a throughput run is shaped.
#[derive(Clone, Debug, Serialize)]
pub struct Params {
    /// Groups.
    pub groups: usize,
    /// Members per group (each one connection).
    pub members: usize,
    /// Senders per group (the first members).
    pub senders: usize,
    /// Unacknowledged messages each sender may have (closed loop).
    pub window: usize,
    /// Total messages per second over all senders (open loop); `None`: closed loop.
    pub rate: Option<f64>,
    /// Seconds before measuring.
    pub warmup_secs: f64,
    /// Seconds measured.
    pub secs: f64,
}

/// What a run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// Acknowledged messages per second.
    pub messages_per_sec: f64,
    /// `new_message` pushes received per second, over all members.
    pub deliveries_per_sec: f64,
    /// Server CPU time per delivery, µs (all instances together).
    pub server_cpu_us_per_delivery: f64,
    /// Load generator CPU time per delivery, µs.
    pub load_cpu_us_per_delivery: f64,
    /// Latency from send to delivery, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Worst latency, ms.
    pub max_ms: f64,
    /// Messages sent over the whole run.
    pub sent: u64,
    /// Messages acknowledged over the whole run.
    pub acked: u64,
    /// Deliveries missing after the drain (acknowledged × members − received).
    pub lost: u64,
    /// Error frames received.
    pub errors: u64,
    /// Member connections the server closed during the run (slow consumers: a
    /// member that reads slower than its group sends is cut off by design and would
    /// resume with `since`; the load generator does not reconnect, so its missing
    /// deliveries show up in `lost`).
    pub cut_off: u64,
    /// Server resident memory at the end, bytes (all instances together).
    pub server_rss: u64,
    /// Sova only: mean ops per group commit over the run (from `/metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_batch: Option<f64>,
    /// Sova only: mean time one group commit took, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_commit_ms: Option<f64>,
}

/// Mean of a Prometheus summary (`<name>_sum / <name>_count`) in a `/metrics` text.
pub fn summary_mean(text: &str, name: &str) -> Option<f64> {
    let get = |suffix: &str| {
        let key = format!("{name}_{suffix} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let (sum, count) = (get("sum")?, get("count")?);
    (count > 0.0).then(|| sum / count)
}

async fn writer_means(server: &Server) -> (Option<f64>, Option<f64>) {
    let Ok(rest) = sova_client::RestClient::new(server.endpoint.http_base()) else {
        return (None, None);
    };
    let text = match rest.raw_text("/metrics").await {
        Ok(t) => t,
        Err(_) => return (None, None),
    };
    (
        summary_mean(&text, "sova_writer_batch_ops"),
        summary_mean(&text, "sova_writer_commit_seconds").map(|s| s * 1000.0),
    )
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    cut_off: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// The groups of a run: chat ids and, per group, the users in it.
pub struct Layout {
    /// `(chat id, member users)` per group; the first `senders` members send.
    pub groups: Vec<(i64, Vec<User>)>,
}

/// Creates the groups on Sova (or the baseline layout) from `users` (G×M of them).
pub async fn layout(kind: Kind, servers: &[Server], users: &[User], p: &Params) -> Result<Layout> {
    if users.len() < p.groups * p.members {
        bail!("need {} users, have {}", p.groups * p.members, users.len());
    }
    let mut groups = Vec::with_capacity(p.groups);
    for g in 0..p.groups {
        let members = users[g * p.members..(g + 1) * p.members].to_vec();
        let chat = match kind {
            Kind::Sova => setup::sova_chat(&servers[0].endpoint, "group", &members[0], &members).await?,
            _ => g as i64 + 1,
        };
        groups.push((chat, members));
    }
    Ok(Layout { groups })
}

/// Runs one measurement; member `i` connects to `servers[i % servers.len()]`.
pub async fn run(kind: Kind, transport: Transport, servers: &[Server], layout: &Layout, p: &Params) -> Result<Outcome> {
    let counters = Arc::new(Counters::default());
    let done = tokio_util::sync::CancellationToken::new();
    // Senders wait until every member is connected, so early groups do not run ahead.
    let go = tokio_util::sync::CancellationToken::new();
    let epoch = Instant::now();
    // One server may serve several runs (one per transport): client_msg_ids must not
    // repeat across them, or the server rightly answers resends without delivering.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut readers = Vec::new();
    let mut senders = Vec::new();
    let mut index = 0usize;
    for (chat, members) in &layout.groups {
        let mut conns: Vec<Client> = Vec::with_capacity(members.len());
        for user in members {
            let server = &servers[index % servers.len()];
            conns.push(setup::client(kind, transport, &server.endpoint, index, user, &[*chat]).await?);
            index += 1;
        }
        for (m, client) in conns.into_iter().enumerate() {
            let window = Arc::new(Semaphore::new(if m < p.senders { p.window } else { 0 }));
            let Client { writer, mut reader, .. } = client;
            let c = counters.clone();
            let w = window.clone();
            let done = done.clone();
            readers.push(tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok();
                loop {
                    let frame = tokio::select! {
                        _ = done.cancelled() => break,
                        f = reader.next() => match f {
                            Some(Ok(f)) => f,
                            _ => {
                                // The server closed this member's connection mid-run.
                                c.cut_off.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        },
                    };
                    match frame_type(&frame) {
                        Some("new_message") => {
                            c.delivered.fetch_add(1, Ordering::Relaxed);
                            if c.measuring.load(Ordering::Relaxed)
                                && let (Some(sent), Some(h)) = (conn::stamp(&frame), hist.as_mut())
                            {
                                let now = epoch.elapsed().as_nanos() as u64;
                                let _ = h.record((now.saturating_sub(sent) / 1000).max(1));
                            }
                        }
                        Some("ack") => {
                            c.acked.fetch_add(1, Ordering::Relaxed);
                            w.add_permits(1);
                        }
                        Some("error") if frame.contains("\"slow_consumer\"") => {
                            // Its connection is closed next (counted once, there).
                            eprintln!("slow consumer cut off: {frame}");
                        }
                        Some("error") => {
                            if c.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first error frame: {frame}");
                            }
                            w.add_permits(1);
                        }
                        _ => {}
                    }
                }
                hist
            }));
            let (c, chat, p2) = (counters.clone(), *chat, p.clone());
            let per_sender = p.rate.map(|r| r / (p.groups * p.senders) as f64);
            let go = go.clone();
            senders.push(tokio::spawn(async move {
                let mut writer = writer;
                go.cancelled().await;
                if m < p2.senders {
                    let _ = send_loop(&mut writer, &window, &c, (run, chat, m), epoch, per_sender).await;
                }
                writer
            }));
        }
    }
    eprintln!("{}: {} connections up; sending", kind.name(), index);
    go.cancel();
    tokio::time::sleep(Duration::from_secs_f64(p.warmup_secs)).await;
    let before = snapshot(&counters, servers);
    counters.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(p.secs)).await;
    counters.measuring.store(false, Ordering::Relaxed);
    let after = snapshot(&counters, servers);
    counters.stop.store(true, Ordering::Relaxed);
    let mut writers = Vec::new();
    for s in senders {
        writers.push(s.await?);
    }
    // Drain: every acknowledged message must reach every member of its group.
    let expected = |c: &Counters| c.acked.load(Ordering::Relaxed) * p.members as u64;
    let drain_until = Instant::now() + Duration::from_secs(30);
    while counters.delivered.load(Ordering::Relaxed) < expected(&counters) && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server_rss = servers.iter().map(Server::rss).sum();
    let (avg_batch, avg_commit_ms) = match kind {
        Kind::Sova => writer_means(&servers[0]).await,
        _ => (None, None),
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    // Readers stop before the connections close, so only closes during the run count as cut off.
    done.cancel();
    for r in readers {
        if let Ok(Some(h)) = r.await {
            hist.add(h)?;
        }
    }
    for mut w in writers {
        w.close().await;
    }
    let secs = after.at.duration_since(before.at).as_secs_f64();
    let delivered = after.delivered.saturating_sub(before.delivered) as f64;
    let per_delivery = |cpu: f64| if delivered > 0.0 { cpu * 1e6 / delivered } else { 0.0 };
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let acked = counters.acked.load(Ordering::Relaxed);
    Ok(Outcome {
        messages_per_sec: after.acked.saturating_sub(before.acked) as f64 / secs,
        deliveries_per_sec: delivered / secs,
        server_cpu_us_per_delivery: per_delivery(after.server_cpu - before.server_cpu),
        load_cpu_us_per_delivery: per_delivery(after.own_cpu - before.own_cpu),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
        sent: counters.sent.load(Ordering::Relaxed),
        acked,
        lost: (acked * p.members as u64).saturating_sub(counters.delivered.load(Ordering::Relaxed)),
        errors: counters.errors.load(Ordering::Relaxed),
        cut_off: counters.cut_off.load(Ordering::Relaxed),
        server_rss,
        avg_batch,
        avg_commit_ms,
    })
}

async fn send_loop(
    writer: &mut conn::Writer,
    window: &Semaphore,
    c: &Counters,
    (run, chat, member): (u64, i64, usize),
    epoch: Instant,
    rate: Option<f64>,
) -> Result<()> {
    let mut n: u64 = 0;
    let started = Instant::now();
    while !c.stop.load(Ordering::Relaxed) {
        let batch = match rate {
            None => {
                // Closed loop: wait for room in the window, then fill it.
                let Ok(Ok(permit)) = tokio::time::timeout(Duration::from_millis(100), window.acquire()).await else {
                    continue;
                };
                permit.forget();
                let mut k = 1;
                while let Ok(p) = window.try_acquire() {
                    p.forget();
                    k += 1;
                }
                k
            }
            Some(r) => {
                // Open loop: send whatever the schedule says is due, every millisecond.
                tokio::time::sleep(Duration::from_millis(1)).await;
                let due = (started.elapsed().as_secs_f64() * r) as u64;
                due.saturating_sub(n)
            }
        };
        for _ in 0..batch {
            n += 1;
            let sent = epoch.elapsed().as_nanos() as u64;
            writer
                .feed(format!(
                    r#"{{"type":"message","id":"{n}","chat_id":{chat},"client_msg_id":"b{run:x}-{chat}-{member}-{n}","text":"t{sent} benchmark message"}}"#
                ))
                .await?;
        }
        if batch > 0 {
            c.sent.fetch_add(batch, Ordering::Relaxed);
            writer.flush().await?;
        }
    }
    Ok(())
}

struct Snapshot {
    at: Instant,
    acked: u64,
    delivered: u64,
    server_cpu: f64,
    own_cpu: f64,
}

fn snapshot(c: &Counters, servers: &[Server]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        acked: c.acked.load(Ordering::Relaxed),
        delivered: c.delivered.load(Ordering::Relaxed),
        server_cpu: servers.iter().map(Server::cpu_secs).sum(),
        own_cpu: own_cpu_secs(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn summary_mean_divides_sum_by_count() {
        let text = "# TYPE x summary\nx{quantile=\"0.5\"} 3\nx_sum 12\nx_count 4\n";
        assert_eq!(super::summary_mean(text, "x"), Some(3.0));
        assert_eq!(super::summary_mean(text, "y"), None);
        assert_eq!(super::summary_mean("x_sum 0\nx_count 0\n", "x"), None);
    }
}
