//! Assembles a running server from a `Config`: opens and migrates the store, starts
//! the services, the gateway, the durable job runner and the transports (REST, WebSocket and
//! GraphQL, TCP, gRPC) on the
//! given listeners, and shuts everything down in order (stop accepting → close
//! connections → finish or release running jobs → commit queued writes → close the
//! database).

mod http;
pub mod jobs;
pub mod keys;

use anyhow::Context;
use sova_bus::{EventBus, LocalBus};
use sova_config::Config;
use sova_gateway::Gateway;
use sova_service::Services;
use sova_store::Stores;
use sova_store_postgres::PgStore;
use sova_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often idle in-process abuse counters are pruned (database clean-ups are
/// durable jobs: see `jobs`).
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// The sockets a server serves on.
pub struct Listeners {
    /// REST and WebSocket (`/ws`).
    pub http: TcpListener,
    /// Newline-delimited JSON.
    pub tcp: TcpListener,
    /// HTTPS and WSS, when TLS is on.
    pub https: Option<TcpListener>,
    /// Newline-delimited JSON over TLS, when TLS is on.
    pub tcp_tls: Option<TcpListener>,
    /// gRPC (HTTP/2 cleartext).
    pub grpc: TcpListener,
    /// gRPC over TLS, when TLS is on.
    pub grpc_tls: Option<TcpListener>,
}

impl Listeners {
    /// Binds `BIND_ADDR` on `HTTP_PORT`, `TCP_PORT` and `GRPC_PORT`, and the TLS
    /// ports when TLS is on (0 picks a free port).
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let bind = |port: u16| async move {
            TcpListener::bind((config.bind_addr, port))
                .await
                .with_context(|| format!("cannot listen on {}:{}", config.bind_addr, port))
        };
        let http = bind(config.http_port).await?;
        let tcp = bind(config.tcp_port).await?;
        let grpc = bind(config.grpc_port).await?;
        let (mut https, mut tcp_tls, mut grpc_tls) = (None, None, None);
        if config.tls_enabled() {
            https = Some(bind(config.https_port).await?);
            tcp_tls = Some(bind(config.tcp_tls_port).await?);
            grpc_tls = Some(bind(config.grpc_tls_port).await?);
        }
        Ok(Listeners {
            http,
            tcp,
            https,
            tcp_tls,
            grpc,
            grpc_tls,
        })
    }
}

/// An open database of either backend.
pub enum Database {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Database {
    /// Opens the configured database (creating the data dir for SQLite).
    pub async fn open(config: &Config) -> anyhow::Result<Database> {
        let url = config.database_url();
        if url.starts_with("postgres") {
            let store = PgStore::connect(&url, None)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Database::Postgres(store))
        } else {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
            let store = SqliteStore::connect(&url)
                .await
                .context("cannot open SQLite database")?;
            Ok(Database::Sqlite(store))
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Database::Sqlite(s) => s.migrate().await.context("SQLite migration failed"),
            Database::Postgres(s) => s.migrate().await.context("PostgreSQL migration failed"),
        }
    }

    /// Seals message contents with the configured keys (MESSAGE_ENCRYPTION_KEY,
    /// comma-separated, newest first). Needs prepared secrets.
    pub fn with_cipher(self, config: &Config) -> anyhow::Result<Database> {
        let keys = config
            .message_encryption_key
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("MESSAGE_ENCRYPTION_KEY is not set"))?;
        let cipher = || sova_store::cipher::Cipher::new(keys.expose()).map_err(|e| anyhow::anyhow!(e));
        Ok(match self {
            Database::Sqlite(s) => Database::Sqlite(s.with_cipher(cipher()?)),
            Database::Postgres(s) => Database::Postgres(s.with_cipher(cipher()?)),
        })
    }

    pub fn stores(&self) -> Stores {
        match self {
            Database::Sqlite(s) => s.clone().stores(),
            Database::Postgres(s) => s.clone().stores(),
        }
    }

    /// The durable job store on this database (sharing its connection pool).
    pub fn job_store(&self) -> Arc<dyn sova_jobs::JobStore> {
        match self {
            Database::Sqlite(s) => Arc::new(sova_jobs::sqlite::SqliteJobs::new(s.pool().clone())),
            Database::Postgres(s) => Arc::new(sova_jobs::postgres::PgJobs::new(s.pool().clone())),
        }
    }

    pub async fn close(&self) {
        match self {
            Database::Sqlite(s) => s.close().await,
            Database::Postgres(s) => s.close().await,
        }
    }
}

/// A launched server.
pub struct Running {
    pub http_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    pub https_addr: Option<SocketAddr>,
    pub tcp_tls_addr: Option<SocketAddr>,
    /// gRPC (HTTP/2 cleartext).
    pub grpc_addr: SocketAddr,
    /// gRPC over TLS, when TLS is on.
    pub grpc_tls_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    done: JoinHandle<()>,
}

impl Running {
    /// Starts a graceful shutdown.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has fully stopped.
    pub async fn wait(self) {
        let _ = self.done.await;
    }

    /// Shuts down and waits.
    pub async fn stop(self) {
        self.shutdown();
        self.wait().await;
    }
}

/// Starts serving; returns once every listener accepts. Cancelling `shutdown` (or
/// calling `Running::shutdown`) stops the server gracefully.
pub async fn launch(mut config: Config, listeners: Listeners, shutdown: CancellationToken) -> anyhow::Result<Running> {
    config.check()?;
    config.apply_rate_limits_switch();
    if config.rate_limits == sova_config::RateLimits::Off {
        tracing::warn!("SOVA_RATE_LIMITS=off: no rate limit applies (benchmarks only)");
    }
    config.prepare_secrets()?;
    let config = Arc::new(config);
    let db = Database::open(&config).await?.with_cipher(&config)?;
    db.migrate().await?;
    let presence = keys::verify(&config, &db.stores()).await?;
    let bus: Arc<dyn EventBus> = match &config.redis_url {
        Some(url) => {
            if matches!(db, Database::Sqlite(_)) {
                anyhow::bail!("REDIS_URL (several instances) needs a shared PostgreSQL DATABASE_URL, not SQLite");
            }
            sova_bus::RedisBus::connect(url.expose(), &config.redis_prefix)
                .await
                .map_err(|e| anyhow::anyhow!(e))?
        }
        None => Arc::new(LocalBus::new()),
    };
    let (services, tasks) = Services::start(config.clone(), db.stores(), bus)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start services: {e}"))?;
    let gateway = Gateway::new(services.clone());
    let tracker = TaskTracker::new();

    let http_addr = listeners.http.local_addr()?;
    let tcp_addr = listeners.tcp.local_addr()?;
    let ws = sova_api_ws::routes(sova_api_ws::WsState {
        gateway: gateway.clone(),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    let graphql = sova_api_graphql::routes(services.clone(), gateway.clone(), shutdown.clone())
        .map_err(|e| anyhow::anyhow!("cannot build the GraphQL schema: {e}"))?;
    let app = sova_api_http::router(services.clone(), ws.merge(graphql));
    let app_for_tls = app.clone();
    let header_timeout = Duration::from_secs(config.http_header_timeout_secs.max(1));
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    // Small frames must not wait for Nagle + delayed ACK (40 ms per round trip).
    let http_listener = axum::serve::ListenerExt::tap_io(listeners.http, |s| {
        let _ = s.set_nodelay(true);
    });
    let http = tokio::spawn(http::serve(http_listener, app, header_timeout, grace, shutdown.clone()));
    let tcp = tokio::spawn(sova_api_tcp::serve(
        listeners.tcp,
        gateway.clone(),
        shutdown.clone(),
        tracker.clone(),
    ));
    let grpc_addr = listeners.grpc.local_addr()?;
    let grpc_app = sova_api_grpc::router(services.clone(), gateway.clone(), shutdown.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot load the gRPC contract: {e}"))?;
    let grpc_listener = axum::serve::ListenerExt::tap_io(listeners.grpc, |s| {
        let _ = s.set_nodelay(true);
    });
    let grpc = tokio::spawn(http::serve(
        grpc_listener,
        grpc_app.clone(),
        header_timeout,
        grace,
        shutdown.clone(),
    ));
    let (mut https_addr, mut tcp_tls_addr, mut grpc_tls_addr) = (None, None, None);
    let mut tls_tasks = Vec::new();
    if let (Some(https), Some(tcp_tls)) = (listeners.https, listeners.tcp_tls) {
        let (cert, key) = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => sova_tls::ensure_self_signed(&config.data_dir).map_err(|e| anyhow::anyhow!(e))?,
        };
        let tls = sova_tls::server_config(&cert, &key).map_err(|e| anyhow::anyhow!(e))?;
        https_addr = Some(https.local_addr()?);
        tcp_tls_addr = Some(tcp_tls.local_addr()?);
        // Browsers that reached us over HTTPS should never fall back to HTTP.
        let secure_app = app_for_tls.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
        let listener = sova_tls::TlsListener::new(https, tls.clone())?;
        tls_tasks.push(tokio::spawn(http::serve(
            listener,
            secure_app,
            header_timeout,
            grace,
            shutdown.clone(),
        )));
        tls_tasks.push(tokio::spawn(sova_api_tcp::serve_tls(
            sova_tls::TlsListener::new(tcp_tls, tls)?,
            gateway.clone(),
            shutdown.clone(),
            tracker.clone(),
        )));
        if let Some(grpc_tls) = listeners.grpc_tls {
            // gRPC needs HTTP/2, which TLS clients ask for with ALPN `h2`.
            let mut h2 = (*sova_tls::server_config(&cert, &key).map_err(|e| anyhow::anyhow!(e))?).clone();
            h2.alpn_protocols = vec![b"h2".to_vec()];
            grpc_tls_addr = Some(grpc_tls.local_addr()?);
            let listener = sova_tls::TlsListener::new(grpc_tls, Arc::new(h2))?;
            tls_tasks.push(tokio::spawn(http::serve(
                listener,
                grpc_app,
                header_timeout,
                grace,
                shutdown.clone(),
            )));
        }
    }
    let purge = tokio::spawn(purge_loop(services.clone(), shutdown.clone()));
    let heartbeat = tokio::spawn(key_heartbeat(services.clone(), presence, shutdown.clone()));
    let job_queue = sova_jobs::JobQueue::new(db.job_store());
    services.games.attach_jobs(job_queue.clone());
    let jobs = jobs::runner(job_queue, &config, services.clone()).start();
    tracing::info!(
        %http_addr,
        %tcp_addr,
        https_addr = ?https_addr,
        tcp_tls_addr = ?tcp_tls_addr,
        %grpc_addr,
        grpc_tls_addr = ?grpc_tls_addr,
        backend = services.stores.backend,
        env = ?config.env,
        "sova is serving"
    );

    let stop = shutdown.clone();
    let done = tokio::spawn(async move {
        stop.cancelled().await;
        tracing::info!("shutting down");
        let _ = tokio::time::timeout(grace, async {
            let _ = http.await;
            let _ = tcp.await;
            let _ = grpc.await;
            for t in tls_tasks {
                let _ = t.await;
            }
        })
        .await;
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!("connections still open after the grace period");
        }
        let _ = purge.await;
        let _ = heartbeat.await;
        // Running jobs finish within the grace or are released for another instance.
        jobs.shutdown(grace).await;
        // Dropping the last service handles closes the writer queue; it commits
        // what is queued and stops.
        drop(gateway);
        drop(services);
        if tokio::time::timeout(grace, tasks.writer).await.is_err() {
            tracing::warn!("message writer did not finish within the grace period");
        }
        db.close().await;
        tracing::info!("stopped");
    });
    Ok(Running {
        http_addr,
        tcp_addr,
        https_addr,
        tcp_tls_addr,
        grpc_addr,
        grpc_tls_addr,
        shutdown,
        done,
    })
}

/// Keeps this instance's JWT fingerprint fresh while it runs and removes it when it
/// stops (see `keys`).
async fn key_heartbeat(services: Arc<Services>, presence: Option<keys::KeyPresence>, shutdown: CancellationToken) {
    let Some(presence) = presence else { return };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(keys::HEARTBEAT) => {}
        }
        if let Err(e) = presence.heartbeat(&services.stores).await {
            tracing::warn!(error = %e, "key heartbeat failed");
        }
    }
    if let Err(e) = presence.release(&services.stores).await {
        tracing::warn!(error = %e, "could not remove this instance's key record");
    }
}

async fn purge_loop(services: Arc<Services>, shutdown: CancellationToken) {
    loop {
        services.limits.prune().await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PURGE_EVERY) => {}
        }
    }
}
