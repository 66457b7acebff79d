#!/usr/bin/env bash
# Issue 13's performance check, side by side in one run: `check` and `build` of this tree on the
# 100,000-service file of this tree's bench/gen_registry.py (a contract on every route), against
# the same commands of a baseline revision (default 1c2c3c0, the last main before route
# contracts) on the file its own generator writes (the same services and routes, no contracts).
# Also the bundled registry's `build`, process start included.
#
#   bench/contracts_vs_base.sh [BASE_REV]
#
# Needs hyperfine. The baseline is built from a temporary git worktree into
# target/bench/base-target (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
base_rev=${1:-1c2c3c0}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install -y hyperfine)" >&2; exit 2; }

mkdir -p target/bench
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$base_rev"
CARGO_TARGET_DIR="$root/target/bench/base-target" \
  cargo build --release -q -p workerflow-registry --manifest-path "$work/base/Cargo.toml"
cargo build --release -q -p workerflow-registry
base_bin=$root/target/bench/base-target/release/workerflow-registry
ours=$root/target/release/workerflow-registry

old=target/bench/registry-100000-base.json
new=target/bench/registry-100000.json
[ -f "$old" ] || python3 "$work/base/bench/gen_registry.py" 100000 "$old"
[ -f "$new" ] || python3 bench/gen_registry.py 100000 "$new"
echo "## contracts vs $base_rev, $(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "files: base $(du -h "$old" | cut -f1), contracts $(du -h "$new" | cut -f1)"
hyperfine --warmup 1 --runs 10 -N \
  -n "check: base on the base file" "$base_bin check $old" \
  -n "check: contracts on the contracts file" "$ours check $new" \
  -n "check: contracts on the base file" "$ours check $old" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
hyperfine --warmup 1 --runs 10 \
  --prepare "rm -rf $work/out-base $work/out-ours" \
  -n "build: base on the base file" "$base_bin build --registry $old --out $work/out-base" \
  -n "build: contracts on the contracts file" "$ours build --registry $new --out $work/out-ours" \
  -n "build: contracts on the base file" "$ours build --registry $old --out $work/out-ours" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
hyperfine --warmup 3 --runs 50 -N --prepare "rm -rf $work/small-base $work/small-ours" \
  -n "build: base, bundled registry" "$base_bin build --registry $work/base/connector-registry/services.json --out $work/small-base" \
  -n "build: contracts, bundled registry" "$ours build --out $work/small-ours" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
