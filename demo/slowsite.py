"""A stand-in for many slow sites at once: pages that take seconds to answer, on several loopback
addresses (each its own host), counting how many pages of each host are being answered at once.

A fleet test captures these to see workers scale: with a page taking 4 s, a capture keeps a
browser waiting far longer than it keeps the CPU busy, so adding workers adds throughput even
on a small machine. Each page is counted when served, so a page captured twice shows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlowSites:
    def __init__(self, hosts: int = 6, delay: float = 4.0, status: int = 200) -> None:
        self.delay = delay
        self.status = status
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()  # pages of each host being answered right now
        self.most: Counter[str] = Counter()  # the most there ever were at once
        self.served: Counter[str] = Counter()  # pages served, by URL
        self.refuse: set[str] = set()  # hosts that answer 429 Too Many Requests
        self.servers = [
            ThreadingHTTPServer((f"127.0.0.{n + 1}", 0), self._handler()) for n in range(hosts)
        ]
        for server in self.servers:
            server.daemon_threads = True

    @property
    def bases(self) -> list[str]:
        return [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in self.servers]

    def start(self) -> SlowSites:
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sites = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if not self.path.startswith("/page/"):
                    self.send_error(404)
                    return
                host = self.server.server_address[0]
                url = f"http://{self.headers.get('Host')}{self.path}"
                with sites.lock:
                    sites.now[host] += 1
                    sites.most[host] = max(sites.most[host], sites.now[host])
                    sites.served[url] += 1
                try:
                    time.sleep(sites.delay)
                    refused = host in sites.refuse
                    body = (
                        f"<!doctype html><html><head><title>{self.path}</title></head>"
                        f"<body><h1>Ad {self.path}</h1><p>Slow page on {host}.</p></body></html>"
                    ).encode()
                    self.send_response(429 if refused else sites.status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with sites.lock:
                        sites.now[host] -= 1

        return Handler
