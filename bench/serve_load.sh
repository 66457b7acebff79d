#!/usr/bin/env bash
# Load test of `workerflow serve` (issue 7): 20,000 POSTs with 64 connections to
# `lead_normalizer` (sync) and to `slack_message` (async, delivered to a loopback mock that counts
# deliveries), with wrk (`apt-get install -y wrk`). Prints throughput, p50/p90/p99 latency, the
# server's peak RSS, and checks that every accepted Slack job reached the mock.
#
#   bench/serve_load.sh [REQUESTS] [CONNECTIONS]
#
# Environment: WORKERFLOW_LOG (server log level, default info; the log goes to a file),
# SERVE_ARGS (extra `workerflow serve` arguments; default: the memory queue (its drain line is
# what the no-loss check reads; bench/serve_jobs.sh measures the durable stores), one that holds a whole run and 64
# workers, so no call meets the 503 of a full queue), WRK_MAX_SECONDS (cap per run, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${1:-20000}
connections=${2:-64}
wrk_threads=2
per_thread=$((requests / wrk_threads))
server_port=18787
mock_port=18788
token="bench-token-$$-$RANDOM-$RANDOM"  # at least 16 characters: serve refuses shorter
serve_args=${SERVE_ARGS:---queue-capacity 32768 --workers 64 --jobs memory}
work=$(mktemp -d)
trap 'kill $server_pid $mock_pid 2>/dev/null || true; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
# WORKERFLOW_BIN / MOCK_BIN: binaries built elsewhere (bench/contracts_runtime.sh runs the same
# load against an older build); otherwise this tree's release build.
if [[ -z "${WORKERFLOW_BIN:-}" ]]; then
  cargo build --release -q --bin workerflow --example mock_upstream
fi
release=${CARGO_TARGET_DIR:-target}/release
bin=${WORKERFLOW_BIN:-$release/workerflow}
mock=${MOCK_BIN:-$release/examples/mock_upstream}

"$mock" "127.0.0.1:$mock_port" 2>"$work/mock.log" &
mock_pid=$!
env -i PATH="$PATH" WORKERFLOW_API_TOKEN="$token" GOOGLEAI_API_KEY=bench-google-key \
  SLACK_WEBHOOK_URL="http://127.0.0.1:$mock_port/services/T000/B000/bench" \
  WORKERFLOW_LOG="${WORKERFLOW_LOG:-info}" \
  "$bin" serve --addr "127.0.0.1:$server_port" $serve_args 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$server_port/health" >/dev/null && curl -sf "http://127.0.0.1:$mock_port/count" >/dev/null && break
  sleep 0.05
done

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "server: $bin serve $serve_args (log level ${WORKERFLOW_LOG:-info}, to a file)"

run() {
  local route=$1 count=$2
  wrk -t"$wrk_threads" -c"$connections" -d"${WRK_MAX_SECONDS:-20}s" --timeout 10s -s bench/serve_load.lua \
    "http://127.0.0.1:$server_port" -- "$route" "$count" "$token" | sed -n '/^responses/,$p'
}

# Warm-up: connections, allocator, caches.
run lead_normalizer 1000 >/dev/null
run slack_message 1000 >/dev/null

echo "== POST /api/lead_normalizer: $requests requests, $connections connections"
run lead_normalizer "$per_thread"
echo "== POST /api/slack_message: $requests requests, $connections connections"
run slack_message "$per_thread"
echo "peak RSS of the server: $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' /proc/$server_pid/status)"
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

# Every accepted job must reach the mock: stop the server (it drains) and compare counts.
kill -TERM "$server_pid"
wait "$server_pid" && status=0 || status=$?
drain=$(grep -o 'drained: .*\|drain deadline passed: .*' "$work/server.log" | tail -1)
accepted=$(sed -n 's/.*accepted=\([0-9]*\).*/\1/p' <<<"$drain")
delivered=$(curl -sf "http://127.0.0.1:$mock_port/count")
echo "server exit status $status; $drain"
echo "slack jobs accepted (202) $accepted, deliveries counted by the mock $delivered"
if [[ "$status" != 0 || "$accepted" != "$delivered" ]]; then
  echo "FAIL: jobs lost or left undone" >&2
  exit 1
fi
echo "ok: no job lost"
