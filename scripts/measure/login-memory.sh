#!/usr/bin/env bash
# Server memory after a burst of registrations and logins (until sova-bench's `login`
# scenario exists): starts BINARY on PORT with limits raised, registers and logs in N
# users with 16 concurrent curl clients, and prints VmRSS at start and after, and ops/s.
#
#   scripts/measure/login-memory.sh target/release/sova 19580 200
set -euo pipefail
BIN=${1:?binary}; P=${2:-19580}; N=${3:-200}
D=$(mktemp -d)
SOVA_DATA_DIR=$D HTTP_PORT=$P TCP_PORT=$((P+1)) GRPC_PORT=$((P+2)) RATE_LIMIT_REGISTER_PER_HOUR=100000 \
  RATE_LIMIT_LOGIN_PER_MIN=100000 REPUTATION_CAPTCHA_AT=1000000 REPUTATION_BLOCK_AT=2000000 \
  RUST_LOG=warn "$BIN" > "$D/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 50); do curl -s "localhost:$P/health" >/dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
start=$(rss)
t0=$(date +%s.%N)
seq "$N" | xargs -P 16 -I{} curl -s -o /dev/null -X POST "localhost:$P/api/register" \
  -d "{\"username\":\"user{}x\",\"password\":\"password-{}-long\"}"
seq "$N" | xargs -P 16 -I{} curl -s -o /dev/null -X POST "localhost:$P/api/login" \
  -d "{\"username\":\"user{}x\",\"password\":\"password-{}-long\"}"
t1=$(date +%s.%N)
echo "RSS at start ${start} KB; after $N registrations and $N logins $(rss) KB;" \
  "$(echo "2*$N/($t1-$t0)" | bc -l | cut -c1-6) ops/s"
