//! Test harness: a migrated database of either backend (SQLite file in a temp dir,
//! or a fresh PostgreSQL schema that fails the test under CI when PostgreSQL is
//! unreachable), any number of "instances" (separate pools) on it, and helpers that
//! never wait without a timeout.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sova_jobs::postgres::PgJobs;
use sova_jobs::sqlite::SqliteJobs;
use sova_jobs::{JobInfo, JobStore};
use sova_store_postgres::PgStore;
use sova_store_sqlite::SqliteStore;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub fn parse(s: &str) -> Backend {
        if s == "postgres" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// A migrated database that instances connect to.
pub struct TestDb {
    pub backend: Backend,
    /// SQLite URL, or the PostgreSQL base URL.
    pub url: String,
    /// PostgreSQL schema.
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// One "instance": its own pool on the shared database.
pub struct Instance {
    pub store: Arc<dyn JobStore>,
    pub pool: Pool,
}

pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The table test handlers write their effect into: one row per job key, ever.
pub const EFFECTS_DDL: &str =
    "CREATE TABLE job_effects (job_key TEXT PRIMARY KEY, finisher TEXT NOT NULL, attempt BIGINT NOT NULL)";

impl TestDb {
    /// A fresh database; `None` when PostgreSQL is unreachable and not required.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let db = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
                TestDb {
                    backend,
                    url,
                    schema: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let schema = within(30, sova_store_tests::fresh_pg_schema()).await?;
                TestDb {
                    backend,
                    url: sova_store_tests::pg_url(),
                    schema: Some(schema),
                    _dir: None,
                }
            }
        };
        let first = db.instance().await;
        first.exec(EFFECTS_DDL).await;
        first.close().await;
        Some(db)
    }

    /// The database named by the environment of a child process (see `sigkill.rs`).
    pub fn from_parts(backend: Backend, url: String, schema: Option<String>) -> TestDb {
        TestDb {
            backend,
            url,
            schema,
            _dir: None,
        }
    }

    /// A new instance (own pool, migrated) on this database.
    pub async fn instance(&self) -> Instance {
        within(30, async {
            match self.backend {
                Backend::Sqlite => {
                    let s = SqliteStore::connect(&self.url).await.expect("open sqlite");
                    s.migrate().await.expect("migrate sqlite");
                    let pool = s.pool().clone();
                    Instance {
                        store: Arc::new(SqliteJobs::new(pool.clone())),
                        pool: Pool::Sqlite(pool),
                    }
                }
                Backend::Postgres => {
                    let s = PgStore::connect(&self.url, self.schema.as_deref())
                        .await
                        .expect("connect postgres");
                    s.migrate().await.expect("migrate postgres");
                    let pool = s.pool().clone();
                    Instance {
                        store: Arc::new(PgJobs::new(pool.clone())),
                        pool: Pool::Postgres(pool),
                    }
                }
            }
        })
        .await
    }

    pub async fn cleanup(self) {
        if let Some(s) = &self.schema {
            within(30, sova_store_tests::drop_schema(s)).await;
        }
    }
}

impl Instance {
    /// Runs one statement (test set-up).
    pub async fn exec(&self, sql: &'static str) {
        within(30, async {
            match &self.pool {
                Pool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
                Pool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
            }
        })
        .await
        .expect(sql);
    }

    /// One integer from a query (`$1` bound to `arg` when given).
    pub async fn scalar(&self, sql: &'static str, arg: Option<&str>) -> i64 {
        within(30, async {
            match &self.pool {
                Pool::Sqlite(p) => {
                    let mut q = sqlx::query_scalar::<_, i64>(sql);
                    if let Some(a) = arg {
                        q = q.bind(a.to_owned());
                    }
                    q.fetch_one(p).await
                }
                Pool::Postgres(p) => {
                    let mut q = sqlx::query_scalar::<_, i64>(sql);
                    if let Some(a) = arg {
                        q = q.bind(a.to_owned());
                    }
                    q.fetch_one(p).await
                }
            }
        })
        .await
        .expect(sql)
    }

    /// Rows of two text columns.
    pub async fn pairs(&self, sql: &'static str) -> Vec<(String, String)> {
        within(30, async {
            match &self.pool {
                Pool::Sqlite(p) => sqlx::query_as::<_, (String, String)>(sql).fetch_all(p).await,
                Pool::Postgres(p) => sqlx::query_as::<_, (String, String)>(sql).fetch_all(p).await,
            }
        })
        .await
        .expect(sql)
    }

    pub async fn job(&self, id: i64) -> JobInfo {
        within(30, self.store.get(id)).await.unwrap().expect("job exists")
    }

    pub async fn close(&self) {
        within(30, async {
            match &self.pool {
                Pool::Sqlite(p) => p.close().await,
                Pool::Postgres(p) => p.close().await,
            }
        })
        .await;
    }
}

/// Awaits `f`, panicking after `secs`.
pub async fn within<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s"))
}

/// Polls `check` every 20 ms until it is true, panicking after `secs`.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if within(secs, check()).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Instantiates `async fn name(Backend)` as a test per backend, each with a timeout.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    tokio::time::timeout(std::time::Duration::from_secs(120), super::$name(super::common::Backend::Sqlite))
                        .await
                        .expect("test timed out");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    tokio::time::timeout(std::time::Duration::from_secs(120), super::$name(super::common::Backend::Postgres))
                        .await
                        .expect("test timed out");
                }
            )*
        }
    };
}
