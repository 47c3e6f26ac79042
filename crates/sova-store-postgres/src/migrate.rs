//! Schema migrations: the SQL files in `migrations/`, applied in order under an
//! advisory lock (so instances starting together migrate once), each recorded in
//! `schema_migrations`.

use crate::map_err;
use sova_store::StoreResult;
use sqlx::PgPool;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "messaging", include_str!("../migrations/0002_messaging.sql")),
    (3, "presence", include_str!("../migrations/0003_presence.sql")),
    (4, "mute", include_str!("../migrations/0004_mute.sql")),
    (5, "published", include_str!("../migrations/0005_published.sql")),
    (6, "attachments", include_str!("../migrations/0006_attachments.sql")),
    (7, "totp", include_str!("../migrations/0007_totp.sql")),
    (8, "sessions", include_str!("../migrations/0008_sessions.sql")),
];

/// Applies pending migrations in one transaction under an advisory lock.
pub(crate) async fn run(pool: &PgPool) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock(7370617)")
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(map_err)?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(version)
            .bind(*name)
            .bind(sova_types::time::now_micros())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tracing::info!(version, name, "applied postgres migration");
    }
    tx.commit().await.map_err(map_err)
}
