//! Schema migrations: the SQL files in `migrations/`, embedded by
//! `sqlx::migrate!` and applied in order, each recorded in `_sqlx_migrations`.
//!
//! Databases created before the switch to sqlx recorded their versions in
//! `schema_migrations` instead. `adopt_legacy` copies those versions into
//! `_sqlx_migrations` (with the checksums sqlx computes for the same files) so
//! the migrator sees them as applied and only runs what is new.

use crate::map_err;
use sova_store::{StoreError, StoreResult};
use sqlx::SqlitePool;
use sqlx::migrate::{Migrate, MigrateError, Migrator};

/// Every migration of this backend, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The table sqlx records applied migrations in.
const SQLX_TABLE: &str = "_sqlx_migrations";

fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => map_err(e),
        other => StoreError::Other(format!("migration failed: {other}")),
    }
}

/// Applies pending migrations (after adopting a legacy migration record).
pub(crate) async fn run(pool: &SqlitePool) -> StoreResult<()> {
    adopt_legacy(pool).await?;
    MIGRATOR.run(pool).await.map_err(migrate_err)
}

/// Marks the versions the hand-rolled migrator applied as applied for sqlx.
/// Idempotent; does nothing on databases without `schema_migrations`.
async fn adopt_legacy(pool: &SqlitePool) -> StoreResult<()> {
    let mut conn = pool.acquire().await.map_err(map_err)?;
    let legacy: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err)?;
    if legacy.is_none() {
        return Ok(());
    }
    conn.ensure_migrations_table(SQLX_TABLE).await.map_err(migrate_err)?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
        .await
        .map_err(map_err)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
    let mut adopted = 0;
    for m in MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && applied.contains(&m.version))
    {
        let done = sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, 0) ON CONFLICT (version) DO NOTHING",
        )
        .bind(m.version)
        .bind(m.description.as_ref())
        .bind(m.checksum.as_ref())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        adopted += done.rows_affected();
    }
    tx.commit().await.map_err(map_err)?;
    if adopted > 0 {
        tracing::info!(adopted, "adopted sqlite migrations recorded by the previous migrator");
    }
    Ok(())
}
