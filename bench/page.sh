#!/usr/bin/env bash
# Browser benchmark of the HTML page (issue 16): builds docs/SERVICE_API_INDEX.html for the
# bundled registry (103 services) and for generated 10,000- and 100,000-service registries
# (bench/gen_registry.py), then loads each in real headless Chromium driven over the DevTools
# protocol (bench/page.mjs, no dependencies: Node 20's WebSocket) and prints one JSON line per
# page: time to interactive, keystroke-to-repaint p50/p90, facet toggle and sort times (ms),
# JS heap after load, and scrolling from the table's top to its bottom.
# Usage: bench/page.sh [SIZES...]   (default: 103 10000 100000; needs chromium and node >= 20)
# START_ONLY=1 times start-up only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Only the page is timed, not its build: the debug binary will do.
cargo build -q -p workerflow-registry
bin=${CARGO_TARGET_DIR:-target}/debug/workerflow-registry
mkdir -p target/bench
out=target/bench/page
mkdir -p "$out"
echo "## page, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(/usr/bin/chromium --version 2>/dev/null), node $(node --version)"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(103 10000 100000)
for size in "${sizes[@]}"; do
  {
    if [ "$size" = 103 ]; then
      "$bin" build --out "$out/103" >/dev/null
    else
      [ -f "target/bench/registry-$size.json" ] || python3 bench/gen_registry.py "$size" "target/bench/registry-$size.json"
      "$bin" build --registry "target/bench/registry-$size.json" --out "$out/$size" >/dev/null
    fi
    echo "{\"label\":\"$size\",\"page_bytes\":$(stat -c %s "$out/$size/SERVICE_API_INDEX.html")}"
    START_ONLY=${START_ONLY:-0} timeout "${PAGE_TIMEOUT:-1800}" \
      node --experimental-websocket bench/page.mjs "$out/$size/SERVICE_API_INDEX.html" "$size" "${RUNS:-1}" \
      || echo "{\"label\":\"$size\",\"error\":\"did not finish within ${PAGE_TIMEOUT:-1800} s\"}"
  }
done
