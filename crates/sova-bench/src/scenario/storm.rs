//! `resume` (a reconnect storm: every client drops, messages arrive meanwhile, every
//! client reconnects at once with `since` and must get exactly what it missed) and
//! `fanout` (one channel, many members: how long until the last member has a post).

use crate::conn::{self, Transport, frame_type, int_field};
use crate::setup::{self, Client, User};
use crate::target::{Kind, Server};
use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde::Serialize;
use sova_client::RestClient;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What `resume` measured.
#[derive(Debug, Serialize)]
pub struct Resume {
    /// Connections that dropped and came back.
    pub clients: usize,
    /// Messages each client missed while away.
    pub missed_per_client: usize,
    /// Missed messages a client did not get back.
    pub lost: u64,
    /// Messages a client got more than once, or that it had already seen.
    pub duplicated: u64,
    /// From the first reconnect to the last `synced`, seconds.
    pub storm_secs: f64,
    /// Reconnects (authenticated and replayed) per second.
    pub resumes_per_sec: f64,
}

/// `clients` connections over `groups` (a user's connections all watch its group).
pub async fn resume(
    transport: Transport,
    servers: &[Server],
    groups: &[(i64, Vec<User>)],
    clients: usize,
    missed: usize,
) -> Result<Resume> {
    let users: Vec<(usize, &User)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, (_, members))| members.iter().map(move |u| (g, u)))
        .collect();
    let rest = RestClient::new(servers[0].endpoint.http_base())?;
    // One message per group first: each client's `since` is that message, seen live.
    let mut first = Vec::new();
    for (chat, members) in groups {
        first.push(post(&rest, &members[0], *chat, "before the storm").await?);
    }
    let conns: Vec<Result<(usize, usize, Client)>> = futures_util::stream::iter(0..clients)
        .map(|i| {
            let (g, user) = users[i % users.len()];
            let server = &servers[i % servers.len()];
            let since = first[g];
            async move {
                let mut c = setup::client(Kind::Sova, transport, &server.endpoint, i, user, &[]).await?;
                // A resync from just before the first message shows it, then `synced`.
                c.writer
                    .send(format!(r#"{{"type":"sync","id":"s","since":{}}}"#, since - 1))
                    .await?;
                c.reader.answer("s", Duration::from_secs(60)).await?;
                Ok((i, g, c))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let conns = conns.into_iter().collect::<Result<Vec<_>>>()?;
    let mut away = Vec::with_capacity(conns.len());
    for (i, g, mut c) in conns {
        c.writer.close().await;
        away.push((i, g));
    }
    let mut expected: Vec<HashSet<i64>> = vec![HashSet::new(); groups.len()];
    for (g, (chat, members)) in groups.iter().enumerate() {
        for k in 0..missed {
            let author = &members[k % members.len()];
            expected[g].insert(post(&rest, author, *chat, &format!("missed {k}")).await?);
        }
    }
    let lost = Arc::new(AtomicU64::new(0));
    let dup = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let results: Vec<Result<()>> = futures_util::stream::iter(away)
        .map(|(i, g)| {
            let server = &servers[i % servers.len()];
            let (since, want) = (first[g], expected[g].clone());
            let (lost, dup) = (lost.clone(), dup.clone());
            let token = users[i % users.len()].1.token.clone();
            async move {
                let (mut w, mut r) = conn::connect(transport, &server.endpoint, i).await?;
                conn::auth(&mut w, &mut r, &token, Some(since)).await?;
                let mut got = HashSet::new();
                loop {
                    let f = r.expect(Duration::from_secs(120)).await?;
                    match frame_type(&f) {
                        Some("new_message") => {
                            let seq = int_field(&f, "seq").context("new_message without seq")?;
                            if !got.insert(seq) || !want.contains(&seq) {
                                dup.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some("synced") => break,
                        Some("error") => bail!("resume failed: {f}"),
                        _ => {}
                    }
                }
                lost.fetch_add(want.difference(&got).count() as u64, Ordering::Relaxed);
                w.close().await;
                Ok(())
            }
        })
        .buffer_unordered(clients.max(1))
        .collect()
        .await;
    let storm = started.elapsed().as_secs_f64();
    results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Resume {
        clients,
        missed_per_client: missed,
        lost: lost.load(Ordering::Relaxed),
        duplicated: dup.load(Ordering::Relaxed),
        storm_secs: storm,
        resumes_per_sec: clients as f64 / storm,
    })
}

async fn post(rest: &RestClient, user: &User, chat: i64, text: &str) -> Result<i64> {
    let body = serde_json::json!({ "text": text }).to_string().into_bytes();
    let resp = rest
        .raw(
            "POST",
            &format!("/api/chats/{chat}/messages"),
            Some(&user.token),
            Some(body),
        )
        .await?;
    if resp.status >= 300 {
        bail!("posting: {} {}", resp.status, resp.body);
    }
    resp.body["seq"].as_i64().context("message without seq")
}

/// What `fanout` measured.
#[derive(Debug, Serialize)]
pub struct Fanout {
    /// Channel members, each one connection.
    pub members: usize,
    /// Posts sent, one after another.
    pub posts: usize,
    /// Mean time from a post to its last member's delivery, ms.
    pub mean_ms_to_last: f64,
    /// Worst such time, ms.
    pub max_ms_to_last: f64,
    /// Deliveries per second while fanning out.
    pub deliveries_per_sec: f64,
    /// Server CPU per delivery, µs.
    pub server_cpu_us_per_delivery: f64,
}

/// Every member of `chat` connects; the first posts `posts` times, each after the
/// previous one reached everyone.
pub async fn fanout(
    kind: Kind,
    transport: Transport,
    servers: &[Server],
    chat: i64,
    members: &[User],
    posts: usize,
) -> Result<Fanout> {
    let delivered = Arc::new(AtomicU64::new(0));
    let chats = [chat];
    let clients: Vec<Result<Client>> = futures_util::stream::iter(members.iter().enumerate())
        .map(|(i, u)| setup::client(kind, transport, &servers[i % servers.len()].endpoint, i, u, &chats))
        .buffered(64)
        .collect()
        .await;
    let mut clients = clients.into_iter().collect::<Result<Vec<_>>>()?;
    let mut sender = clients.remove(0);
    let mut readers = Vec::new();
    for c in clients {
        let d = delivered.clone();
        let Client { writer, mut reader, .. } = c;
        readers.push(tokio::spawn(async move {
            let _keep = writer;
            while let Some(Ok(f)) = reader.next().await {
                if frame_type(&f) == Some("new_message") {
                    d.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let audience = (members.len() - 1) as u64;
    let cpu = servers.iter().map(Server::cpu_secs).sum::<f64>();
    let mut times = Vec::with_capacity(posts);
    let all_started = Instant::now();
    for k in 0..posts {
        let target = audience * (k as u64 + 1);
        let started = Instant::now();
        sender
            .writer
            .send(format!(
                r#"{{"type":"message","id":"p{k}","chat_id":{chat},"text":"t0 fanout post {k}"}}"#
            ))
            .await?;
        while delivered.load(Ordering::Relaxed) < target {
            if started.elapsed() > Duration::from_secs(120) {
                bail!(
                    "post {k} reached {} of {audience} members in 120 s",
                    delivered.load(Ordering::Relaxed)
                );
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let total = all_started.elapsed().as_secs_f64();
    let cpu = servers.iter().map(Server::cpu_secs).sum::<f64>() - cpu;
    sender.writer.close().await;
    for r in readers {
        r.abort();
    }
    let deliveries = (audience * posts as u64) as f64;
    Ok(Fanout {
        members: members.len(),
        posts,
        mean_ms_to_last: times.iter().sum::<f64>() / posts.max(1) as f64,
        max_ms_to_last: times.iter().copied().fold(0.0, f64::max),
        deliveries_per_sec: deliveries / total,
        server_cpu_us_per_delivery: cpu * 1e6 / deliveries.max(1.0),
    })
}
