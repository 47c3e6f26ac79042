//! The store conformance suite on PostgreSQL (one schema per case).
sova_store_tests::conformance_suite!(postgres);
