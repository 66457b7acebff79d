#!/usr/bin/env bash
# check-urls throughput: 1,000 distinct URLs over 50 loopback hosts, a server that answers every
# request after 50 ms, --concurrency 32. Target: under 4 s.
#   bench/check_urls.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
port=${BENCH_PORT:-18431}
cargo build --release -q -p workerflow
bin=target/release/workerflow
mkdir -p target/bench
registry=target/bench/check-urls-1000.json
python3 bench/check_urls.py registry 1000 50 "$port" "$registry"

python3 bench/check_urls.py serve 50 "$port" 50 > target/bench/check-urls-server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q ready target/bench/check-urls-server.log 2>/dev/null && break
  sleep 0.1
done

# The registry's URLs are https on loopback; --loopback-http sends them as plain http.
for run in $(seq "$runs"); do
  start=$(date +%s.%N)
  "$bin" check-urls "$registry" --concurrency 32 --loopback-http > target/bench/check-urls-out.txt
  end=$(date +%s.%N)
  echo "run $run: $(echo "$end - $start" | bc) s ($(tail -1 target/bench/check-urls-out.txt))"
done
