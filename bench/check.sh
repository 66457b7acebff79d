#!/usr/bin/env bash
# Benchmarks `workerflow-registry check`: the bundled registry (wall time including process
# start) and a generated 100,000-service registry (wall time and peak memory).
# Usage: bench/check.sh            (needs hyperfine: apt-get install hyperfine; GNU time)
set -euo pipefail
source "$(dirname "$0")/setup.sh"
echo "## check, $(date -u +%Y-%m-%d), $(nproc) cores, $(ls -l "$large" | awk '{print $5}') bytes"
hyperfine --warmup 3 --runs 50 -N "$bin check connector-registry/services.json" --export-markdown /dev/stdout | sed -n "/^|/p"
hyperfine --warmup 1 --runs 10 -N "$bin check $large" --export-markdown /dev/stdout | sed -n "/^|/p"
for file in connector-registry/services.json "$large"; do
  /usr/bin/time -f "peak RSS of check $file: %M KiB" "$bin" check "$file" >/dev/null
done
