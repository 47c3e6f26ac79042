//! The servers under test, each in its own process so its CPU time and memory can be
//! read from `/proc` apart from the load generator's: Sova (embedded, PostgreSQL +
//! Redis, or several instances) and the built-in baseline (this binary, `baseline`
//! subcommand).

use crate::conn::Endpoint;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How Sova is deployed for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// SQLite and the in-process bus (the zero-set-up default).
    Embedded,
    /// PostgreSQL and Redis, one instance.
    Postgres,
    /// Two instances sharing PostgreSQL and Redis, members spread over both.
    Cluster,
}

/// What the benchmark compares against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Minimal server, no storage.
    BaselineMemory,
    /// Minimal server with SQLite group commit (WAL, `synchronous=FULL`, like Sova's).
    BaselineDurable,
    /// Sova itself.
    Sova,
}

impl Kind {
    /// Name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::BaselineMemory => "baseline (memory)",
            Kind::BaselineDurable => "baseline (SQLite)",
            Kind::Sova => "sova",
        }
    }
}

/// Settings shared by every run.
#[derive(Clone, Debug)]
pub struct Env {
    /// The `sova` binary.
    pub sova_bin: PathBuf,
    /// PostgreSQL URL for `postgres`/`cluster` modes.
    pub database_url: String,
    /// Redis URL for `postgres`/`cluster` modes.
    pub redis_url: String,
    /// Redis key prefix of this invocation (other users of the Redis are left alone).
    pub redis_prefix: String,
}

/// One running server process.
pub struct Server {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// Where it listens.
    pub endpoint: Endpoint,
    _dir: tempfile::TempDir,
}

/// A free loopback port (bound then released; good enough for a benchmark).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts the baseline server (this binary's `baseline` subcommand).
    pub async fn baseline(durable: bool) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let endpoint = Endpoint {
            http_port: free_port()?,
            tcp_port: free_port()?,
        };
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("baseline")
            .arg("--http-port")
            .arg(endpoint.http_port.to_string())
            .arg("--tcp-port")
            .arg(endpoint.tcp_port.to_string());
        if durable {
            cmd.arg("--db").arg(dir.path().join("baseline.db"));
        }
        Server::spawn(cmd, endpoint, dir).await
    }

    /// Starts one Sova instance; in `postgres`/`cluster` mode it uses `env`'s database
    /// (recreated by the caller with [`reset_postgres`]) and Redis.
    pub async fn sova(env: &Env, mode: Mode, extra: &[(&str, String)]) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let endpoint = Endpoint {
            http_port: free_port()?,
            tcp_port: free_port()?,
        };
        let mut cmd = Command::new(&env.sova_bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HTTP_PORT", endpoint.http_port.to_string())
            .env("TCP_PORT", endpoint.tcp_port.to_string())
            // gRPC is not benchmarked here; a free port keeps instances apart.
            .env("GRPC_PORT", "0")
            .env("BIND_ADDR", "127.0.0.1")
            .env("SOVA_DATA_DIR", dir.path())
            .env("SOVA_RATE_LIMITS", "off")
            .env("MAX_CONNECTIONS_PER_IP", "1000000")
            .env("RUST_LOG", "warn");
        if mode != Mode::Embedded {
            cmd.env("DATABASE_URL", &env.database_url)
                .env("REDIS_URL", &env.redis_url)
                .env("REDIS_PREFIX", &env.redis_prefix)
                .env("JWT_SECRET", "bench-jwt-secret-0123456789abcdef0123456789")
                .env("MESSAGE_ENCRYPTION_KEY", "YmVuY2gtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMhISE=");
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Server::spawn(cmd, endpoint, dir).await
    }

    async fn spawn(mut cmd: Command, endpoint: Endpoint, dir: tempfile::TempDir) -> Result<Server> {
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = cmd.spawn().context("starting the server")?;
        let pid = child.id().context("server has no pid")?;
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("server exited during start-up: {status}");
            }
            let http = tokio::net::TcpStream::connect(("127.0.0.1", endpoint.http_port)).await;
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", endpoint.tcp_port)).await;
            if http.is_ok() && tcp.is_ok() {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("server did not listen within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Server {
            child,
            pid,
            endpoint,
            _dir: dir,
        })
    }

    /// CPU seconds (user + system) the process has used.
    pub fn cpu_secs(&self) -> f64 {
        cpu_secs_of(&format!("/proc/{}/stat", self.pid))
    }

    /// Resident memory, bytes.
    pub fn rss(&self) -> u64 {
        rss_of(&format!("/proc/{}/status", self.pid))
    }

    /// Stops the process (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(mut self) {
        // SAFETY: kill(2) with a pid this process spawned and still owns.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// CPU seconds of this process (the load generator).
pub fn own_cpu_secs() -> f64 {
    cpu_secs_of("/proc/self/stat")
}

fn cpu_secs_of(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the parenthesised command name, which may hold spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line; 12 and 13 after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

fn rss_of(path: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(path) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Recreates the benchmark's own PostgreSQL database (named by `url`'s path), so every
/// run starts empty without touching any other database on the server.
pub async fn reset_postgres(url: &str) -> Result<()> {
    let (server, db) = url.rsplit_once('/').context("DATABASE_URL has no database name")?;
    if db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("benchmark database name {db:?} must be a plain identifier");
    }
    let status = Command::new("psql")
        .arg(format!("{server}/postgres"))
        .arg("-q")
        .arg("-c")
        .arg(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {db}"))
        .stdout(Stdio::null())
        .status()
        .await
        .context("running psql")?;
    if !status.success() {
        bail!("psql could not recreate {db}");
    }
    Ok(())
}
