//! The store conformance suite on SQLite.
sova_store_tests::conformance_suite!(sqlite);
