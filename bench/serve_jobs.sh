#!/usr/bin/env bash
# Async accept throughput per job store (issue 14): the same wrk load of `slack_message` calls
# against `workerflow serve --jobs memory`, `--jobs sqlite` and `--jobs postgres://…`, side by
# side in one run, each followed by a delivery check (every 202 reached the loopback mock).
# PostgreSQL runs as a throwaway cluster in a temp directory on a loopback port (as the
# `postgres` user when run as root); without PostgreSQL's server installed it is left out.
#
#   bench/serve_jobs.sh [REQUESTS] [CONNECTIONS]
#
# Needs wrk (`apt-get install -y wrk`). SERVE_ARGS adds `serve` arguments (default: a queue that
# holds a whole run and 64 workers).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${1:-20000}
connections=${2:-64}
wrk_threads=2
per_thread=$((requests / wrk_threads))
server_port=18797
mock_port=18798
pg_port=18799
token="bench-token-$$-$RANDOM-$RANDOM"
serve_args=${SERVE_ARGS:---queue-capacity 65536 --workers 64}
work=$(mktemp -d)
server_pid=
pg_ctl=
stop_pg() { [[ -n $pg_ctl ]] && $as_pg "$pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true; }
trap 'kill $server_pid $mock_pid 2>/dev/null || true; stop_pg; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
cargo build --release -q --bin workerflow --example mock_upstream
bin=target/release/workerflow
mock=target/release/examples/mock_upstream

"$mock" "127.0.0.1:$mock_port" 2>"$work/mock.log" &
mock_pid=$!
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "server: $bin serve $serve_args (log level ${WORKERFLOW_LOG:-info}, to a file)"

stores=(memory sqlite)
pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1 || true)
if [[ -n $pg_bin ]]; then
  as_pg=
  [[ $(id -u) == 0 ]] && as_pg="runuser -u postgres --"
  mkdir -p "$work/pg" && echo "bench-pw" >"$work/pg/pw"
  [[ -n $as_pg ]] && chown -R postgres: "$work/pg" && chmod 755 "$work"
  $as_pg "$pg_bin/initdb" -D "$work/pg/data" -U bench --pwfile "$work/pg/pw" --auth scram-sha-256 \
    -E UTF8 --locale C >/dev/null
  pg_ctl="$pg_bin/pg_ctl"
  $as_pg "$pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg" start >/dev/null
  echo "postgres: $("$pg_bin/postgres" --version), default settings (fsync and synchronous_commit on)"
  stores+=("postgres://bench:bench-pw@127.0.0.1:$pg_port/postgres")
else
  echo "postgres: not installed (apt-get install -y postgresql), left out"
fi

failed=0
for store in "${stores[@]}"; do
  name=${store%%:*}
  data="$work/data-$name"
  env -i PATH="$PATH" WORKERFLOW_API_TOKEN="$token" \
    SLACK_WEBHOOK_URL="http://127.0.0.1:$mock_port/services/T000/B000/bench" \
    WORKERFLOW_LOG="${WORKERFLOW_LOG:-info}" \
    "$bin" serve --addr "127.0.0.1:$server_port" --jobs "$store" --data-dir "$data" \
    $serve_args 2>"$work/server-$name.log" &
  server_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$server_port/health" >/dev/null && break
    sleep 0.05
  done
  before=$(curl -sf "http://127.0.0.1:$mock_port/count")
  echo "== --jobs $name: POST /api/slack_message, $requests requests, $connections connections"
  out=$(wrk -t"$wrk_threads" -c"$connections" -d"${WRK_MAX_SECONDS:-20}s" --timeout 10s \
    -s bench/serve_load.lua "http://127.0.0.1:$server_port" -- slack_message "$per_thread" "$token" |
    sed -n '/^responses/,$p')
  echo "$out"
  # wrk counts the responses it waited for; the calls still in flight when it stops are
  # accepted too. So the accepted count is the server's: the drain line (memory) or the rows of
  # the store (sqlite, postgres). Wait until the mock has them all (at most 60 s) for those.
  if [[ $name != memory ]]; then
    for _ in $(seq 600); do
      accepted=$("$bin" jobs --jobs "$store" --data-dir "$data" list | wc -l)
      succeeded=$("$bin" jobs --jobs "$store" --data-dir "$data" list --state succeeded | wc -l)
      [[ $succeeded -ge $accepted ]] && break
      sleep 0.1
    done
  fi
  kill -TERM "$server_pid"; wait "$server_pid" || true
  delivered=$(( $(curl -sf "http://127.0.0.1:$mock_port/count") - before ))
  if [[ $name == memory ]]; then
    # The drain line is logged at info: with WORKERFLOW_LOG=warn there is no count to check.
    accepted=$( (grep -o 'drained: .*accepted=[0-9]*' "$work/server-$store.log" || true) | sed 's/.*accepted=//' | tail -1)
    accepted=${accepted:-$delivered}
  elif [[ $name == sqlite ]]; then
    echo "store: $succeeded of $accepted jobs succeeded, $(du -sh "$data" | cut -f1) on disk"
  else
    echo "store: $succeeded of $accepted jobs succeeded"
  fi
  echo "accepted (202) ${accepted:-?}, delivered by the mock $delivered"
  [[ $delivered == "$accepted" ]] || { echo "FAIL: --jobs $name delivered $delivered of $accepted" >&2; failed=1; }
done
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $failed
