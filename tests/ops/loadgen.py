#!/usr/bin/env python3
"""Mixed arena load for tests/ops/bench_load.sh (standard library only).

Each "user" thread keeps one HTTPS keep-alive connection and loops over what a person
does: create a battle, read both answers as they stream, vote, look at the leaderboard.
"reader" threads only read the leaderboard. Every request is timed from the first byte
sent to the last byte read (for a stream: to its `end` event).

    loadgen.py URL SECONDS USERS READERS   ->  one JSON object on stdout:
    {"seconds": ..., "routes": {"create": {"n", "rps", "p50_ms", "p99_ms", "errors"}, ...},
     "error_samples": [...]}
"""
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse

url, seconds, users, readers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
parts = urllib.parse.urlsplit(url)
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE          # the bench's own self-signed certificate
lock = threading.Lock()
samples = {}                             # route -> [latency seconds]
errors = {}                              # route -> count
error_samples = []
deadline = time.monotonic() + seconds


def connect():
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port, context=tls, timeout=60)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def record(route, start, ok, what=""):
    took = time.monotonic() - start
    with lock:
        if ok:
            samples.setdefault(route, []).append(took)
        else:
            errors[route] = errors.get(route, 0) + 1
            if len(error_samples) < 10:
                error_samples.append(f"{route}: {what}")


class Client:
    """One simulated person: one connection, and an X-Bench-Client header that the
    bench's nginx hashes on as the shipped config hashes on the client address."""
    count = 0

    def __init__(self):
        self.conn = connect()
        with lock:
            Client.count += 1
            self.name = f"client-{Client.count}"

    def call(self, route, method, path, body=None, stream=False):
        """One request; returns (status, body bytes) or None after recording an error."""
        start = time.monotonic()
        try:
            headers = {"X-Bench-Client": self.name}
            if body is not None:
                headers["Content-Type"] = "application/json"
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            resp = self.conn.getresponse()
            if stream:
                data = b""
                for line in resp:                 # until the server ends the stream
                    data += line
                    if line.startswith(b"event: end"):
                        break
                resp.read()                      # the rest (the blank line after end)
            else:
                data = resp.read()
        except Exception as e:                   # connection reset, timeout: count, reconnect
            self.conn.close()
            self.conn = connect()
            record(route, start, False, repr(e))
            return None
        ok = resp.status < 400 and (not stream or b"event: end" in data)
        record(route, start, ok, f"{resp.status} {data[:120]!r}")
        return (resp.status, data) if ok else None


def user():
    c = Client()
    while time.monotonic() < deadline:
        r = c.call("create", "POST", "/api/battles", {"prompt": "Once upon a time"})
        if not r:
            continue
        b = json.loads(r[1])
        s = c.call("stream", "GET", f"/api/battles/{b['id']}/stream", stream=True)
        if not s:
            continue
        c.call("vote", "POST", f"/api/battles/{b['id']}/vote", {"winner": "a", "token": b["token"]})
        c.call("leaderboard", "GET", "/api/leaderboard?method=bt&anony=1")


def reader():
    c = Client()
    while time.monotonic() < deadline:
        c.call("leaderboard", "GET", "/api/leaderboard?method=bt&anony=1")


def pct(sorted_values, q):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


threads = [threading.Thread(target=user) for _ in range(users)] + [threading.Thread(target=reader) for _ in range(readers)]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
took = time.monotonic() - t0
routes = {}
for route in ("create", "stream", "vote", "leaderboard"):
    v = sorted(samples.get(route, []))
    routes[route] = {"n": len(v), "rps": round(len(v) / took, 1), "p50_ms": round(1000 * pct(v, 0.50), 2),
                     "p99_ms": round(1000 * pct(v, 0.99), 2), "errors": errors.get(route, 0)}
print(json.dumps({"seconds": round(took, 1), "routes": routes, "error_samples": error_samples}))
