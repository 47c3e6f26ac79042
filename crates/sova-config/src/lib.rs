//! Typed configuration: defaults, then the TOML file named by `SOVA_CONFIG`, then
//! environment variables. Secrets are wrapped so neither `Debug` nor `Serialize`
//! (used by `sova print-config`) can leak them. `prepare_secrets` enforces the
//! production rules and, in development, generates secrets once in the data dir.

use base64::Engine;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Environment variables read by `Config::load` (besides `SOVA_CONFIG` and `RUST_LOG`).
pub const ENV_VARS: &[&str] = &[
    "HTTP_PORT",
    "TCP_PORT",
    "BIND_ADDR",
    "SOVA_DATA_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "MESSAGE_ENCRYPTION_KEY",
    "SOVA_ENV",
    "LOG_FORMAT",
    "MAX_MESSAGE_CHARS",
    "MAX_FRAME_BYTES",
    "ACCESS_TOKEN_TTL_SECS",
    "REFRESH_TOKEN_TTL_SECS",
    "OUTBOUND_QUEUE",
    "MAX_IN_FLIGHT",
    "SHUTDOWN_GRACE_SECS",
    "MAX_GROUP_MEMBERS",
    "RECEIPTS_MAX_MEMBERS",
    "REDIS_PREFIX",
    "RATE_LIMIT_LOGIN_PER_MIN",
    "RATE_LIMIT_ACCOUNT_LOGIN_PER_MIN",
    "RATE_LIMIT_REGISTER_PER_HOUR",
    "RATE_LIMIT_MESSAGES_PER_MIN",
    "RATE_LIMIT_FRAMES_PER_SEC",
    "CORS_ORIGINS",
    "MAX_SESSIONS_PER_USER",
    "ADMIN_USERS",
    "TLS_CERT",
    "TLS_KEY",
    "TLS_SELF_SIGNED",
    "HTTPS_PORT",
    "TCP_TLS_PORT",
    "GRPC_PORT",
    "GRPC_TLS_PORT",
    "GRAPHIQL",
    "CAPTCHA_DIFFICULTY",
    "REPUTATION_CAPTCHA_AT",
    "REPUTATION_BLOCK_AT",
    "MAX_CONNECTIONS_PER_IP",
    "HTTP_HEADER_TIMEOUT_SECS",
    "TRUSTED_PROXIES",
    "JOB_WORKERS",
    "JOB_LEASE_SECS",
    "JOB_MAX_ATTEMPTS",
    "JOB_RETENTION_DAYS",
    "SECURITY_ALERT_RETENTION_DAYS",
    "STORAGE",
    "S3_ENDPOINT",
    "S3_BUCKET",
    "S3_REGION",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "MAX_UPLOAD_BYTES",
    "USER_QUOTA_BYTES",
    "SOVA_RATE_LIMITS",
];

/// Defaults shipped by the original specification; refused in production.
pub const KNOWN_DEFAULT_SECRETS: &[&str] = &[
    "your-super-secret-jwt-key-change-it",
    "your-message-encryption-key",
    "your-secure-password",
    "your-secure-redis-password",
    "admin",
    "secret",
    "changeme",
];

/// File in the data dir that keeps development secrets across restarts.
pub const SECRETS_FILE: &str = "secrets.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("refusing to start in production: {0}")]
    Insecure(String),
    #[error("cannot use data directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A secret string: redacted in `Debug` and `Serialize`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret value; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

/// Whether the rate limits and reputation thresholds apply (`SOVA_RATE_LIMITS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimits {
    /// Every limit applies (the default).
    #[default]
    On,
    /// No rate limit, CAPTCHA demand or reputation block: for benchmarks only;
    /// refused in production. Login lockout after wrong passwords still applies.
    Off,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where uploaded files' (encrypted) contents are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// A directory under the data directory (`<data_dir>/files`).
    #[default]
    Local,
    /// An S3-compatible bucket (`S3_*`).
    S3,
}

/// The whole server configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub http_port: u16,
    pub tcp_port: u16,
    pub bind_addr: IpAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means `sqlite://<data_dir>/sova.db`.
    pub database_url: Option<Secret>,
    /// Unset: in-process bus.
    pub redis_url: Option<Secret>,
    pub jwt_secret: Option<Secret>,
    pub message_encryption_key: Option<Secret>,
    pub env: Environment,
    pub log_format: LogFormat,
    /// Longest message text, in characters.
    pub max_message_chars: usize,
    /// Largest frame, line or request body, in bytes.
    pub max_frame_bytes: usize,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Pushes buffered per connection before it is dropped as a slow consumer.
    pub outbound_queue: usize,
    /// Requests one socket connection may have in flight at once (pipelining).
    pub max_in_flight: usize,
    /// How long shutdown waits for in-flight work.
    pub shutdown_grace_secs: u64,
    /// Most members of a group (channels are unlimited).
    pub max_group_members: u64,
    /// Largest chat whose read receipts every member sees.
    pub receipts_max_members: u64,
    /// Prefix of Redis channel names, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// Login attempts per client IP per minute.
    pub rate_limit_login_per_min: u32,
    /// Login attempts per account per minute (from all IPs: slows distributed guessing).
    pub rate_limit_account_login_per_min: u32,
    /// Registrations per client IP per hour.
    pub rate_limit_register_per_hour: u32,
    /// Messages per user per minute (all transports).
    pub rate_limit_messages_per_min: u32,
    /// Frames per socket connection per second.
    pub rate_limit_frames_per_sec: u32,
    /// Comma-separated origins allowed to call the API from browsers (empty: same origin only).
    pub cors_origins: String,
    /// Live sessions per user; the oldest are revoked beyond it.
    pub max_sessions_per_user: usize,
    /// Comma-separated usernames with admin rights (audit log, revoking others' sessions).
    pub admin_users: String,
    /// PEM certificate chain for HTTPS/WSS and TCP+TLS (with `TLS_KEY`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Without cert files: generate a self-signed development certificate in the data dir.
    pub tls_self_signed: bool,
    /// HTTPS and WSS (`/ws`) port, when TLS is on.
    pub https_port: u16,
    /// TCP protocol over TLS, when TLS is on.
    pub tcp_tls_port: u16,
    /// gRPC (`sova.v1`, HTTP/2 without TLS).
    pub grpc_port: u16,
    /// gRPC over TLS (HTTP/2, ALPN `h2`), when TLS is on.
    pub grpc_tls_port: u16,
    /// Serve the GraphiQL page at `/graphiql`; unset: in development only.
    pub graphiql: Option<bool>,
    /// Leading zero bits a CAPTCHA proof of work needs (20 ≈ a second in a browser).
    pub captcha_difficulty: u32,
    /// Penalty points (15-minute window) from which an address must solve a CAPTCHA.
    pub reputation_captcha_at: u32,
    /// Penalty points from which an address is blocked from logging in or registering.
    pub reputation_block_at: u32,
    /// Open socket connections per client address, per instance.
    pub max_connections_per_ip: usize,
    /// Time a client has to send a request's headers (WebSocket handshakes included).
    pub http_header_timeout_secs: u64,
    /// Comma-separated proxy addresses whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
    /// Durable jobs this instance runs at once.
    pub job_workers: usize,
    /// How long a claimed job stays owned without a heartbeat (a dead instance's
    /// jobs restart elsewhere after this).
    pub job_lease_secs: u64,
    /// Attempts before a failing job is dead (jobs may set their own limit).
    pub job_max_attempts: u32,
    /// Days finished jobs (and so their idempotency keys) are kept.
    pub job_retention_days: u64,
    /// Days security alerts (`alert_*` audit entries) are kept.
    pub security_alert_retention_days: u64,
    /// Where uploaded files live.
    pub storage: Storage,
    /// S3 endpoint URL (for `STORAGE=s3`; e.g. MinIO or another S3-compatible server).
    pub s3_endpoint: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<Secret>,
    pub s3_secret_access_key: Option<Secret>,
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// Bytes of files one user may keep; unset means no quota.
    pub user_quota_bytes: Option<u64>,
    /// `off` lifts every rate limit (benchmarks; refused in production).
    pub rate_limits: RateLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_port: 8080,
            tcp_port: 8888,
            bind_addr: IpAddr::from([0, 0, 0, 0]),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            jwt_secret: None,
            message_encryption_key: None,
            env: Environment::Development,
            log_format: LogFormat::Text,
            max_message_chars: 4096,
            max_frame_bytes: 1024 * 1024,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            outbound_queue: 1024,
            max_in_flight: 256,
            shutdown_grace_secs: 10,
            max_group_members: 10_000,
            receipts_max_members: 100,
            redis_prefix: "sova".to_owned(),
            rate_limit_login_per_min: 30,
            rate_limit_account_login_per_min: 20,
            rate_limit_register_per_hour: 60,
            rate_limit_messages_per_min: 1200,
            rate_limit_frames_per_sec: 200,
            cors_origins: String::new(),
            max_sessions_per_user: 20,
            admin_users: String::new(),
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            https_port: 8443,
            tcp_tls_port: 8889,
            grpc_port: 50051,
            grpc_tls_port: 50052,
            graphiql: None,
            captcha_difficulty: 20,
            reputation_captcha_at: 20,
            reputation_block_at: 60,
            max_connections_per_ip: 1000,
            http_header_timeout_secs: 10,
            trusted_proxies: String::new(),
            job_workers: 2,
            job_lease_secs: 30,
            job_max_attempts: 10,
            job_retention_days: 7,
            security_alert_retention_days: 90,
            storage: Storage::Local,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_upload_bytes: 100 * 1024 * 1024,
            user_quota_bytes: None,
            rate_limits: RateLimits::On,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSecrets {
    jwt_secret: String,
    message_encryption_key: String,
}

impl Config {
    /// Defaults → `$SOVA_CONFIG` TOML file (if set) → environment variables.
    pub fn load() -> Result<Config, ConfigError> {
        let mut fig = Figment::new();
        if let Ok(path) = std::env::var("SOVA_CONFIG") {
            if !Path::new(&path).is_file() {
                return Err(ConfigError::Invalid(format!(
                    "SOVA_CONFIG names {path}, which is not a readable file"
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        // Keys reach `map` in their original case.
        fig = fig.merge(
            Env::raw()
                .only(ENV_VARS)
                .map(|k| match k.as_str().to_ascii_lowercase().as_str() {
                    "sova_data_dir" => "data_dir".into(),
                    "sova_env" => "env".into(),
                    "sova_rate_limits" => "rate_limits".into(),
                    _ => k.into(),
                }),
        );
        let mut cfg: Config = fig.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        cfg.check()?;
        cfg.apply_rate_limits_switch();
        Ok(cfg)
    }

    /// Validates ranges that would otherwise fail later, at a worse moment.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.max_message_chars == 0 {
            return bad("MAX_MESSAGE_CHARS must be at least 1");
        }
        if self.max_frame_bytes < 1024 {
            return bad("MAX_FRAME_BYTES must be at least 1024");
        }
        if self.access_token_ttl_secs == 0 || self.refresh_token_ttl_secs == 0 {
            return bad("token lifetimes must be positive");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("TLS_CERT and TLS_KEY go together");
        }
        if self.outbound_queue == 0 {
            return bad("OUTBOUND_QUEUE must be at least 1");
        }
        if !(1..=4096).contains(&self.max_in_flight) {
            return bad("MAX_IN_FLIGHT must be 1-4096");
        }
        if self.job_workers == 0 || self.job_workers > 1024 {
            return bad("JOB_WORKERS must be between 1 and 1024");
        }
        if self.job_lease_secs < 3 {
            return bad("JOB_LEASE_SECS must be at least 3 (the heartbeat renews every third)");
        }
        if self.job_max_attempts == 0 {
            return bad("JOB_MAX_ATTEMPTS must be at least 1");
        }
        if self.job_retention_days == 0 || self.security_alert_retention_days == 0 {
            return bad("JOB_RETENTION_DAYS and SECURITY_ALERT_RETENTION_DAYS must be at least 1");
        }
        if self.max_upload_bytes == 0 || self.max_upload_bytes > i64::MAX as u64 {
            return bad("MAX_UPLOAD_BYTES must be at least 1");
        }
        if self.user_quota_bytes.is_some_and(|q| q > i64::MAX as u64) {
            return bad("USER_QUOTA_BYTES is too large");
        }
        if self.storage == Storage::S3
            && (self.s3_bucket.as_deref().unwrap_or("").is_empty()
                || self.s3_access_key_id.is_none()
                || self.s3_secret_access_key.is_none())
        {
            return bad("STORAGE=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY");
        }
        if self.storage == Storage::S3 && !self.s3_endpoint().starts_with("http://") {
            return bad("S3_ENDPOINT must be an http:// URL (this build has no TLS client for S3)");
        }
        if self.rate_limits == RateLimits::Off && self.is_production() {
            return Err(ConfigError::Insecure(
                "SOVA_RATE_LIMITS=off is for benchmarks and is refused when SOVA_ENV=production".to_owned(),
            ));
        }
        if let Some(url) = &self.database_url {
            let u = url.expose();
            if !(u.starts_with("sqlite:") || u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                return bad("DATABASE_URL must start with sqlite: or postgres://");
            }
        }
        Ok(())
    }

    /// With `SOVA_RATE_LIMITS=off`, raises every rate limit and reputation threshold
    /// out of reach, so the limiters themselves need no switch and stay on the same code
    /// path (a benchmark measures the real hot path, counters included).
    pub fn apply_rate_limits_switch(&mut self) {
        if self.rate_limits == RateLimits::On {
            return;
        }
        self.rate_limit_login_per_min = u32::MAX;
        self.rate_limit_account_login_per_min = u32::MAX;
        self.rate_limit_register_per_hour = u32::MAX;
        self.rate_limit_messages_per_min = u32::MAX;
        self.rate_limit_frames_per_sec = u32::MAX;
        self.reputation_captcha_at = u32::MAX;
        self.reputation_block_at = u32::MAX;
    }

    fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies
            .split(',')
            .any(|p| p.trim().parse::<IpAddr>() == Ok(ip))
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted proxy, the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.is_trusted_proxy(peer) {
            return peer;
        }
        let Some(list) = forwarded_for else { return peer };
        for part in list.rsplit(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) if self.is_trusted_proxy(ip) => continue,
                Ok(ip) => return ip,
                Err(_) => return peer,
            }
        }
        peer
    }

    /// Whether the TLS listeners run.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// The S3 region (`us-east-1` unless set).
    pub fn s3_region(&self) -> String {
        self.s3_region.clone().unwrap_or_else(|| "us-east-1".to_owned())
    }

    /// The S3 endpoint: `S3_ENDPOINT`, else AWS's for the region.
    pub fn s3_endpoint(&self) -> String {
        self.s3_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.s3_region()))
    }

    /// The directory local file storage uses.
    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }

    /// The effective database URL.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("sova.db").display()),
        }
    }

    /// Production: refuse missing, weak or known-default secrets. Development: fill
    /// missing secrets from `<data_dir>/secrets.toml`, generating it on first start.
    pub fn prepare_secrets(&mut self) -> Result<(), ConfigError> {
        if self.is_production() {
            return self.check_production_secrets();
        }
        if self.jwt_secret.is_some() && self.message_encryption_key.is_some() {
            return Ok(());
        }
        let stored = load_or_create_secrets(&self.data_dir)?;
        if self.jwt_secret.is_none() {
            self.jwt_secret = Some(Secret(stored.jwt_secret));
        }
        if self.message_encryption_key.is_none() {
            self.message_encryption_key = Some(Secret(stored.message_encryption_key));
        }
        Ok(())
    }

    fn check_production_secrets(&self) -> Result<(), ConfigError> {
        let insecure = |m: String| Err(ConfigError::Insecure(m));
        for (name, value) in [
            ("JWT_SECRET", &self.jwt_secret),
            ("MESSAGE_ENCRYPTION_KEY", &self.message_encryption_key),
        ] {
            let Some(v) = value else {
                return insecure(format!("{name} is not set"));
            };
            if KNOWN_DEFAULT_SECRETS.contains(&v.expose()) {
                return insecure(format!("{name} is a published default value"));
            }
            if v.expose().len() < 32 {
                return insecure(format!("{name} is shorter than 32 characters"));
            }
        }
        for (name, value) in [("DATABASE_URL", &self.database_url), ("REDIS_URL", &self.redis_url)] {
            if let Some(url) = value
                && KNOWN_DEFAULT_SECRETS
                    .iter()
                    .any(|d| d.len() > 8 && url.expose().contains(d))
            {
                return insecure(format!("{name} contains a published default password"));
            }
        }
        Ok(())
    }
}

fn random_b64(len: usize) -> Result<String, ConfigError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| ConfigError::Invalid(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE.encode(buf))
}

fn load_or_create_secrets(dir: &Path) -> Result<StoredSecrets, ConfigError> {
    let io = |source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let path = dir.join(SECRETS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return toml::from_str(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let secrets = StoredSecrets {
        jwt_secret: random_b64(48)?,
        // A Fernet key: 32 random bytes, URL-safe base64.
        message_encryption_key: random_b64(32)?,
    };
    let text = toml::to_string(&secrets).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    write_private(&path, text.as_bytes()).map_err(io)?;
    Ok(secrets)
}

/// Writes a file readable by its owner only, atomically (temp file + rename).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults_and_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("sova.toml", "http_port = 9000\ntcp_port = 9001\n")?;
            jail.set_env("SOVA_CONFIG", "sova.toml");
            jail.set_env("TCP_PORT", "7777");
            jail.set_env("GRPC_PORT", "7778");
            jail.set_env("SOVA_DATA_DIR", "/tmp/x");
            jail.set_env("SOVA_ENV", "production");
            let c = Config::load().expect("load");
            assert_eq!(c.http_port, 9000);
            assert_eq!(c.tcp_port, 7777);
            assert_eq!(c.grpc_port, 7778);
            assert_eq!(c.grpc_tls_port, 50052);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert!(c.is_production());
            assert_eq!(c.max_message_chars, 4096);
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HTTP_PORT", "not-a-port");
            assert!(Config::load().is_err());
            jail.set_env("HTTP_PORT", "80");
            jail.set_env("DATABASE_URL", "mysql://x");
            assert!(Config::load().is_err());
            jail.set_env("DATABASE_URL", "sqlite::memory:");
            jail.set_env("JOB_WORKERS", "0");
            assert!(Config::load().is_err());
            jail.set_env("JOB_WORKERS", "3");
            jail.set_env("JOB_LEASE_SECS", "1");
            assert!(Config::load().is_err());
            jail.set_env("JOB_LEASE_SECS", "20");
            let c = Config::load().expect("valid job settings");
            assert_eq!((c.job_workers, c.job_lease_secs, c.job_max_attempts), (3, 20, 10));
            assert_eq!((c.max_upload_bytes, c.user_quota_bytes), (100 * 1024 * 1024, None));
            jail.set_env("MAX_UPLOAD_BYTES", "0");
            assert!(Config::load().is_err());
            jail.set_env("MAX_UPLOAD_BYTES", "2048");
            jail.set_env("USER_QUOTA_BYTES", "4096");
            let c = Config::load().expect("valid upload settings");
            assert_eq!((c.max_upload_bytes, c.user_quota_bytes), (2048, Some(4096)));
            jail.set_env("STORAGE", "s3");
            assert!(Config::load().is_err(), "s3 without a bucket and keys");
            jail.set_env("S3_BUCKET", "b");
            jail.set_env("S3_ACCESS_KEY_ID", "k");
            jail.set_env("S3_SECRET_ACCESS_KEY", "s");
            assert!(
                Config::load().is_err(),
                "no endpoint: AWS over https is not supported yet"
            );
            jail.set_env("S3_ENDPOINT", "ftp://x");
            assert!(Config::load().is_err(), "endpoint scheme");
            jail.set_env("S3_ENDPOINT", "http://127.0.0.1:9000");
            let c = Config::load().expect("valid s3 settings");
            assert_eq!((c.storage, c.s3_region()), (Storage::S3, "us-east-1".to_owned()));
            Ok(())
        });
    }

    #[test]
    fn rate_limits_off_lifts_limits_and_is_refused_in_production() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SOVA_RATE_LIMITS", "off");
            let c = Config::load().unwrap();
            assert_eq!(c.rate_limits, RateLimits::Off);
            assert_eq!(c.rate_limit_messages_per_min, u32::MAX);
            assert_eq!(c.rate_limit_frames_per_sec, u32::MAX);
            assert_eq!(c.reputation_block_at, u32::MAX);
            jail.set_env("SOVA_ENV", "production");
            assert!(matches!(Config::load(), Err(ConfigError::Insecure(_))));
            jail.set_env("SOVA_RATE_LIMITS", "on");
            let c = Config::load().unwrap();
            assert_eq!(c.rate_limit_messages_per_min, 1200);
            jail.set_env("SOVA_RATE_LIMITS", "maybe");
            assert!(matches!(Config::load(), Err(ConfigError::Invalid(_))));
            Ok(())
        });
    }

    #[test]
    fn production_refuses_missing_and_default_secrets() {
        let mut c = Config {
            env: Environment::Production,
            ..Config::default()
        };
        assert!(matches!(c.prepare_secrets(), Err(ConfigError::Insecure(_))));
        c.jwt_secret = Some(Secret::new("your-super-secret-jwt-key-change-it"));
        c.message_encryption_key = Some(Secret::new("a".repeat(44)));
        assert!(matches!(c.prepare_secrets(), Err(ConfigError::Insecure(_))));
        c.jwt_secret = Some(Secret::new("b".repeat(48)));
        c.message_encryption_key = Some(Secret::new("your-message-encryption-key"));
        assert!(matches!(c.prepare_secrets(), Err(ConfigError::Insecure(_))));
        c.message_encryption_key = Some(Secret::new("c".repeat(44)));
        c.database_url = Some(Secret::new("postgres://u:your-secure-password@h/db"));
        assert!(matches!(c.prepare_secrets(), Err(ConfigError::Insecure(_))));
        c.database_url = None;
        assert!(c.prepare_secrets().is_ok());
    }

    #[test]
    fn development_generates_secrets_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        a.prepare_secrets().unwrap();
        let mut b = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        b.prepare_secrets().unwrap();
        let (ja, jb) = (a.jwt_secret.unwrap(), b.jwt_secret.unwrap());
        assert_eq!(ja, jb);
        assert!(ja.expose().len() >= 48);
        assert_ne!(ja, a.message_encryption_key.unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRETS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let c = Config {
            trusted_proxies: "10.0.0.1, 10.0.0.2".into(),
            ..Config::default()
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            c.client_ip(ip("1.2.3.4"), Some("9.9.9.9")),
            ip("1.2.3.4"),
            "untrusted peer: header ignored"
        );
        assert_eq!(
            c.client_ip(ip("10.0.0.1"), Some("6.6.6.6, 5.5.5.5, 10.0.0.2")),
            ip("5.5.5.5")
        );
        assert_eq!(c.client_ip(ip("10.0.0.1"), None), ip("10.0.0.1"));
        assert_eq!(c.client_ip(ip("10.0.0.1"), Some("garbage")), ip("10.0.0.1"));
    }

    #[test]
    fn secrets_never_print() {
        let c = Config {
            jwt_secret: Some(Secret::new("topsecretvalue")),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("topsecretvalue"));
        assert!(!toml::to_string(&c).unwrap().contains("topsecretvalue"));
    }
}
