"""Drives an MCP server over stdio with the official MCP Python SDK (PyPI `mcp`).

Usage: mcp_client.py CWD COMMAND [ARG...] < steps.json

Reads a JSON list of steps from standard input, runs each in one session, and prints a JSON list
with one answer per step. Steps:
  {"op": "list_tools"}                          -> [{"name", "inputSchema"}]
  {"op": "call", "tool": T, "args": {...}}      -> {"isError", "structured", "text"}
  {"op": "list_resources"}                      -> [{"uri", "name", "mimeType"}]
  {"op": "read_resource", "uri": U}             -> {"mimeType", "text"}
A step the server refuses with a protocol error answers {"error": {"code", "message"}}.
Also prints the server's name and protocol version as the first element.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def run_step(session, step):
    op = step["op"]
    if op == "list_tools":
        listed = await session.list_tools()
        return [{"name": t.name, "inputSchema": t.input_schema} for t in listed.tools]
    if op == "call":
        result = await session.call_tool(step["tool"], step.get("args"))
        text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        return {"isError": bool(result.is_error), "structured": result.structured_content, "text": text}
    if op == "list_resources":
        listed = await session.list_resources()
        return [{"uri": str(r.uri), "name": r.name, "mimeType": r.mime_type} for r in listed.resources]
    if op == "read_resource":
        read = await session.read_resource(step["uri"])
        first = read.contents[0]
        return {"mimeType": first.mime_type, "text": first.text}
    raise ValueError(f"unknown step {op!r}")


async def main():
    cwd, command, *args = sys.argv[1:]
    steps = json.load(sys.stdin)
    params = StdioServerParameters(command=command, args=args, cwd=cwd)
    answers = []
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            answers.append({"server": init.server_info.name, "protocolVersion": init.protocol_version})
            for step in steps:
                try:
                    answers.append(await run_step(session, step))
                except Exception as error:  # a protocol error: the SDK raises it with its data
                    data = getattr(error, "error", None)
                    if data is None:
                        raise
                    answers.append({"error": {"code": data.code, "message": data.message}})
    json.dump(answers, sys.stdout)


asyncio.run(main())
