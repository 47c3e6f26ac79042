//! `sova`: the server binary. `serve` (default) runs the server, `migrate` applies
//! database migrations and exits, `print-config` shows the effective configuration
//! with secrets redacted, `admin` runs maintenance tasks (key rotation, durable jobs, search reindex).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sova_config::{Config, LogFormat};
use sova_server::{Database, Listeners, launch};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "sova", version, about = "Sova: a self-hosted hybrid messenger server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets redacted) and exit.
    PrintConfig,
    /// Administration tasks.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Re-encrypt stored message contents with the newest MESSAGE_ENCRYPTION_KEY, in
    /// batches; resumable after an interruption (`--restart` starts over).
    RotateKeys {
        #[arg(long, default_value_t = 1000)]
        batch: i64,
        #[arg(long)]
        restart: bool,
    },
    /// Durable jobs: counts by state and kind, the dead and the longest-waiting jobs
    /// with their last error; `--state dead` lists one state; `retry` re-queues dead jobs.
    Jobs(JobsArgs),
    /// Rebuild the full-text search index from the first message, with progress;
    /// safe while the server runs (searches see a partial index until it finishes).
    Reindex {
        /// Changes indexed per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct JobsArgs {
    #[command(subcommand)]
    action: Option<JobsAction>,
    /// List the jobs in this state: queued, running, retry, done or dead.
    #[arg(long, value_parser = parse_state)]
    state: Option<sova_jobs::JobState>,
    /// Only jobs of this kind.
    #[arg(long)]
    kind: Option<String>,
    /// Most jobs per list.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// Print JSON (for scripts).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum JobsAction {
    /// Re-queue a dead job, or every dead job, with its attempts reset.
    Retry {
        /// The dead job's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        /// Every dead job.
        #[arg(long)]
        all_dead: bool,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
}

fn parse_state(s: &str) -> Result<sova_jobs::JobState, String> {
    sova_jobs::JobState::parse(s).ok_or_else(|| format!("unknown state {s} (queued, running, retry, done, dead)"))
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, never in files or collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Large allocations (Argon2id's 19 MiB per password hash) always get their own
/// mapping, returned to the system when freed. glibc otherwise raises its mmap
/// threshold after the first such free and serves the next ones from per-thread
/// heaps that keep the memory: 1.2 GB after 200 registrations and 200 logins,
/// 35 MB with the threshold fixed.
fn bound_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

fn main() -> anyhow::Result<()> {
    bound_allocator_retention();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Signal handlers first: a SIGTERM that arrives while the server starts is
    // queued and answered with a graceful stop, never by the default action.
    let signals = matches!(cli.command, None | Some(Command::Serve)).then(Signals::install);
    let config = Config::load()?;
    init_logs(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintConfig => {
            let mut shown = config.clone();
            // Show whether secrets are set without showing them.
            if shown.database_url.is_none() {
                shown.database_url = Some(sova_config::Secret::new(config.database_url()));
            }
            println!("{}", toml::to_string(&shown).context("cannot render config")?);
            Ok(())
        }
        Command::Migrate => {
            let db = Database::open(&config).await?;
            db.migrate().await?;
            db.close().await;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(config, signals.unwrap_or_else(Signals::install)).await,
        Command::Admin(Admin::RotateKeys { batch, restart }) => {
            rotate_keys(config, batch.clamp(1, 100_000), restart).await
        }
        Command::Admin(Admin::Jobs(args)) => admin_jobs(config, args).await,
        Command::Admin(Admin::Reindex { batch }) => reindex(config, batch.clamp(1, 10_000)).await,
    }
}

async fn admin_jobs(config: Config, args: JobsArgs) -> anyhow::Result<()> {
    let db = Database::open(&config).await?;
    db.migrate().await?;
    let store = db.job_store();
    let out = match args.action {
        Some(JobsAction::Retry { id, all_dead, json }) => {
            let target = match (id, all_dead) {
                (Some(id), false) => sova_jobs::RetryTarget::One(id),
                _ => sova_jobs::RetryTarget::AllDead,
            };
            sova_server::jobs::retry(store.as_ref(), target, json || args.json).await
        }
        None => {
            let req = sova_server::jobs::ReportRequest {
                state: args.state,
                kind: args.kind,
                limit: args.limit.clamp(1, 10_000),
                json: args.json,
            };
            sova_server::jobs::report(store.as_ref(), &req).await
        }
    };
    db.close().await;
    let out = out?;
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

async fn reindex(mut config: Config, batch: i64) -> anyhow::Result<()> {
    config.prepare_secrets()?;
    let db = Database::open(&config).await?.with_cipher(&config)?;
    db.migrate().await?;
    let stores = db.stores();
    let files = sova_service::files::FileService::start(&config, stores.clone())
        .await
        .map_err(|e| anyhow::anyhow!("file storage: {}", e.message))?;
    let search = sova_service::search::SearchService::new(&config, stores)
        .map_err(|e| anyhow::anyhow!("search: {}", e.message))?;
    search.reset().await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let mut last_report = std::time::Instant::now();
    loop {
        let step = search
            .index_step(&files, batch)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        if step.caught_up || last_report.elapsed() > std::time::Duration::from_secs(1) {
            let (done, total) = search.progress().await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("indexed {done}/{total} messages");
            last_report = std::time::Instant::now();
        }
        if step.caught_up {
            break;
        }
    }
    println!("done: the search index is rebuilt");
    db.close().await;
    Ok(())
}

async fn rotate_keys(mut config: Config, batch: i64, restart: bool) -> anyhow::Result<()> {
    config.prepare_secrets()?;
    let db = Database::open(&config).await?.with_cipher(&config)?;
    db.migrate().await?;
    let stores = db.stores();
    let m = &stores.messages;
    for table in ["messages", "versions", "events", "tasks", "totp_secret", "totp_pending"] {
        let key = format!("reseal:{table}");
        if restart {
            m.set_checkpoint(&key, 0).await?;
        }
        let mut cursor = m.checkpoint(&key).await?;
        let total = m.count_after(table, 0).await?;
        let mut changed_total = 0;
        loop {
            let (scanned, changed, next) = m.reseal(table, cursor, batch).await?;
            changed_total += changed;
            cursor = next;
            // Saved after every batch: an interrupted run resumes here.
            m.set_checkpoint(&key, cursor).await?;
            let left = m.count_after(table, cursor).await?;
            println!(
                "{table}: {}/{total} rows checked, {changed_total} re-encrypted",
                total - left
            );
            if scanned == 0 && left == 0 {
                break;
            }
        }
        m.set_checkpoint(&key, 0).await?;
    }
    sova_server::keys::forget_retired(&config, &stores).await?;
    println!("done: every stored message is sealed with the newest key");
    db.close().await;
    Ok(())
}

async fn serve(config: Config, signal: Signals) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    let shutdown = CancellationToken::new();
    let running = launch(config, listeners, shutdown.clone()).await?;
    signal.wait().await;
    running.stop().await;
    Ok(())
}

/// SIGTERM and SIGINT, installed before anything listens.
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => None,
            };
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
