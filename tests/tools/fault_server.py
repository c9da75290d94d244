#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 server for listdigest's HTTP client specs.

Usage: fault_server.py [--port N] [--lifetime SECONDS] [--tls CERT KEY] [--delay MS]
Listens on 127.0.0.1 only (port 0 = any free port), prints the port on stdout
line 1, then serves until SIGTERM/SIGINT or --lifetime (default 300 s) passes,
so a forgotten server always goes away. With --tls it speaks HTTPS with that
certificate (PEM files). --delay is the delay= of every request that names
none (a large value: a server that accepts and never answers, whatever the
client asks). Python 3 standard library only.

Behaviour is scripted by the query string of each request. Requests are
counted per path (query excluded): the Nth request to a path (N from 1) uses
item N of every comma list below, and the last item repeats, so
"/a?status=503,503,200" answers 503, 503, then 200 forever.

  status=CODE,...       response status (default 200)
  retry_after=S,...     Retry-After: S seconds; "date:S" sends the HTTP-date
                        of now + S seconds instead; "-" sends none
  delay=MS,...          sleep before answering (a large value = never answers)
  size=N,...            body of N bytes ("x" repeated; default: a short text)
  drop=1,...            announce Content-Length, send half the body, close
  gzip=1|trunc,...      Content-Encoding: gzip; "trunc" sends a gzip stream
                        cut in half (with a matching Content-Length)
  redirect=URL          answer 302 with Location: URL (a path or full URL)
  header=Name:Value     add a response header (may repeat)

Control paths (not counted, never in the in-flight figures):
  /_echo    JSON {method, path, query, headers: {name: value}, header_list:
            [[name, value]...], body} of this request (also honours delay)
  /_stats   JSON {counts: {path: n}, in_flight: n, max_in_flight: n,
            in_flight_by_path: {path: n}, max_in_flight_by_path: {path: n}}
            (per path, so sleepers left by other tests do not count)
  /_reset   clears the counts and the maxima
"""
import argparse
import email.utils
import gzip
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
DELAY = 0  # --delay
STATE = {"counts": {}, "in_flight": 0, "max_in_flight": 0,
         "in_flight_by_path": {}, "max_in_flight_by_path": {}}


def pick(query, name, n, default=None):
    """Item n (1-based) of the comma list query[name]; the last one repeats."""
    if name not in query:
        return default
    items = query[name][-1].split(",")
    return items[min(n, len(items)) - 1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault_server/1"

    def log_message(self, fmt, *args):  # quiet: specs read our stdout
        pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj):
        self.send(200, json.dumps(obj).encode(), [("Content-Type", "application/json")])

    def handle_any(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        body = self.read_body()
        if url.path == "/_stats":
            with LOCK:
                return self.send_json(STATE)
        if url.path == "/_reset":
            with LOCK:
                STATE.update(counts={}, max_in_flight=0, max_in_flight_by_path={})
            return self.send_json({"ok": True})
        if url.path == "/_echo":
            time.sleep(int(pick(query, "delay", 1, "0")) / 1000)
            return self.send_json({
                "method": self.command, "path": url.path, "query": url.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "header_list": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("latin-1")})
        with LOCK:
            n = STATE["counts"].get(url.path, 0) + 1
            STATE["counts"][url.path] = n
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            by, top = STATE["in_flight_by_path"], STATE["max_in_flight_by_path"]
            by[url.path] = by.get(url.path, 0) + 1
            top[url.path] = max(top.get(url.path, 0), by[url.path])
        try:
            self.scripted(query, n)
        finally:
            with LOCK:
                STATE["in_flight"] -= 1
                STATE["in_flight_by_path"][url.path] -= 1

    def scripted(self, query, n):
        time.sleep(int(pick(query, "delay", n, str(DELAY))) / 1000)
        status = int(pick(query, "status", n, "200"))
        headers = []
        for h in query.get("header", []):
            name, _, value = h.partition(":")
            headers.append((name, value.strip()))
        ra = pick(query, "retry_after", n)
        if ra and ra != "-":
            if ra.startswith("date:"):
                ra = email.utils.formatdate(time.time() + float(ra[5:]), usegmt=True)
            headers.append(("Retry-After", ra))
        if "redirect" in query:
            status = 302 if status == 200 else status
            headers.append(("Location", query["redirect"][-1]))
        size = pick(query, "size", n)
        payload = b"x" * int(size) if size else ("hello from %s #%d\n" % (urlsplit(self.path).path, n)).encode()
        gz = pick(query, "gzip", n, "0")
        if gz != "0":
            payload = gzip.compress(payload)
            if gz == "trunc":
                payload = payload[: len(payload) // 2]
            headers.append(("Content-Encoding", "gzip"))
        if pick(query, "drop", n, "0") == "1":
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        headers.append(("Content-Type", "text/plain"))
        self.send(status, payload, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a sleeping handler must not keep us alive
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, size limits) are the point here


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--delay", type=int, default=0)
    args = ap.parse_args()
    global DELAY
    DELAY = args.delay
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*args.tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)

    def stop(*_):
        os._exit(0)  # handlers may be asleep in a delay; do not wait for them

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Timer(args.lifetime, stop).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
