//! A real PostgreSQL serialization failure (two SERIALIZABLE transactions
//! updating one row) is recognised as retryable and, if retries run out, reported
//! as `Unavailable`; the retry loop itself is unit-tested in `sova-store-sql`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use sova_store::StoreError;
use sova_store_postgres::PgStore;
use sova_store_tests::{drop_schema, fresh_pg_schema, pg_url};
use sqlx::Connection;

#[tokio::test]
async fn postgres_serialization_failure_is_retryable() {
    let Some(schema) = fresh_pg_schema().await else { return };
    let store = PgStore::connect(&pg_url(), Some(&schema)).await.unwrap();
    store.migrate().await.unwrap();
    store
        .execute_admin("INSERT INTO counters (name, value) VALUES ('race', 0)")
        .await
        .unwrap();
    let (mut a, mut b) = (
        store.pool().acquire().await.unwrap(),
        store.pool().acquire().await.unwrap(),
    );
    let mut ta = a.begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
    let mut tb = b.begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
    for tx in [&mut ta, &mut tb] {
        sqlx::query("SELECT value FROM counters WHERE name = 'race'")
            .fetch_one(&mut **tx)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'race'")
        .execute(&mut *ta)
        .await
        .unwrap();
    ta.commit().await.unwrap();
    let err = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'race'")
        .execute(&mut *tb)
        .await
        .expect_err("the second writer must be refused");
    assert!(sova_store_postgres::is_retryable(&err), "{err:?}");
    assert!(matches!(sova_store_postgres::map_err(err), StoreError::Unavailable(_)));
    drop(tb);
    drop((a, b));
    store.close().await;
    drop_schema(&schema).await;
}
