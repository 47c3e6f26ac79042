//! End-to-end harness: a real server (`sova_server::launch`) on port 0 over SQLite
//! or PostgreSQL (own schema), driven through `sova-client`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod graphql;
pub mod grpc;

use serde_json::Value;
use sova_client::{Realtime, RestClient};
use sova_config::{Config, Secret};
use sova_server::{Listeners, Running, launch};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub config: Config,
    pub http: String,
    pub ws: String,
    pub tcp: String,
    pub https_addr: Option<std::net::SocketAddr>,
    pub tcp_tls_addr: Option<std::net::SocketAddr>,
    /// `http://127.0.0.1:<grpc port>` (gRPC, HTTP/2 cleartext).
    pub grpc: String,
    pub grpc_tls_addr: Option<std::net::SocketAddr>,
    running: Option<Running>,
    _dir: tempfile::TempDir,
    /// The PostgreSQL schema this server (and its siblings) use.
    pub schema: Option<String>,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestServer {
    /// Starts a server; `None` when PostgreSQL is unreachable and not required.
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            http_port: 0,
            tcp_port: 0,
            grpc_port: 0,
            bind_addr: [127, 0, 0, 1].into(),
            data_dir: dir.path().join("data"),
            shutdown_grace_secs: 5,
            // Every test talks from 127.0.0.1: reputation tests lower these themselves.
            reputation_captcha_at: 100_000,
            reputation_block_at: 200_000,
            ..Config::default()
        };
        let mut schema = None;
        if backend == Backend::Postgres {
            let s = sova_store_tests::fresh_pg_schema().await?;
            let base = sova_store_tests::pg_url();
            let sep = if base.contains('?') { '&' } else { '?' };
            config.database_url = Some(Secret::new(format!("{base}{sep}options=-c%20search_path%3D{s}")));
            schema = Some(s);
        }
        tweak(&mut config);
        let mut server = TestServer {
            config,
            http: String::new(),
            ws: String::new(),
            tcp: String::new(),
            https_addr: None,
            tcp_tls_addr: None,
            grpc: String::new(),
            grpc_tls_addr: None,
            running: None,
            _dir: dir,
            schema,
        };
        server.launch().await;
        Some(server)
    }

    async fn launch(&mut self) {
        let listeners = Listeners::bind(&self.config).await.expect("bind");
        let running = launch(self.config.clone(), listeners, CancellationToken::new())
            .await
            .expect("launch");
        self.http = format!("http://{}", running.http_addr);
        self.ws = format!("ws://{}/ws", running.http_addr);
        self.tcp = running.tcp_addr.to_string();
        self.https_addr = running.https_addr;
        self.tcp_tls_addr = running.tcp_tls_addr;
        self.grpc = format!("http://{}", running.grpc_addr);
        self.grpc_tls_addr = running.grpc_tls_addr;
        self.running = Some(running);
    }

    /// Stops the server gracefully and starts it again on the same data.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            tokio::time::timeout(std::time::Duration::from_secs(20), r.stop())
                .await
                .expect("graceful stop");
        }
        self.launch().await;
    }

    /// Another instance on the same database (and Redis, if configured): its own
    /// ports and data dir, the same secrets.
    pub async fn sibling(&self) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = self.config.clone();
        config.data_dir = dir.path().join("data");
        let mut server = TestServer {
            config,
            http: String::new(),
            ws: String::new(),
            tcp: String::new(),
            https_addr: None,
            tcp_tls_addr: None,
            grpc: String::new(),
            grpc_tls_addr: None,
            running: None,
            _dir: dir,
            schema: None,
        };
        server.launch().await;
        server
    }

    /// Stops the server but keeps its data (for offline tools), to `restart` later.
    pub async fn stop_keep(&mut self) {
        if let Some(r) = self.running.take() {
            tokio::time::timeout(std::time::Duration::from_secs(20), r.stop())
                .await
                .expect("graceful stop");
        }
    }

    pub fn rest(&self) -> RestClient {
        RestClient::new(&self.http).unwrap()
    }

    pub async fn ws(&self) -> Realtime {
        Realtime::connect_ws(&self.ws).await.unwrap()
    }

    pub async fn tcp(&self) -> Realtime {
        Realtime::connect_tcp(&self.tcp).await.unwrap()
    }

    /// Connects over the named transport ("ws" or "tcp").
    pub async fn realtime(&self, transport: &str) -> Realtime {
        match transport {
            "ws" => self.ws().await,
            "tcp" => self.tcp().await,
            other => panic!("unknown transport {other}"),
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            tokio::time::timeout(std::time::Duration::from_secs(20), r.stop())
                .await
                .expect("graceful stop");
        }
        if let Some(s) = self.schema.take() {
            sova_store_tests::drop_schema(&s).await;
        }
    }
}

/// The Redis URL for tests (`SOVA_TEST_REDIS_URL`), or `None` (skip) when it is
/// unreachable and not required (`CI` / `SOVA_REQUIRE_REDIS` make it a failure).
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("SOVA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    match tokio::time::timeout(std::time::Duration::from_secs(3), tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Some(url),
        _ if std::env::var_os("CI").is_some() || std::env::var_os("SOVA_REQUIRE_REDIS").is_some() => {
            panic!("Redis at {url} is required (CI) but unreachable")
        }
        _ => {
            eprintln!("SKIPPED: Redis at {url} unreachable; set SOVA_TEST_REDIS_URL");
            None
        }
    }
}

/// Two instances sharing one PostgreSQL schema and one Redis (with a private
/// channel prefix); `None` when either service is unavailable and not required.
pub async fn cluster() -> Option<(TestServer, TestServer)> {
    let redis = redis_url().await?;
    let prefix = format!("sova_t_{}", uuid::Uuid::now_v7().simple());
    let a = TestServer::start_with(Backend::Postgres, |c| {
        c.redis_url = Some(Secret::new(redis));
        c.redis_prefix = prefix;
        c.jwt_secret = Some(Secret::new("cluster-test-jwt-secret-0123456789abcdef"));
        c.message_encryption_key = Some(Secret::new(TEST_FERNET_KEY));
    })
    .await?;
    let b = a.sibling().await;
    Some((a, b))
}

/// A valid Fernet key (32 bytes, URL-safe base64) for tests.
pub const TEST_FERNET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// A second one, for rotation tests.
pub const TEST_FERNET_KEY_2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// A unique username for this test run.
pub fn uname(prefix: &str) -> String {
    let n = uuid::Uuid::now_v7().simple().to_string();
    format!("{prefix}_{}", &n[n.len() - 10..])
}

/// Registers and logs in a fresh user; returns (username, token pair).
pub async fn user(server: &TestServer, prefix: &str) -> (String, sova_types::models::TokenPair) {
    let name = uname(prefix);
    let pair = server.rest().signup(&name, PASSWORD).await.unwrap();
    (name, pair)
}

/// Asserts `f` is an error frame with `code`.
pub fn assert_error(f: &Value, code: &str) {
    assert_eq!(f["type"], "error", "expected an error frame, got {f}");
    assert_eq!(f["code"], code, "wrong code in {f}");
    assert!(
        f["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without message: {f}"
    );
}

/// Instantiates an async test body `fn(Backend)` for SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    tokio::time::timeout(std::time::Duration::from_secs(120), super::$name(super::common::Backend::Sqlite))
                        .await
                        .expect("test timed out");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    tokio::time::timeout(std::time::Duration::from_secs(120), super::$name(super::common::Backend::Postgres))
                        .await
                        .expect("test timed out");
                }
            )*
        }
    };
}
