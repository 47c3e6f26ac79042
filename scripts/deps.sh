#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust when it is missing: oathtool (an
# independent TOTP implementation), python3's `cryptography` (decrypts stored rows to
# prove the Fernet format), pg_dump (checks a PostgreSQL dump for plaintext) and
# Debian's chromium (the web client's end-to-end tests drive it; required in CI), and
# moto's S3 server with boto3 (PyPI `moto[server]`: the STORAGE=s3 tests run against it),
# the third-party gRPC and GraphQL clients the end-to-end tests drive the server with:
# grpcio (+ grpcio-tools for stubs, health, status details, reflection) and gql.
set -uo pipefail

apt_install() {
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y "$@" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y "$@" >/dev/null 2>&1; }
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get install -y "$@" >/dev/null 2>&1
    fi
}

command -v oathtool >/dev/null 2>&1 || apt_install oathtool || echo "note: could not install oathtool" >&2
command -v pg_dump >/dev/null 2>&1 || apt_install postgresql-client || echo "note: could not install pg_dump" >&2
if ! python3 -c "import cryptography" >/dev/null 2>&1; then
    python3 -m pip install --quiet cryptography >/dev/null 2>&1 || apt_install python3-cryptography || echo "note: could not install python cryptography" >&2
fi
if ! python3 -c "import moto.server, boto3, flask_cors" >/dev/null 2>&1; then
    python3 -m pip install --quiet "moto[server]" >/dev/null 2>&1 || echo "note: could not install moto[server] (the S3 tests need it)" >&2
fi
PY_CLIENTS="grpcio grpcio-tools grpcio-health-checking grpcio-status grpcio-reflection gql[websockets,requests]"
if ! python3 -c "import grpc, grpc_tools, grpc_health, grpc_status, grpc_reflection, gql, websockets, requests" >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    python3 -m pip install --quiet $PY_CLIENTS >/dev/null 2>&1 \
        || python3 -m pip install --quiet --break-system-packages $PY_CLIENTS >/dev/null 2>&1 \
        || echo "note: could not install the python gRPC/GraphQL clients" >&2
    if [ -n "${CI:-}" ] && ! python3 -c "import grpc, grpc_tools, gql" >/dev/null 2>&1; then
        echo "python grpcio, grpcio-tools and gql are required in CI (pip install $PY_CLIENTS)" >&2
        exit 1
    fi
fi
if ! [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    apt_install chromium fonts-noto-color-emoji || apt_install chromium || echo "note: could not install chromium" >&2
    if [ -n "${CI:-}" ] && ! [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
        echo "chromium is required in CI for the web client's end-to-end tests (apt-get install chromium)" >&2
        exit 1
    fi
fi
exit 0
