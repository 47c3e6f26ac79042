//! Schema migrations: the SQL files in `migrations/`, applied in order, each
//! recorded in `schema_migrations`.

use crate::map_err;
use sova_store::StoreResult;
use sqlx::SqlitePool;

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

/// Applies pending migrations in one immediate transaction.
pub(crate) async fn run(pool: &SqlitePool) -> StoreResult<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(map_err)?;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
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
        tracing::info!(version, name, "applied sqlite migration");
    }
    tx.commit().await.map_err(map_err)
}
