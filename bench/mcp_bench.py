"""Times `workerflow mcp` on a large registry through the official MCP Python SDK over stdio.

Usage: mcp_bench.py WORKERFLOW_BINARY REGISTRY [RUNS]

Start-up is from spawning the server to the answer of the first `search_services` call (that
call waits for the registry to load); then each query is timed RUNS times, client included.
"""

import asyncio
import statistics
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

QUERIES = ["slack", "service 4242", "oauth2", "", "api_key crm", "zzz-no-match", "s", "https://"]


async def main():
    binary, registry, *rest = sys.argv[1:]
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
            print(f"start-up (spawn to the first search's answer): {1000 * (loaded - start):.0f} ms")
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
