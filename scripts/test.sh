#!/usr/bin/env bash
# Runs the whole Sova test suite: formatting, lints, and every test (unit, store
# conformance on SQLite and PostgreSQL, end to end over REST/WebSocket/TCP).
#
# PostgreSQL tests use SOVA_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
# They skip with a message when it is unreachable, unless CI or SOVA_REQUIRE_POSTGRES
# is set: then they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test tools"
./scripts/deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
