#!/usr/bin/env bash
# Compile time of a crate with N #[connector] functions against the same crate written without
# the macro (bench/macro_compile.py). Dependencies are built first; each timed run compiles only
# the crate itself, from scratch: src/lib.rs is touched and incremental compilation is off, so
# rustc cannot reuse earlier work. Usage: bench/macro_compile.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
dir=target/bench/macro-compile
python3 bench/macro_compile.py "$n" "$dir"
export CARGO_TARGET_DIR="$PWD/$dir/target" CARGO_INCREMENTAL=0
for crate in with without; do cargo build -q --manifest-path "$dir/$crate/Cargo.toml"; done
echo "## #[connector] compile time, $n handlers, $(date -u +%Y-%m-%d), $(nproc) cores"
hyperfine --runs 3 \
  --prepare "touch $dir/with/src/lib.rs" -n "with #[connector]" "cargo build -q --manifest-path $dir/with/Cargo.toml" \
  --prepare "touch $dir/without/src/lib.rs" -n "without (hand-written dispatch)" "cargo build -q --manifest-path $dir/without/Cargo.toml" \
  --export-markdown /dev/stdout | tail -n +2
