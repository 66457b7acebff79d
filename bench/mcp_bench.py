"""Times `workerflow mcp` on a large registry through the official MCP Python SDK over stdio.

Usage: mcp_bench.py WORKERFLOW_BINARY REGISTRY [RUNS]

Start-up is from spawning the server to the answer of the first `search_services` call (that
call waits for the registry to load): five times over raw JSON-RPC lines (no SDK in the way),
then once through the SDK. Then each query is timed RUNS times through the SDK, client included.
"""

import asyncio
import json
import statistics
import subprocess
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

QUERIES = ["slack", "service 4242", "oauth2", "", "api_key crm", "zzz-no-match", "s", "https://"]


def raw_start_up(binary, registry):
    """Milliseconds from spawn to the first search's answer, over plain JSON-RPC lines."""
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "search_services", "arguments": {"query": "slack"}}},
    ]
    start = time.perf_counter()
    server = subprocess.Popen([binary, "mcp", "--registry", registry], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    server.stdin.write(("\n".join(json.dumps(line) for line in lines) + "\n").encode())
    server.stdin.flush()
    for line in server.stdout:
        if json.loads(line).get("id") == 2:
            break
    elapsed = 1000 * (time.perf_counter() - start)
    server.kill()
    server.wait()
    return elapsed


async def main():
    binary, registry, *rest = sys.argv[1:]
    starts = sorted(raw_start_up(binary, registry) for _ in range(5))
    print("start-up over raw JSON-RPC, 5 runs (ms): " + ", ".join(f"{t:.0f}" for t in starts))
    runs = int(rest[0]) if rest else 20
    params = StdioServerParameters(command=binary, args=["mcp", "--registry", registry])
    start = time.perf_counter()
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            initialized = time.perf_counter()
            first = await session.call_tool("search_services", {"query": "slack"})
            loaded = time.perf_counter()
            assert not first.is_error, first.content
            print(f"initialize answered after {1000 * (initialized - start):.0f} ms")
            print(f"start-up through the SDK (spawn to the first search's answer): {1000 * (loaded - start):.0f} ms")
            print("| query | matches | p50 ms | p90 ms | max ms |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for query in QUERIES:
                times = []
                for _ in range(runs):
                    begin = time.perf_counter()
                    result = await session.call_tool("search_services", {"query": query, "limit": 10})
                    times.append(1000 * (time.perf_counter() - begin))
                    assert not result.is_error, result.content
                times.sort()
                p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
                total = result.structured_content["total"]
                print(f"| `{query}` | {total} | {statistics.median(times):.1f} | {p90:.1f} | {times[-1]:.1f} |")
            for tool, args in [("get_service", {"id": "slack"}), ("get_route", {"id": "slack_message"}),
                               ("get_service", {"id": "slak"}), ("check_registry", {})]:
                begin = time.perf_counter()
                await session.call_tool(tool, args)
                print(f"{tool}({args}): {1000 * (time.perf_counter() - begin):.1f} ms")


asyncio.run(main())
