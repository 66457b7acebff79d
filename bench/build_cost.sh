#!/usr/bin/env bash
# What building costs a user: clean builds of the whole workspace and of `workerflow-registry`
# alone (with `cargo build --timings` reports), the no-op `cargo build`, and `cargo build` after
# touching services.json (build.rs regenerates the docs and the registry module).
#
# Usage: bench/build_cost.sh
# Uses its own target directory (target/build-cost) so the usual one is left warm. Prints a
# Markdown table; the --timings HTML reports land in target/build-cost/cargo-timings/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(pwd)/target/build-cost
export CARGO_TARGET_DIR=$target CARGO_TERM_COLOR=never

seconds() { # command... → wall seconds
  local start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1
  python3 -c "print($EPOCHREALTIME - $start)"
}

cargo fetch -q
rm -rf "$target"
registry_clean=$(seconds cargo build -p workerflow-registry --timings)
rm -rf "$target"
workspace_clean=$(seconds cargo build --workspace --timings)
noop=$(seconds cargo build --workspace)
touch connector-registry/services.json
touched=$(seconds cargo build --workspace)
noop_release_check=$(seconds cargo build --workspace)

echo "## build cost, $(date -u +%Y-%m-%d), $(nproc) cores, $(cargo --version)"
echo
echo "| build (debug profile) | wall time |"
echo "| --- | ---: |"
printf '| clean `cargo build -p workerflow-registry` | %.1f s |\n' "$registry_clean"
printf '| clean `cargo build --workspace` | %.1f s |\n' "$workspace_clean"
printf '| no-op `cargo build --workspace` | %.2f s |\n' "$noop"
printf '| `cargo build --workspace` after `touch connector-registry/services.json` | %.2f s |\n' "$touched"
printf '| no-op again (the touch left nothing to redo) | %.2f s |\n' "$noop_release_check"
echo
echo "Crates compiled for build.rs (the root package's build-dependency closure):"
echo
cargo tree -p workerflow-registry --no-default-features -e normal --prefix none --format '{p}' \
  | sed 's/ (.*//' | sort -u | awk '{printf "%s%s", sep, $1 " " $2; sep=", "} END {print ""}'
