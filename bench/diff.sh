#!/usr/bin/env bash
# Issue 15's target, side by side in one run: `diff` of two 100,000-service registries that
# differ in 50 places (bench/diff_changes.py) against one `check` of such a file.
#
#   bench/diff.sh            (needs hyperfine)
set -euo pipefail
source "$(dirname "$0")/setup.sh"
head=target/bench/registry-100000-diff-head.json
[ -f "$head" ] || python3 bench/diff_changes.py "$large" "$head"
echo "## diff, $(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# diff exits 1 (unacknowledged breaking changes): -i keeps hyperfine going.
hyperfine --warmup 1 --runs 10 -N -i \
  -n "check of one file" "$bin check $head" \
  -n "diff of the two files (50 changes)" "$bin diff $large $head" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
