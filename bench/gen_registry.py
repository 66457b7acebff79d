#!/usr/bin/env python3
"""Generates a large registry for benchmarks: N services cycled from the upstream top-100 with
unique names, ids, ranks and URLs, every tenth one with a runtime route and its contract.

Usage: bench/gen_registry.py N OUT.json [--errors K] [--no-routes]
With --no-routes no service has a route (the page's bytes per service without contracts).
With --errors K, K problems are injected, one per service: of every ten, eight a JSON Schema can
express and two only our rules can (so 50 errors are 40 + 10). `injected_services(n, k)` gives the
indices of the services that carry them."""
import json, sys, copy
from pathlib import Path

root = Path(__file__).resolve().parent.parent
upstream = json.loads((root / "registry-compiler/tests/fixtures/upstream/workerflow-services.v1.json").read_text())

def injected_services(n, errors):
    step = max(1, n // max(errors, 1))
    return [(e * step) % n for e in range(errors)]

def contract(i):
    """A route contract (issue 13): the schemas are alike on every route, as routes of one
    kind share them; hosts and examples differ."""
    return {
        "hosts": [f"api{i}.example.com"],
        "input": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "description": "What to create."},
            "amount": {"type": "number", "exclusiveMinimum": 0}}},
        "output": {"type": "object", "required": ["ok", "id"], "additionalProperties": False, "properties": {
            "ok": {"const": True}, "route": {"type": "string"}, "id": {"type": "string"}}},
        "errors": [
            {"class": "invalid_input", "status": ["400"], "description": "The input is not usable."},
            {"class": "provider", "status": ["4XX", "5XX"], "description": "The provider refused."}],
        "examples": [
            {"name": "create", "input": {"name": f"item {i}"},
             "output": {"ok": True, "route": f"route_{i}", "id": f"id_{i}"}},
            {"name": "no name", "input": {},
             "error": {"class": "invalid_input", "status": 400, "message": f'route_{i}: "name" must be a string'}}],
    }

def generate(n, errors=0, routes=True):
    services = []
    for i in range(n):
        s = copy.deepcopy(upstream["services"][i % 100])
        name = f'{s["connectorName"]} {i}'
        s["rank"] = i + 1
        s["connectorName"] = name
        base = s["officialApiDocsUrl"].rstrip("/")
        s["officialApiDocsUrl"] = f"{base}/v{i}"
        s["bestBaseLink"] = f"{base}/v{i}"
        s["sources"] = [f"{base}/v{i}"]
        if routes and i % 10 == 0:
            s["runtime"] = {"routes": [{
                "id": f"route_{i}", "summary": "Generated route.", "requestType": "sync",
                "auth": "api_key", "docsUrl": f"{base}/v{i}/create",
                "secrets": [{"label": "API key", "anyOf": [f"SERVICE_{i}_API_KEY"]}],
                **contract(i)}]}
        services.append(s)
    # Spread the injected errors evenly; each kind is one the tools are compared on.
    for e, index in enumerate(injected_services(n, errors)):
        s = services[index]
        kind = e % 10
        if kind == 0: s["authType"] = "oauth"                      # schema: enum
        elif kind == 1: s["confidence"] = "high"                   # schema: enum
        elif kind == 2: s["officialApiDocsUrl"] = "http://example.com/" # schema: pattern
        elif kind == 3: s["rank"] = 0                              # schema: minimum
        elif kind == 4: s["bestBaseLinkScore"] = 140               # schema: maximum
        elif kind == 5: s["extraField"] = True                     # schema: additionalProperties
        elif kind == 6: s["rank"] = "7"                            # schema: type
        elif kind == 7: del s["sources"]                           # schema: required
        elif kind == 8: s["connectorName"] = services[0]["connectorName"].upper()  # rule: duplicate name
        elif kind == 9: s["sources"] = []                          # rule: empty sources
    return {"$schema": "./services.schema.json", "version": 1, "updatedAt": "2026-03-01",
            "notes": "Generated for benchmarks.", "services": services}

if __name__ == "__main__":
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    errors = int(sys.argv[sys.argv.index("--errors") + 1]) if "--errors" in sys.argv else 0
    routes = "--no-routes" not in sys.argv
    out.write_text(json.dumps(generate(n, errors, routes), indent=2, ensure_ascii=False) + "\n")
