//! The SQLite and PostgreSQL migrations must declare the same schema: the same
//! tables, the same columns (name, nullability, type class) and the same
//! explicitly created indexes (name, table, columns, uniqueness, partial or
//! not). Both backends run the same SQL, so any drift is a bug waiting for the
//! backend that lacks the change. sqlx's own bookkeeping table is left out.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use sova_store_postgres::PgStore;
use sova_store_sqlite::SqliteStore;
use sova_store_tests::{drop_schema, fresh_pg_schema, pg_url};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// A column's type, as far as the two dialects can be compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Integer,
    Text,
    Bytes,
    Bool,
    Float,
    Other,
}

fn class(declared: &str) -> Class {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") || t == "SERIAL" || t == "BIGSERIAL" {
        Class::Integer
    } else if t.contains("CHAR") || t.contains("TEXT") || t.contains("CLOB") {
        Class::Text
    } else if t.contains("BLOB") || t.contains("BYTEA") {
        Class::Bytes
    } else if t.contains("BOOL") {
        Class::Bool
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") || t.contains("NUMERIC") {
        Class::Float
    } else {
        Class::Other
    }
}

/// One explicitly created index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    name: String,
    table: String,
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct Schema {
    /// table → column → (type class, nullable)
    tables: BTreeMap<String, BTreeMap<String, (Class, bool)>>,
    indexes: BTreeSet<Index>,
}

/// Tables that are not part of the application schema.
fn ignored(table: &str) -> bool {
    table == "_sqlx_migrations" || table.starts_with("sqlite_")
}

async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Schema {
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut tables = BTreeMap::new();
    let mut indexes = BTreeSet::new();
    for table in names.into_iter().filter(|t| !ignored(t)) {
        let cols = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap();
        let mut columns = BTreeMap::new();
        for c in cols {
            let (name, ty): (String, String) = (c.get(0), c.get(1));
            // Primary-key columns can never hold NULL (rowid aliases), as in PostgreSQL.
            let (notnull, pk): (i64, i64) = (c.get(2), c.get(3));
            columns.insert(name, (class(&ty), notnull == 0 && pk == 0));
        }
        let list = sqlx::query("SELECT name, \"unique\", origin, partial FROM pragma_index_list($1)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap();
        for i in list {
            let (name, unique, origin, partial): (String, i64, String, i64) = (i.get(0), i.get(1), i.get(2), i.get(3));
            // 'c': CREATE INDEX; constraint-backed indexes ('u', 'pk') differ by dialect.
            if origin != "c" {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT COALESCE(name, '<expr>') FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            indexes.insert(Index {
                name,
                table: table.clone(),
                columns,
                unique: unique != 0,
                partial: partial != 0,
            });
        }
        tables.insert(table, columns);
    }
    Schema { tables, indexes }
}

async fn pg_schema(pool: &sqlx::PgPool) -> Schema {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut tables = BTreeMap::new();
    for table in names.into_iter().filter(|t| !ignored(t)) {
        let cols = sqlx::query(
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(is_nullable AS TEXT) \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut columns = BTreeMap::new();
        for c in cols {
            let (name, ty, nullable): (String, String, String) = (c.get(0), c.get(1), c.get(2));
            columns.insert(name, (class(&ty), nullable == "YES"));
        }
        tables.insert(table, columns);
    }
    let rows = sqlx::query(
        "SELECT CAST(i.relname AS TEXT), CAST(t.relname AS TEXT), ix.indisunique, ix.indpred IS NOT NULL, \
         ARRAY(SELECT COALESCE(CAST(a.attname AS TEXT), '<expr>') \
               FROM unnest(CAST(ix.indkey AS INT2[])) WITH ORDINALITY AS k(attnum, ord) \
               LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let indexes = rows
        .into_iter()
        .map(|r| Index {
            name: r.get(0),
            table: r.get(1),
            unique: r.get(2),
            partial: r.get(3),
            columns: r.get(4),
        })
        .filter(|i| !ignored(&i.table))
        .collect();
    Schema { tables, indexes }
}

#[tokio::test]
async fn sqlite_and_postgres_declare_the_same_schema() {
    let Some(schema) = fresh_pg_schema().await else { return };
    let pg = PgStore::connect(&pg_url(), Some(&schema)).await.unwrap();
    pg.migrate().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .unwrap();
    lite.migrate().await.unwrap();

    let (a, b) = (sqlite_schema(lite.pool()).await, pg_schema(pg.pool()).await);
    assert!(
        a.tables.len() >= 10 && a.indexes.len() >= 10,
        "introspection found too little: {a:#?}"
    );
    let tables: BTreeSet<_> = a.tables.keys().chain(b.tables.keys()).collect();
    for t in tables {
        assert_eq!(
            a.tables.get(t),
            b.tables.get(t),
            "table {t}: SQLite (left) and PostgreSQL (right) differ"
        );
    }
    let only_sqlite: Vec<_> = a.indexes.difference(&b.indexes).collect();
    let only_pg: Vec<_> = b.indexes.difference(&a.indexes).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "indexes differ\nonly in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_pg:#?}"
    );
    lite.close().await;
    pg.close().await;
    drop_schema(&schema).await;
}
