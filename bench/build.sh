#!/usr/bin/env bash
# Benchmarks `workerflow-registry build` (validation included): the bundled registry (wall time
# including process start) and a generated 100,000-service registry, writing both pages from
# scratch and re-running when they are already up to date.
# Usage: bench/build.sh            (needs hyperfine and GNU time)
set -euo pipefail
source "$(dirname "$0")/setup.sh"
out=target/bench/docs
echo "## build, $(date -u +%Y-%m-%d), $(nproc) cores"
hyperfine --warmup 3 --runs 50 -N --prepare "rm -rf $out/small" \
  -n "bundled registry, pages written" "$bin build --out $out/small" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
hyperfine --warmup 1 --runs 10 --prepare "rm -rf $out/large" \
  -n "100,000 services, pages written" "$bin build --registry $large --out $out/large" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
hyperfine --warmup 1 --runs 10 \
  -n "100,000 services, pages already fresh" "$bin build --registry $large --out $out/large" \
  --export-markdown /dev/stdout | sed -n '/^|/p'
rm -rf "$out/large"
/usr/bin/time -f "peak RSS of build (100,000 services, pages written): %M KiB" "$bin" build --registry "$large" --out "$out/large" >/dev/null
