#!/usr/bin/env python3
"""Helpers for bench/check_urls.sh.

  check_urls.py registry N HOSTS PORT OUT   write a valid registry naming N distinct URLs spread
                                            over HOSTS loopback addresses 127.0.0.1..127.0.0.HOSTS
  check_urls.py serve HOSTS PORT DELAY_MS   answer every HEAD/GET on each of those addresses with
                                            200 after DELAY_MS (one thread per request)

Distinct addresses matter: check-urls sends at most 2 requests at a time per host.
"""
import http.server
import json
import sys
import threading
import time


def registry(n, hosts, port, out):
    per_service = 10
    services = []
    for s in range((n + per_service - 1) // per_service):
        urls = [
            f"https://127.0.0.{1 + (i % hosts)}:{port}/docs/{i}"
            for i in range(s * per_service, min(n, (s + 1) * per_service))
        ]
        services.append({
            "rank": s + 1, "connectorName": f"Bench Service {s:04d}",
            "officialVendorName": None, "officialApiDocsUrl": urls[0], "bestBaseLink": urls[0],
            "bestBaseLinkScore": None, "bestBaseLinkReason": None, "authType": "unknown",
            "authDocsUrl": None, "webhookDocsUrl": None, "rateLimitDocsUrl": None,
            "openapiUrl": None, "officialSdkUrl": None, "changelogUrl": None,
            "docsRequiresLogin": None, "confidence": "Low", "notes": None, "sources": urls,
        })
    doc = {"version": 1, "updatedAt": "2026-03-01", "notes": None, "services": services}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def serve(hosts, port, delay_ms):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self):
            time.sleep(delay_ms / 1000)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        do_HEAD = answer
        do_GET = answer

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    servers = [Server((f"127.0.0.{h}", port), Handler) for h in range(1, hosts + 1)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "registry":
        registry(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
