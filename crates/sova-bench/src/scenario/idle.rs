//! `connections` (server memory per idle authenticated connection) and `login`
//! (registrations and logins per second, and what they leave in server memory).

use crate::conn::Transport;
use crate::setup::{self, Client, User};
use crate::target::{Kind, Server};
use anyhow::Result;
use futures_util::StreamExt;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What `connections` measured for one target and transport.
#[derive(Debug, Serialize)]
pub struct Connections {
    /// Connections held open.
    pub connections: usize,
    /// Opened and authenticated per second.
    pub connects_per_sec: f64,
    /// Server RSS growth per connection, KB (1000 bytes).
    pub rss_per_conn_kb: f64,
    /// Server RSS with every connection open, MB.
    pub server_rss_mb: f64,
}

/// Opens `n` idle authenticated connections spread over `users` and `servers`;
/// measures the servers' memory growth once they settle.
pub async fn connections(
    kind: Kind,
    transport: Transport,
    servers: &[Server],
    users: &[User],
    n: usize,
) -> Result<Connections> {
    let rss = || servers.iter().map(Server::rss).sum::<u64>();
    settle().await;
    let before = rss();
    let started = Instant::now();
    let clients: Vec<Result<Client>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let user = &users[i % users.len()];
            let server = &servers[i % servers.len()];
            setup::client(kind, transport, &server.endpoint, i, user, &[])
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let connects_per_sec = n as f64 / started.elapsed().as_secs_f64();
    let clients = clients.into_iter().collect::<Result<Vec<_>>>()?;
    settle().await;
    let after = rss();
    let out = Connections {
        connections: clients.len(),
        connects_per_sec,
        rss_per_conn_kb: after.saturating_sub(before) as f64 / n.max(1) as f64 / 1000.0,
        server_rss_mb: after as f64 / 1e6,
    };
    for mut c in clients {
        c.writer.close().await;
    }
    Ok(out)
}

/// Gives allocators and lazily started tasks a moment, so RSS reflects steady state.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What `login` measured.
#[derive(Debug, Serialize)]
pub struct Login {
    /// Users registered, then logged in.
    pub users: usize,
    /// Registrations per second.
    pub registrations_per_sec: f64,
    /// Password logins per second.
    pub logins_per_sec: f64,
    /// Server RSS before, MB.
    pub rss_start_mb: f64,
    /// Server RSS after both bursts, MB.
    pub rss_after_mb: f64,
    /// Server CPU per registration or login, ms.
    pub server_cpu_ms_per_hash: f64,
}

/// Registers and logs in `n` users, `concurrency` at a time.
pub async fn login(server: &Server, n: usize, concurrency: usize) -> Result<Login> {
    settle().await;
    let rss_start = server.rss();
    let cpu = server.cpu_secs();
    let s = setup::sova_users(&server.endpoint, "login", n, concurrency).await?;
    let cpu = server.cpu_secs() - cpu;
    settle().await;
    Ok(Login {
        users: s.users.len(),
        registrations_per_sec: n as f64 / s.register_time.as_secs_f64(),
        logins_per_sec: n as f64 / s.login_time.as_secs_f64(),
        rss_start_mb: rss_start as f64 / 1e6,
        rss_after_mb: server.rss() as f64 / 1e6,
        server_cpu_ms_per_hash: cpu * 1000.0 / (2 * n.max(1)) as f64,
    })
}
