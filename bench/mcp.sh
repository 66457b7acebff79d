#!/usr/bin/env bash
# Benchmarks `workerflow mcp` on the bundled and the generated 100,000-service registry through
# the official MCP Python SDK (pip install 'mcp==2.3.0'): start-up, then search_services latency
# per query (p50/p90), and one call of each other tool. Peak memory with GNU time.
# Usage: bench/mcp.sh
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cargo build --release -q --bin workerflow
server=target/release/workerflow
echo "## workerflow mcp, $(date -u +%Y-%m-%d), $(nproc) cores"
for file in connector-registry/services.json "$large"; do
  echo "### $file ($(ls -l "$file" | awk '{print $5}') bytes)"
  python3 bench/mcp_bench.py "$server" "$file" 20
done
# Peak memory of the server holding the large registry: one session with one search.
printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_services","arguments":{"query":"slack"}}}' |
  { cat; sleep 3; } | /usr/bin/time -f "peak RSS of workerflow mcp on $large: %M KiB" "$server" mcp --registry "$large" >/dev/null
