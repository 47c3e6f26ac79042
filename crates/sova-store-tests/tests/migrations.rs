//! Databases created by the hand-rolled migrator (versions recorded in
//! `schema_migrations`) keep working under `sqlx::migrate!`: their versions are
//! adopted, nothing is re-run, data stays, and later migrations still apply.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use sova_store::NewUser;
use sova_store_postgres::PgStore;
use sova_store_sqlite::SqliteStore;
use sova_store_tests::{drop_schema, fresh_pg_schema, pg_url};

/// The migrations the previous migrator knew, as it applied them.
const SQLITE_LEGACY: [(i64, &str, &str); 8] = [
    (
        1,
        "init",
        include_str!("../../sova-store-sqlite/migrations/0001_init.sql"),
    ),
    (
        2,
        "messaging",
        include_str!("../../sova-store-sqlite/migrations/0002_messaging.sql"),
    ),
    (
        3,
        "presence",
        include_str!("../../sova-store-sqlite/migrations/0003_presence.sql"),
    ),
    (
        4,
        "mute",
        include_str!("../../sova-store-sqlite/migrations/0004_mute.sql"),
    ),
    (
        5,
        "published",
        include_str!("../../sova-store-sqlite/migrations/0005_published.sql"),
    ),
    (
        6,
        "attachments",
        include_str!("../../sova-store-sqlite/migrations/0006_attachments.sql"),
    ),
    (
        7,
        "totp",
        include_str!("../../sova-store-sqlite/migrations/0007_totp.sql"),
    ),
    (
        8,
        "sessions",
        include_str!("../../sova-store-sqlite/migrations/0008_sessions.sql"),
    ),
];

const PG_LEGACY: [(i64, &str, &str); 8] = [
    (
        1,
        "init",
        include_str!("../../sova-store-postgres/migrations/0001_init.sql"),
    ),
    (
        2,
        "messaging",
        include_str!("../../sova-store-postgres/migrations/0002_messaging.sql"),
    ),
    (
        3,
        "presence",
        include_str!("../../sova-store-postgres/migrations/0003_presence.sql"),
    ),
    (
        4,
        "mute",
        include_str!("../../sova-store-postgres/migrations/0004_mute.sql"),
    ),
    (
        5,
        "published",
        include_str!("../../sova-store-postgres/migrations/0005_published.sql"),
    ),
    (
        6,
        "attachments",
        include_str!("../../sova-store-postgres/migrations/0006_attachments.sql"),
    ),
    (
        7,
        "totp",
        include_str!("../../sova-store-postgres/migrations/0007_totp.sql"),
    ),
    (
        8,
        "sessions",
        include_str!("../../sova-store-postgres/migrations/0008_sessions.sql"),
    ),
];

const LEGACY_USER: &str = "INSERT INTO users (username, username_lower, password_hash, created_at) \
                           VALUES ('oldtimer', 'oldtimer', 'hash', 1)";

/// Checks a legacy database after `migrate()`: the old data is there, the store
/// works, and every legacy version is recorded for sqlx exactly once.
async fn check_adopted(stores: &sova_store::Stores, sqlx_versions: Vec<i64>) {
    let old = stores.users.user_by_name("oldtimer").await.unwrap();
    assert_eq!(old.map(|u| u.username).as_deref(), Some("oldtimer"));
    let new = stores
        .users
        .create_user(
            NewUser {
                username: "newcomer".into(),
                username_lower: "newcomer".into(),
                password_hash: "h".into(),
                created_at: 2,
            },
            &[],
        )
        .await
        .unwrap();
    assert!(new.id.0 > 0);
    for v in 1..=8 {
        assert_eq!(
            sqlx_versions.iter().filter(|x| **x == v).count(),
            1,
            "version {v}: {sqlx_versions:?}"
        );
    }
}

#[tokio::test]
async fn sqlite_database_from_the_old_migrator_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("legacy.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    {
        let pool = store.pool();
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(pool)
        .await
        .unwrap();
        for (version, name, sql) in SQLITE_LEGACY {
            sqlx::raw_sql(sql).execute(pool).await.unwrap();
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
                .bind(version)
                .bind(name)
                .execute(pool)
                .await
                .unwrap();
        }
        sqlx::raw_sql(LEGACY_USER).execute(pool).await.unwrap();
    }
    store.migrate().await.expect("adopt and migrate");
    store.migrate().await.expect("second run is a no-op");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(store.pool())
        .await
        .unwrap();
    check_adopted(&store.clone().stores(), versions).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_database_from_the_old_migrator_is_adopted() {
    let Some(schema) = fresh_pg_schema().await else { return };
    let store = PgStore::connect(&pg_url(), Some(&schema)).await.unwrap();
    store
        .execute_admin(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await
        .unwrap();
    for (version, name, sql) in PG_LEGACY {
        store.execute_admin(sql).await.unwrap();
        store
            .execute_admin(&format!(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{name}', 0)"
            ))
            .await
            .unwrap();
    }
    store.execute_admin(LEGACY_USER).await.unwrap();
    store.migrate().await.expect("adopt and migrate");
    store.migrate().await.expect("second run is a no-op");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(store.pool())
        .await
        .unwrap();
    check_adopted(&store.clone().stores(), versions).await;
    store.close().await;
    drop_schema(&schema).await;
}
