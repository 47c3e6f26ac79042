//! Store conformance suite: every case runs against SQLite and PostgreSQL through
//! `conformance_suite!`, so both backends are held to one behaviour. PostgreSQL cases
//! get a fresh schema each, so they run in parallel; when PostgreSQL is unreachable
//! they fail under CI (`CI` or `SOVA_REQUIRE_POSTGRES` set) and skip loudly otherwise.

#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod cases;

use sova_store::Stores;
use sova_store_postgres::PgStore;
use sova_store_sqlite::SqliteStore;

/// Default PostgreSQL URL for tests; override with `SOVA_TEST_DATABASE_URL`.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A backend under test plus what must be cleaned up after it.
pub struct Harness {
    pub stores: Stores,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(SqliteStore, tempfile::TempDir),
    Postgres(PgStore, String),
}

impl Harness {
    /// Drops the PostgreSQL schema / closes the SQLite pool.
    pub async fn cleanup(self) {
        match self.cleanup {
            Cleanup::Sqlite(store, dir) => {
                store.close().await;
                drop(dir);
            }
            Cleanup::Postgres(store, schema) => {
                store.close().await;
                drop_schema(&schema).await;
            }
        }
    }
}

/// The PostgreSQL URL tests use.
pub fn pg_url() -> String {
    std::env::var("SOVA_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_owned())
}

/// Whether PostgreSQL tests must fail (not skip) when PostgreSQL is unreachable.
pub fn postgres_required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("SOVA_REQUIRE_POSTGRES").is_some()
}

/// A migrated SQLite store in a temporary directory.
pub async fn sqlite() -> Option<Harness> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    Some(Harness {
        stores: store.clone().stores(),
        cleanup: Cleanup::Sqlite(store, dir),
    })
}

/// Creates a fresh schema and returns its name, or `None` (skip) when PostgreSQL is
/// unreachable and not required. Also drops schemas left over by crashed runs.
pub async fn fresh_pg_schema() -> Option<String> {
    let url = pg_url();
    let admin = match PgStore::connect(&url, None).await {
        Ok(s) => s,
        Err(e) => {
            if postgres_required() {
                panic!("PostgreSQL at {url} is required (CI) but unreachable: {e}");
            }
            eprintln!("SKIPPED: PostgreSQL at {url} unreachable ({e}); set SOVA_TEST_DATABASE_URL");
            return None;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let schema = format!("sova_t_{now}_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_admin(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    // Best effort: schemas of runs that crashed more than an hour ago.
    for old in admin.list_schemas("sova_t_").await.unwrap_or_default() {
        let ts: u64 = old.split('_').nth(2).and_then(|t| t.parse().ok()).unwrap_or(u64::MAX);
        if ts + 3600 < now {
            let _ = admin
                .execute_admin(&format!("DROP SCHEMA IF EXISTS {old} CASCADE"))
                .await;
        }
    }
    admin.close().await;
    Some(schema)
}

/// Drops a test schema.
pub async fn drop_schema(schema: &str) {
    if let Ok(admin) = PgStore::connect(&pg_url(), None).await {
        let _ = admin
            .execute_admin(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
        admin.close().await;
    }
}

/// A migrated PostgreSQL store in its own schema, or `None` when skipped.
pub async fn postgres() -> Option<Harness> {
    let schema = fresh_pg_schema().await?;
    let store = PgStore::connect(&pg_url(), Some(&schema))
        .await
        .expect("connect postgres");
    store.migrate().await.expect("migrate postgres");
    Some(Harness {
        stores: store.clone().stores(),
        cleanup: Cleanup::Postgres(store, schema),
    })
}

/// Instantiates every conformance case as a `#[tokio::test]` for one backend
/// (`sqlite` or `postgres`).
#[macro_export]
macro_rules! conformance_suite {
    ($backend:ident) => {
        $crate::conformance_suite!(@cases $backend:
            user_create_and_lookup,
            users_by_prefix_page_in_order,
            username_conflict_is_case_insensitive,
            registration_auto_joins,
            ensure_chat_is_idempotent_under_races,
            refresh_rotation_and_reuse,
            refresh_invalid_cases,
            refresh_family_revocation,
            blacklist_and_purge,
            append_assigns_ids_and_chat_seq,
            append_is_idempotent_by_client_msg_id,
            append_to_missing_chat,
            history_pages_without_overlap,
            messages_since_is_scoped_by_membership,
            concurrent_appends_stay_ordered,
            hostile_text_is_stored_inertly,
            private_chat_is_unique_per_pair,
            group_roles_and_membership_rules,
            channel_only_admins_post,
            edit_delete_and_versions,
            reactions_and_pins,
            read_state_and_receipts,
            events_are_scoped_and_ordered,
            invites_and_join,
            members_of_many_chats_in_one_query,
            mentions_replies_and_forwards,
            search_index_follows_changes_once_and_by_membership,
            tasks_keep_versions_order_and_membership,
        );
    };
    (@cases $backend:ident: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(h) = $crate::$backend().await else { return };
                tokio::time::timeout(
                    std::time::Duration::from_secs(60),
                    $crate::cases::$case(&h.stores),
                )
                .await
                .expect("case timed out");
                h.cleanup().await;
            }
        )*
    };
}
