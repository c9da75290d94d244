#!/usr/bin/env python3
"""Fault-injecting reverse proxy in front of a test public-inbox-httpd.

Usage: pi-proxy.py --upstream PORT [--port N] [--lifetime SECONDS]
Listens on 127.0.0.1 only (port 0 = any free port), prints its port on stdout
line 1, forwards every request to http://127.0.0.1:UPSTREAM (same method,
path, query, body; Host kept) and serves until SIGTERM or the lifetime
(default 300 s) passes. Python 3 standard library only. The fetch specs use
it where the fault has to hit a URL that listdigest builds itself (the
query-scripted tests/tools/fault_server.py cannot stand behind those).

Faults are rules, applied in the order added; a request takes the first
rule whose MATCH is a substring of "METHOD /path?query" and that has uses
left (times=0: forever):
  GET /_fault?match=S&fault=F&times=N   add a rule
  GET /_clear                           drop all rules and the log
  GET /_log                             JSON ["METHOD /path?query", ...] of
                                        the requests seen (control ones excluded)
Faults:
  503          answer 503 (text/plain) without asking upstream
  html         answer 200 text/html (a server that refuses x=m downloads)
  drop         ask upstream, announce the full Content-Length, send half, close
  truncgz      ask upstream, send the first half of the body as if complete
  delay:MS     wait MS milliseconds, then forward
"""
import argparse
import http.client
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
RULES = []   # [ {match, fault, left} ]
LOG = []
UPSTREAM = 0
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-connection", "content-length"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pi-proxy/1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def upstream(self, body):
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        res = conn.getresponse()
        data = res.read()
        hdrs = [(k, v) for k, v in res.getheaders() if k.lower() not in HOP]
        conn.close()
        return res.status, hdrs, data

    def handle_any(self):
        url = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if url.path == "/_fault":
            q = parse_qs(url.query, keep_blank_values=True)
            with LOCK:
                RULES.append({"match": q.get("match", [""])[-1], "fault": q["fault"][-1],
                              "left": int(q.get("times", ["1"])[-1])})
            return self.reply(200, b"ok\n")
        if url.path == "/_clear":
            with LOCK:
                RULES.clear()
                LOG.clear()
            return self.reply(200, b"ok\n")
        if url.path == "/_log":
            with LOCK:
                return self.reply(200, json.dumps(LOG).encode(), "application/json")
        key = "%s %s" % (self.command, self.path)
        fault = None
        with LOCK:
            LOG.append(key)
            for r in RULES:
                if r["match"] in key and r["left"] != -1:
                    fault = r["fault"]
                    if r["left"] > 0:
                        r["left"] -= 1
                        if r["left"] == 0:
                            r["left"] = -1   # used up
                    break
        if fault == "503":
            return self.reply(503, b"Service Unavailable\n", extra=[("Retry-After", "0")])
        if fault == "html":
            return self.reply(200, b"<html><body>*** \"x=m\" ignored ***</body></html>\n",
                              "text/html; charset=UTF-8")
        if fault and fault.startswith("delay:"):
            time.sleep(int(fault[6:]) / 1000)
        status, hdrs, data = self.upstream(body)
        if fault == "truncgz":
            data = data[: len(data) // 2]
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        if fault == "drop":
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global UPSTREAM
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    UPSTREAM = args.upstream
    server = Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.lifetime, stop)
    timer.daemon = True
    timer.start()
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
