#!/usr/bin/env bash
# Runs the whole Sova test suite: formatting, lints, and every test (unit, store
# conformance on SQLite and PostgreSQL, end to end over REST/WebSocket/TCP), then the
# web client's type check, unit tests (Vitest) and end-to-end tests (Chromium).
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

echo "== web client (web/): typecheck, unit tests, end-to-end"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
        echo "node and npm are required for the web client's tests (Node.js >= 20.19)" >&2
        exit 1
    fi
    echo "SKIPPED: web client tests need Node.js >= 20.19 and npm"
    exit 0
fi
(
    cd web
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund
    fi
    npm run typecheck
    npm test
    cargo build --quiet --bin sova
    npm run e2e
)
