#!/usr/bin/env python3
"""Writes HEAD: the registry BASE with 50 changes spread over it, for bench/diff.sh.

10 of each: notes edited (cosmetic), docs URLs changed (notable), confidence lowered (notable),
a sync route made async (breaking), a service removed (breaking).

    bench/diff_changes.py BASE HEAD
"""
import json
import sys

base, head = sys.argv[1], sys.argv[2]
with open(base, encoding="utf-8") as f:
    registry = json.load(f)
services = registry["services"]
step = len(services) // 60
picked = [services[i * step] for i in range(50)]
for service in picked[0:10]:
    service["notes"] = "Edited for the diff benchmark."
for service in picked[10:20]:
    service["officialApiDocsUrl"] = service["officialApiDocsUrl"] + "/moved"
for service in picked[20:30]:
    service["confidence"] = "Low"
flipped = 0
for service in services:
    routes = (service.get("runtime") or {}).get("routes", [])
    if flipped < 10 and routes and routes[0]["requestType"] == "sync":
        routes[0]["requestType"] = "async"
        flipped += 1
removed = {id(service) for service in picked[40:50]}
registry["services"] = [s for s in services if id(s) not in removed]
with open(head, "w", encoding="utf-8") as f:
    json.dump(registry, f, indent=2, ensure_ascii=False)
    f.write("\n")
