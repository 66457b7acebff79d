#!/usr/bin/env python3
"""SIGKILL under load, per durable job store (issue 30): no accepted job is lost.

For each store (SQLite, and PostgreSQL when its server is installed), `workerflow serve` takes
a steady stream of async `slack_message` calls from several clients while it is killed with
SIGKILL KILLS times, each time restarted on the same store. A loopback webhook records every
delivery. At the end, with the last instance running, every accepted job must be delivered.

Prints, per store: accepted (202 answers), delivered (accepted jobs that reached the webhook),
duplicates (deliveries beyond the first, which at-least-once allows for jobs running at a
kill), lost (accepted, never delivered: must be 0), and calls cut by a kill (no answer).

    bench/sigkill_jobs.py [KILLS] [SECONDS_BETWEEN_KILLS]

WORKERFLOW_BIN picks the binary (default: target/release/workerflow, built if missing).
"""

import glob
import http.client
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
INTERVAL = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
CLIENTS = 8
TOKEN = "bench-token-0123456789abcdef"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Webhook(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), WebhookHandler)
        self.lock = threading.Lock()
        self.seen = {}


class WebhookHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(0.03)  # a provider's latency: jobs are running when the kill lands
        try:
            text = json.loads(body)["text"]
            text = text.split("] ", 1)[-1]  # after `[WorkerFlow:<trace>] `
        except (ValueError, KeyError, TypeError):
            text = None
        if text is not None:
            with self.server.lock:
                self.server.seen[text] = self.server.seen.get(text, 0) + 1
        try:
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the instance that sent it was killed meanwhile

    def log_message(self, *args):
        pass


def binary():
    path = os.environ.get("WORKERFLOW_BIN")
    if path:
        return path
    path = os.path.join(ROOT, "target/release/workerflow")
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "workerflow"], cwd=ROOT, check=True)
    return path


def start(bin_path, store_args, hook_url, port):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "WORKERFLOW_API_TOKEN": TOKEN,
        "SLACK_WEBHOOK_URL": hook_url,
        "WORKERFLOW_LOG": "warn",
    }
    process = subprocess.Popen(
        [bin_path, "serve", "--addr", f"127.0.0.1:{port}", "--workers", "8", "--job-lease", "2s",
         "--queue-capacity", "100000", *store_args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("serve did not start")


def client(port, name, stop, accepted, cut, lock):
    n = 0
    connection = None
    while not stop.is_set():
        text = f"{name}-{n}"
        n += 1
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", "/api/slack_message", json.dumps({"text": text}),
                               {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status == 202:
                with lock:
                    accepted.add(text)
            elif response.status not in (503,):
                raise SystemExit(f"unexpected {response.status}")
        except (OSError, http.client.HTTPException):
            with lock:
                cut[0] += 1
            connection = None
            time.sleep(0.05)


def run(bin_path, label, store_args):
    hook = Webhook()
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hook.server_address[1]}/services/T0/B0/SECRET"
    port = {"sqlite": 18901, "postgres": 18902}[label]
    server = start(bin_path, store_args, hook_url, port)
    stop, lock = threading.Event(), threading.Lock()
    accepted, cut = set(), [0]
    threads = [threading.Thread(target=client, args=(port, f"c{i}", stop, accepted, cut, lock))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for _ in range(KILLS):
        time.sleep(INTERVAL)
        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start(bin_path, store_args, hook_url, port)
    time.sleep(INTERVAL)
    stop.set()
    for thread in threads:
        thread.join()
    deadline = time.time() + 180
    while time.time() < deadline:
        with hook.lock:
            if all(hook.seen.get(text, 0) >= 1 for text in accepted):
                break
        time.sleep(0.2)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    hook.shutdown()
    with hook.lock:
        delivered = sum(1 for text in accepted if hook.seen.get(text, 0) >= 1)
        duplicates = sum(hook.seen.get(text, 0) - 1 for text in accepted if hook.seen.get(text, 0) > 1)
        unanswered_delivered = sum(1 for text in hook.seen if text not in accepted)
    lost = len(accepted) - delivered
    print(f"| {label} | {KILLS} | {len(accepted)} | {delivered} | {duplicates} | {lost} | "
          f"{cut[0]} ({unanswered_delivered} of them delivered) |")
    return lost


def postgres(work):
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        return None, None
    pg = bins[-1]
    as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    data = os.path.join(work, "pg")
    os.makedirs(data)
    with open(os.path.join(work, "pw"), "w") as f:
        f.write("bench-pw\n")
    if as_pg:
        shutil.chown(work, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(os.path.join(work, "pw"), "postgres")
    subprocess.run([*as_pg, f"{pg}/initdb", "-D", f"{data}/data", "-U", "bench", "--pwfile",
                    os.path.join(work, "pw"), "--auth", "scram-sha-256"],
                   check=True, stdout=subprocess.DEVNULL)
    port = 18960
    subprocess.run([*as_pg, f"{pg}/pg_ctl", "-D", f"{data}/data", "-l", f"{data}/log", "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {data}", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    stop = [*as_pg, f"{pg}/pg_ctl", "-D", f"{data}/data", "-m", "immediate", "-w", "stop"]
    return f"postgres://bench:bench-pw@127.0.0.1:{port}/postgres", stop


def main():
    bin_path = binary()
    work = tempfile.mkdtemp(prefix="wf-sigkill-")
    os.chmod(work, 0o755)
    pg_url, pg_stop = None, None
    try:
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
              f"{CLIENTS} clients, a kill every {INTERVAL} s, lease 2s, 8 workers, 30 ms webhook")
        print("| store | SIGKILLs | accepted | delivered | duplicates | lost | calls cut by a kill |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        lost = run(bin_path, "sqlite", ["--jobs", "sqlite", "--data-dir", os.path.join(work, "data")])
        pg_url, pg_stop = postgres(os.path.join(work, "postgres"))
        if pg_url:
            lost += run(bin_path, "postgres", ["--jobs", pg_url])
        else:
            print("(PostgreSQL's server is not installed: postgres left out)")
        return 1 if lost else 0
    finally:
        if pg_stop:
            subprocess.run(pg_stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
