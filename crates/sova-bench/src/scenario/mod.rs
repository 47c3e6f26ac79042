//! The scenarios and how each is run against the baselines and Sova's deployments.

pub mod history;
pub mod idle;
pub mod search;
pub mod storm;
pub mod throughput;

use crate::conn::Transport;
use crate::report::Report;
use crate::setup;
use crate::target::{Env, Kind, Mode, Server, reset_postgres};
use anyhow::Result;

/// What every scenario needs to know.
pub struct Ctx {
    /// Binaries and services.
    pub env: Env,
    /// Sova deployments to measure.
    pub modes: Vec<Mode>,
    /// Socket transports to drive.
    pub transports: Vec<Transport>,
    /// Small and short (CI).
    pub smoke: bool,
    /// Run the baselines too (off for profiling Sova alone).
    pub baseline: bool,
}

impl Ctx {
    /// Starts Sova in `mode` (recreating the benchmark database first when shared):
    /// one instance, or two for `cluster`.
    pub async fn start_sova(&self, mode: Mode, extra: &[(&str, String)]) -> Result<Vec<Server>> {
        if mode != Mode::Embedded {
            reset_postgres(&self.env.database_url).await?;
        }
        let mut servers = vec![Server::sova(&self.env, mode, extra).await?];
        if mode == Mode::Cluster {
            servers.push(Server::sova(&self.env, mode, extra).await?);
        }
        Ok(servers)
    }
}

/// Stops every server of a deployment.
pub async fn stop_all(servers: Vec<Server>) {
    for s in servers {
        s.stop().await;
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Embedded => "embedded",
        Mode::Postgres => "postgres",
        Mode::Cluster => "cluster",
    }
}

/// Options of `throughput`.
#[derive(clap::Args, Clone, Debug)]
pub struct ThroughputArgs {
    /// Groups.
    #[arg(long, default_value_t = 100)]
    pub groups: usize,
    /// Members per group.
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Senders per group.
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Unacknowledged messages per sender.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
}

impl Default for ThroughputArgs {
    fn default() -> Self {
        ThroughputArgs {
            groups: 100,
            members: 10,
            senders: 1,
            window: 256,
            secs: 10.0,
        }
    }
}

/// Options of `latency`.
#[derive(clap::Args, Clone, Debug)]
pub struct LatencyArgs {
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Groups.
    #[arg(long, default_value_t = 100)]
    pub groups: usize,
    /// Members per group.
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
}

impl Default for LatencyArgs {
    fn default() -> Self {
        LatencyArgs {
            rate: 1000.0,
            groups: 100,
            members: 10,
            secs: 10.0,
        }
    }
}

/// Options of the scenarios sized by one count.
#[derive(clap::Args, Clone, Debug)]
pub struct CountArgs {
    /// How many (connections, users, clients or members; see the scenario).
    #[arg(long)]
    pub count: Option<usize>,
}

/// Every scenario, in the order of `docs/benchmarks.md`.
pub async fn all(ctx: &Ctx, report: &mut Report) -> Result<()> {
    throughput(ctx, report, &ThroughputArgs::default()).await?;
    latency(ctx, report, &LatencyArgs::default()).await?;
    fanout(ctx, report, None).await?;
    connections(ctx, report, None).await?;
    login(ctx, report, None).await?;
    history(ctx, report, None).await?;
    resume(ctx, report, None).await?;
    search(ctx, report, None).await?;
    Ok(())
}

/// `search`: search latency over a chat of 10,000 indexed messages (Sova only; one
/// transport, the first given).
pub async fn search(ctx: &Ctx, report: &mut Report, count: Option<usize>) -> Result<()> {
    let n = sized(ctx, count, 10_000, 200);
    let (clients, secs) = if ctx.smoke { (2, 0.5) } else { (8, 10.0) };
    report.config(
        "search",
        serde_json::json!({"messages": n, "clients": clients, "page": 20, "secs": secs}),
    );
    let Some(&t) = ctx.transports.first() else {
        return Ok(());
    };
    for &mode in &ctx.modes {
        let servers = ctx.start_sova(mode, &[]).await?;
        let out = async {
            let users = setup::sova_users(&servers[0].endpoint, "q", 1, 1).await?.users;
            let chat = setup::sova_chat(&servers[0].endpoint, "group", &users[0], &users).await?;
            let index_secs = search::fill(t, &servers[0], &users[0], chat, n).await?;
            search::run(t, &servers[0], &users[0], chat, n, index_secs, clients, secs).await
        }
        .await;
        stop_all(servers).await;
        report.add("search", "sova", t.name(), mode_name(mode), out?);
    }
    Ok(())
}

fn sized(ctx: &Ctx, count: Option<usize>, full: usize, smoke: usize) -> usize {
    count.unwrap_or(if ctx.smoke { smoke } else { full })
}

/// `connections`: idle memory per authenticated connection, baseline and Sova.
pub async fn connections(ctx: &Ctx, report: &mut Report, count: Option<usize>) -> Result<()> {
    let n = sized(ctx, count, 19_000, 200);
    report.config("connections", serde_json::json!({"connections": n}));
    let users = setup::baseline_users(100);
    for &t in ctx.transports.iter().filter(|_| ctx.baseline) {
        let servers = vec![Server::baseline(false).await?];
        let out = idle::connections(Kind::BaselineMemory, t, &servers, &users, n).await;
        stop_all(servers).await;
        report.add("connections", Kind::BaselineMemory.name(), t.name(), "-", out?);
    }
    for &mode in &ctx.modes {
        for &t in &ctx.transports {
            let servers = ctx.start_sova(mode, &[]).await?;
            let users = setup::sova_users(&servers[0].endpoint, "c", n.min(500), 16)
                .await?
                .users;
            let out = idle::connections(Kind::Sova, t, &servers, &users, n).await;
            stop_all(servers).await;
            report.add("connections", "sova", t.name(), mode_name(mode), out?);
            report.ratio(
                "connections",
                t.name(),
                mode_name(mode),
                Kind::BaselineMemory.name(),
                &["rss_per_conn_kb"],
            );
        }
    }
    Ok(())
}

/// `login`: registrations and logins per second and server memory after (Sova only).
pub async fn login(ctx: &Ctx, report: &mut Report, count: Option<usize>) -> Result<()> {
    let n = sized(ctx, count, 2_000, 40);
    report.config("login", serde_json::json!({"users": n, "concurrency": 16}));
    for &mode in &ctx.modes {
        let servers = ctx.start_sova(mode, &[]).await?;
        let out = idle::login(&servers[0], n, 16).await;
        stop_all(servers).await;
        report.add("login", "sova", "rest", mode_name(mode), out?);
    }
    Ok(())
}

/// `history`: pages per second from a chat of 10,000 messages, baseline and Sova.
pub async fn history(ctx: &Ctx, report: &mut Report, count: Option<usize>) -> Result<()> {
    let n = sized(ctx, count, 10_000, 300);
    let (clients, secs) = if ctx.smoke { (2, 0.5) } else { (16, 10.0) };
    report.config(
        "history",
        serde_json::json!({"messages": n, "clients": clients, "page": 100, "secs": secs}),
    );
    for &t in ctx.transports.iter().filter(|_| ctx.baseline) {
        let servers = vec![Server::baseline(true).await?];
        let user = &setup::baseline_users(1)[0];
        let seqs = history::fill(Kind::BaselineDurable, t, &servers[0], user, 1, n).await?;
        let out = history::run(Kind::BaselineDurable, t, &servers[0], user, 1, &seqs, clients, secs).await;
        stop_all(servers).await;
        report.add("history", Kind::BaselineDurable.name(), t.name(), "-", out?);
    }
    for &mode in &ctx.modes {
        let servers = ctx.start_sova(mode, &[]).await?;
        let users = setup::sova_users(&servers[0].endpoint, "h", 1, 1).await?.users;
        let chat = setup::sova_chat(&servers[0].endpoint, "group", &users[0], &users).await?;
        for &t in &ctx.transports {
            let seqs = history::fill(Kind::Sova, t, &servers[0], &users[0], chat, n / ctx.transports.len()).await?;
            let out = history::run(Kind::Sova, t, &servers[0], &users[0], chat, &seqs, clients, secs).await;
            if out.is_err() {
                stop_all(servers).await;
                return out.map(|_| ());
            }
            report.add("history", "sova", t.name(), mode_name(mode), out?);
            report.ratio(
                "history",
                t.name(),
                mode_name(mode),
                Kind::BaselineDurable.name(),
                &["pages_per_sec", "server_cpu_us_per_page"],
            );
        }
        stop_all(servers).await;
    }
    Ok(())
}

/// `resume`: a reconnect storm with `since`; 0 lost and 0 duplicated expected (Sova only).
pub async fn resume(ctx: &Ctx, report: &mut Report, count: Option<usize>) -> Result<()> {
    let n = sized(ctx, count, 5_000, 50);
    let users_n = n.min(1000);
    let missed = 5;
    report.config(
        "resume",
        serde_json::json!({"clients": n, "users": users_n, "group_size": 10, "missed": missed}),
    );
    for &mode in &ctx.modes {
        for &t in &ctx.transports {
            let servers = ctx.start_sova(mode, &[]).await?;
            let users = setup::sova_users(&servers[0].endpoint, "r", users_n, 16).await?.users;
            let mut groups = Vec::new();
            for members in users.chunks(10) {
                let chat = setup::sova_chat(&servers[0].endpoint, "group", &members[0], members).await?;
                groups.push((chat, members.to_vec()));
            }
            let out = storm::resume(t, &servers, &groups, n, missed).await;
            stop_all(servers).await;
            let out = out?;
            let clean = out.lost == 0 && out.duplicated == 0;
            report.add("resume", "sova", t.name(), mode_name(mode), &out);
            if !clean {
                anyhow::bail!("resume lost {} and duplicated {} messages", out.lost, out.duplicated);
            }
        }
    }
    Ok(())
}

/// `fanout`: one channel of 10,000 members; time until the last member has a post.
pub async fn fanout(ctx: &Ctx, report: &mut Report, count: Option<usize>) -> Result<()> {
    let n = sized(ctx, count, 10_000, 50);
    let posts = if ctx.smoke { 3 } else { 20 };
    report.config("fanout", serde_json::json!({"members": n, "posts": posts}));
    let users = setup::baseline_users(n);
    for &t in ctx.transports.iter().filter(|_| ctx.baseline) {
        let servers = vec![Server::baseline(true).await?];
        let out = storm::fanout(Kind::BaselineDurable, t, &servers, 1, &users, posts).await;
        stop_all(servers).await;
        report.add("fanout", Kind::BaselineDurable.name(), t.name(), "-", out?);
    }
    for &mode in &ctx.modes {
        let servers = ctx.start_sova(mode, &[]).await?;
        let users = setup::sova_users(&servers[0].endpoint, "f", n, 16).await?.users;
        let chat = setup::sova_chat(&servers[0].endpoint, "channel", &users[0], &users).await?;
        for &t in &ctx.transports {
            let out = storm::fanout(Kind::Sova, t, &servers, chat, &users, posts).await;
            if out.is_err() {
                stop_all(servers).await;
                return out.map(|_| ());
            }
            report.add("fanout", "sova", t.name(), mode_name(mode), out?);
            report.ratio(
                "fanout",
                t.name(),
                mode_name(mode),
                Kind::BaselineDurable.name(),
                &["mean_ms_to_last", "server_cpu_us_per_delivery"],
            );
        }
        stop_all(servers).await;
    }
    Ok(())
}

/// Figures compared with the baseline for message scenarios.
const MESSAGE_FIGURES: &[&str] = &[
    "messages_per_sec",
    "deliveries_per_sec",
    "server_cpu_us_per_delivery",
    "p99_ms",
];

/// `throughput`: both baselines, then Sova in each mode, on each transport.
pub async fn throughput(ctx: &Ctx, report: &mut Report, a: &ThroughputArgs) -> Result<()> {
    let p = throughput::Params {
        groups: if ctx.smoke { 4 } else { a.groups },
        members: if ctx.smoke { 3 } else { a.members },
        senders: a.senders.min(a.members),
        // A debug-built load generator on a loaded CI machine reads slowly: a small
        // window keeps members from falling behind far enough to be cut off.
        window: if ctx.smoke { a.window.min(32) } else { a.window },
        rate: None,
        warmup_secs: if ctx.smoke { 0.2 } else { 2.0 },
        secs: if ctx.smoke { 0.5 } else { a.secs },
    };
    messages(ctx, report, "throughput", &p).await
}

/// `latency`: the same layout at a fixed rate (open loop).
pub async fn latency(ctx: &Ctx, report: &mut Report, a: &LatencyArgs) -> Result<()> {
    let p = throughput::Params {
        groups: if ctx.smoke { 4 } else { a.groups },
        members: if ctx.smoke { 3 } else { a.members },
        senders: 1,
        window: usize::MAX >> 4,
        rate: Some(if ctx.smoke { 100.0 } else { a.rate }),
        warmup_secs: if ctx.smoke { 0.2 } else { 2.0 },
        secs: if ctx.smoke { 0.5 } else { a.secs },
    };
    messages(ctx, report, "latency", &p).await
}

async fn messages(ctx: &Ctx, report: &mut Report, name: &str, p: &throughput::Params) -> Result<()> {
    report.config(name, p);
    let users = setup::baseline_users(p.groups * p.members);
    for durable in [true, false].into_iter().filter(|_| ctx.baseline) {
        let kind = if durable {
            Kind::BaselineDurable
        } else {
            Kind::BaselineMemory
        };
        for &t in &ctx.transports {
            let servers = vec![Server::baseline(durable).await?];
            let layout = throughput::layout(kind, &servers, &users, p).await?;
            let outcome = throughput::run(kind, t, &servers, &layout, p).await;
            stop_all(servers).await;
            report.add(name, kind.name(), t.name(), "-", outcome?);
        }
    }
    for &mode in &ctx.modes {
        let servers = ctx.start_sova(mode, &[]).await?;
        let signups = setup::sova_users(&servers[0].endpoint, "u", p.groups * p.members, 16).await?;
        let layout = throughput::layout(Kind::Sova, &servers, &signups.users, p).await?;
        for &t in &ctx.transports {
            let outcome = throughput::run(Kind::Sova, t, &servers, &layout, p).await;
            if outcome.is_err() {
                stop_all(servers).await;
                return outcome.map(|_| ());
            }
            report.add(name, "sova", t.name(), mode_name(mode), outcome?);
            report.ratio(
                name,
                t.name(),
                mode_name(mode),
                Kind::BaselineDurable.name(),
                MESSAGE_FIGURES,
            );
        }
        stop_all(servers).await;
    }
    Ok(())
}
