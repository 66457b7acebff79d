#!/usr/bin/env bash
# Compile time of a crate with N #[connector] functions against the same crate written without
# the macro (bench/macro_compile.py). Dependencies are built first; each timed run compiles only
# the crate itself, from scratch: src/lib.rs is touched and incremental compilation is off, so
# rustc cannot reuse earlier work. The two crates are compiled alternately, RUNS pairs, and the
# ratio is taken per pair: this machine's speed drifts by more than the difference measured, so
# timing all runs of one crate and then all of the other would mostly measure the drift.
# Usage: bench/macro_compile.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
runs=${2:-10}
dir=target/bench/macro-compile
python3 bench/macro_compile.py "$n" "$dir"
export CARGO_TARGET_DIR="$PWD/$dir/target" CARGO_INCREMENTAL=0
for crate in with without; do cargo build -q --manifest-path "$dir/$crate/Cargo.toml"; done

seconds() { # crate → wall seconds of compiling it
  touch "$dir/$1/src/lib.rs"
  local start=$EPOCHREALTIME
  cargo build -q --manifest-path "$dir/$1/Cargo.toml"
  python3 -c "print($EPOCHREALTIME - $start)"
}

pairs=()
for _ in $(seq "$runs"); do
  pairs+=("$(seconds with) $(seconds without)")
done
echo "## #[connector] compile time, $n handlers, $runs alternating pairs, $(date -u +%Y-%m-%d), $(nproc) cores, $(rustc --version)"
printf '%s\n' "${pairs[@]}" | python3 -c '
import statistics, sys
pairs = [tuple(map(float, line.split())) for line in sys.stdin]
with_, without = zip(*pairs)
ratios = [w / o for w, o in pairs]
print()
print("| pair | with `#[connector]` | without (hand-written registration) | ratio |")
print("| ---: | ---: | ---: | ---: |")
for i, (w, o) in enumerate(pairs, 1):
    print(f"| {i} | {w:.3f} s | {o:.3f} s | {w / o:.2f}× |")
print()
print(f"with: median {statistics.median(with_):.3f} s (min {min(with_):.3f}, max {max(with_):.3f}); "
      f"without: median {statistics.median(without):.3f} s (min {min(without):.3f}, max {max(without):.3f})")
print(f"ratio: median of pairs {statistics.median(ratios):.2f}× (min {min(ratios):.2f}, max {max(ratios):.2f}); "
      f"ratio of medians {statistics.median(with_) / statistics.median(without):.2f}×")
'
