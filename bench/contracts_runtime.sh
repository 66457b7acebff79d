#!/usr/bin/env bash
# Issue 28's budgets: this tree against a base commit (default f90f9e4, main before the typed
# contracts), built and measured in one run so the machine's noise hits both alike.
#
#   bench/contracts_runtime.sh [BASE]
#
# 1. clean `cargo build -p workerflow` (debug: build.rs + compile), each tree in its own target
#    directory after `cargo fetch`;
# 2. `cargo bench --bench slack_dispatch`: the runtime's overhead per `slack_message` dispatch
#    (now with the input schema check and the egress check) over a bare reqwest POST;
# 3. bench/serve_load.sh: `workerflow serve` sync throughput on `lead_normalizer` (and async
#    `slack_message`), this script's copy run against each tree's release binary.
# Needs wrk. Prints everything; the summary goes in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-f90f9e4}
here=$(pwd)
work=$here/target/contracts-bench
mkdir -p "$work"
base_tree=$work/base
if [[ ! -d "$base_tree" ]]; then
  git worktree add --detach "$base_tree" "$base" >/dev/null
fi
trap 'git -C "$here" worktree remove --force "$base_tree" 2>/dev/null || true' EXIT

seconds() { # command... -> wall seconds
  local start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1
  python3 -c "print(round($EPOCHREALTIME - $start, 1))"
}

declare -A clean
for name in base new; do
  tree=$here; [[ $name == base ]] && tree=$base_tree
  export CARGO_TARGET_DIR=$work/target-$name
  (cd "$tree" && cargo fetch -q)
  rm -rf "$CARGO_TARGET_DIR"
  clean[$name]=$(cd "$tree" && seconds cargo build -p workerflow)
  echo "clean debug build of the root package ($name): ${clean[$name]} s"
done

for name in base new; do
  tree=$here; [[ $name == base ]] && tree=$base_tree
  export CARGO_TARGET_DIR=$work/target-$name
  echo "== slack_message dispatch ($name, $(cd "$tree" && git rev-parse --short HEAD))"
  (cd "$tree" && cargo bench -q --bench slack_dispatch 2>/dev/null | grep -E '^\||overhead')
  (cd "$tree" && cargo build --release -q --bin workerflow --example mock_upstream)
done

for name in base new; do
  release=$work/target-$name/release
  echo "== serve load ($name)"
  WORKERFLOW_BIN=$release/workerflow MOCK_BIN=$release/examples/mock_upstream \
    bench/serve_load.sh 20000 64
done
echo "clean builds: base ${clean[base]} s, new ${clean[new]} s (ratio $(python3 -c "print(round(${clean[new]} / ${clean[base]}, 2))"))"
