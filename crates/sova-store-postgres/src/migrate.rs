//! Schema migrations: the SQL files in `migrations/`, embedded by
//! `sqlx::migrate!` and applied in order under sqlx's advisory lock (so
//! instances starting together migrate once), each recorded in
//! `_sqlx_migrations`.
//!
//! Databases created before the switch to sqlx recorded their versions in
//! `schema_migrations` instead. `adopt_legacy` copies those versions into
//! `_sqlx_migrations` (with the checksums sqlx computes for the same files) so
//! the migrator sees them as applied and only runs what is new.

use crate::map_err;
use sova_store::{StoreError, StoreResult};
use sqlx::PgPool;
use sqlx::migrate::{Migrate, MigrateError, Migrator};

/// Every migration of this backend, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The table sqlx records applied migrations in.
const SQLX_TABLE: &str = "_sqlx_migrations";

/// Serializes adoption between instances starting together (the key the
/// hand-rolled migrator used).
const ADOPT_LOCK: i64 = 7_370_617;

fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => map_err(e),
        other => StoreError::Other(format!("migration failed: {other}")),
    }
}

/// Applies pending migrations (after adopting a legacy migration record).
pub(crate) async fn run(pool: &PgPool) -> StoreResult<()> {
    adopt_legacy(pool).await?;
    MIGRATOR.run(pool).await.map_err(migrate_err)
}

/// Marks the versions the hand-rolled migrator applied as applied for sqlx.
/// Idempotent; does nothing on databases without `schema_migrations`.
async fn adopt_legacy(pool: &PgPool) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADOPT_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    // `to_regclass` resolves through the search path, like the queries do.
    let legacy: Option<String> = sqlx::query_scalar("SELECT CAST(to_regclass('schema_migrations') AS TEXT)")
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
    if legacy.is_none() {
        return tx.commit().await.map_err(map_err);
    }
    tx.ensure_migrations_table(SQLX_TABLE).await.map_err(migrate_err)?;
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
        tracing::info!(adopted, "adopted postgres migrations recorded by the previous migrator");
    }
    Ok(())
}
