//! `sova-bench`: runs each scenario against the built-in baseline server and against
//! Sova in one invocation, on this machine, and reports every figure with its ratio to
//! the baseline (absolute figures move between runs on shared machines; ratios and
//! CPU time per delivery are steadier). See `docs/benchmarks.md`.

mod baseline;
mod conn;
mod report;
mod scenario;
mod setup;
mod target;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use conn::Transport;
use report::Report;
use std::path::PathBuf;
use target::{Env, Mode};

#[derive(Parser)]
#[command(name = "sova-bench", about = "Sova beside a minimal baseline, measured in one run")]
struct Cli {
    /// The `sova` server binary (default: next to this one).
    #[arg(long, global = true)]
    sova: Option<PathBuf>,
    /// Deployments of Sova to measure (repeat for several).
    #[arg(long, global = true, value_enum, default_values_t = [Mode::Embedded])]
    mode: Vec<Mode>,
    /// Socket transports to drive (repeat for several).
    #[arg(long, global = true, value_enum, default_values_t = [Cli::WS, Cli::TCP])]
    transport: Vec<TransportArg>,
    /// Seconds-long runs at small sizes (CI): checks every scenario works, measures nothing.
    #[arg(long, global = true)]
    smoke: bool,
    /// Measure Sova only (profiling runs; no ratios).
    #[arg(long, global = true)]
    no_baseline: bool,
    /// Write the report as JSON here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Write the report as a Markdown table here.
    #[arg(long, global = true)]
    markdown: Option<PathBuf>,
    /// PostgreSQL for `postgres`/`cluster` (its database is dropped and recreated).
    #[arg(
        long,
        global = true,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/sova_bench"
    )]
    database_url: String,
    /// Redis for `postgres`/`cluster` (keys under a fresh prefix).
    #[arg(
        long,
        global = true,
        env = "BENCH_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TransportArg {
    Ws,
    Tcp,
}

impl Cli {
    const WS: TransportArg = TransportArg::Ws;
    const TCP: TransportArg = TransportArg::Tcp;
}

#[derive(Subcommand)]
enum Command {
    /// Every scenario.
    All,
    /// Messages and deliveries per second, closed loop (G groups × M members).
    Throughput(scenario::ThroughputArgs),
    /// End-to-end latency at a fixed rate (open loop).
    Latency(scenario::LatencyArgs),
    /// Time until the last of 10,000 channel members has a post.
    Fanout(scenario::CountArgs),
    /// Server memory per idle authenticated connection.
    Connections(scenario::CountArgs),
    /// Registrations and logins per second, and server memory after.
    Login(scenario::CountArgs),
    /// History pages per second.
    History(scenario::CountArgs),
    /// A reconnect storm with `since`: nothing lost, nothing twice.
    Resume(scenario::CountArgs),
    /// Search latency over an indexed chat.
    Search(scenario::CountArgs),
    /// Runs the baseline server (started by the scenarios themselves).
    #[command(hide = true)]
    Baseline(baseline::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::Baseline(args) = cli.command {
        return baseline::run(args);
    }
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let sova_bin = match &cli.sova {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary has no directory")?
            .join("sova"),
    };
    if !sova_bin.is_file() {
        anyhow::bail!(
            "{} not found: build it (cargo build --release -p sova-server) or pass --sova",
            sova_bin.display()
        );
    }
    let env = Env {
        sova_bin,
        database_url: cli.database_url.clone(),
        redis_url: cli.redis_url.clone(),
        redis_prefix: format!("bench{}", std::process::id()),
    };
    let transports: Vec<Transport> = cli
        .transport
        .iter()
        .map(|t| match t {
            TransportArg::Ws => Transport::Ws,
            TransportArg::Tcp => Transport::Tcp,
        })
        .collect();
    let ctx = scenario::Ctx {
        env,
        modes: cli.mode.clone(),
        transports,
        smoke: cli.smoke,
        baseline: !cli.no_baseline,
    };
    let mut report = Report::new();
    let outcome = match &cli.command {
        Command::All => scenario::all(&ctx, &mut report).await,
        Command::Throughput(a) => scenario::throughput(&ctx, &mut report, a).await,
        Command::Latency(a) => scenario::latency(&ctx, &mut report, a).await,
        Command::Fanout(a) => scenario::fanout(&ctx, &mut report, a.count).await,
        Command::Connections(a) => scenario::connections(&ctx, &mut report, a.count).await,
        Command::Login(a) => scenario::login(&ctx, &mut report, a.count).await,
        Command::History(a) => scenario::history(&ctx, &mut report, a.count).await,
        Command::Search(a) => scenario::search(&ctx, &mut report, a.count).await,
        Command::Resume(a) => scenario::resume(&ctx, &mut report, a.count).await,
        Command::Baseline(_) => Ok(()),
    };
    println!("\n{}", report.table());
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    if let Some(path) = &cli.markdown {
        std::fs::write(path, report.table())?;
    }
    outcome
}

/// Lifts the soft open-files limit to the hard one: connection scenarios hold
/// thousands of sockets (servers started from here inherit it).
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
