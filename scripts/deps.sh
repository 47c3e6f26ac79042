#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust when it is missing: oathtool (an
# independent TOTP implementation), python3's `cryptography` (decrypts stored rows to
# prove the Fernet format), pg_dump (checks a PostgreSQL dump for plaintext) and
# Debian's chromium (the web client's end-to-end tests drive it; required in CI), and
# moto's S3 server with boto3 (PyPI `moto[server]`: the STORAGE=s3 tests run against it).
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
if ! [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    apt_install chromium fonts-noto-color-emoji || apt_install chromium || echo "note: could not install chromium" >&2
    if [ -n "${CI:-}" ] && ! [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
        echo "chromium is required in CI for the web client's end-to-end tests (apt-get install chromium)" >&2
        exit 1
    fi
fi
exit 0
