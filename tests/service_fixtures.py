"""Fixtures of the capture service's tests: the real `lastseen serve` on a free port, a client,
and small servers on other loopback addresses for the URL guard (nothing leaves loopback)."""

from __future__ import annotations

import http.client
import json
import re
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import LASTSEEN, cli_env

ALICE = "alice:" + secrets.token_hex(16)
TIPLINE = "tipline:" + secrets.token_hex(16)
TOKENS = f"{ALICE},{TIPLINE}"
PENDING = ("queued", "running")


def secret(token: str) -> str:
    return token.split(":", 1)[1]


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Service:
    """`lastseen serve` as a user starts it; stderr is collected while it runs."""

    store: Path
    db: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    log: list[str] = field(default_factory=list)

    def start(self, timeout: float = 60) -> Service:
        env = cli_env(self.store, self.db, **{"LASTSEEN_API_TOKEN": TOKENS, **self.env})
        self.proc = subprocess.Popen(
            [LASTSEEN, "serve", "--port", "0", *self.args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.store.parent,
        )
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        self.log.append(first)
        found = re.search(r"http://[0-9.]+:\d+", first)
        assert found, f"lastseen serve did not start: {first}{self.proc.stderr.read()}"
        self.url = found.group(0)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz", token=None).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("the service never became healthy")

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self) -> int:
        """Ctrl-C: the service stops its workers and exits."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=90)

    def kill(self) -> None:
        """SIGKILL, as when the machine's OOM killer or an operator's kill -9 hits it."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    # -- a client ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        token: str | None = ALICE,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers.setdefault("Authorization", f"Bearer {secret(token)}")
        req = urllib.request.Request(self.url + path, data=body, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Reply(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read(), dict(exc.headers))

    def get(self, path: str, token: str | None = ALICE) -> Reply:
        return self.request("GET", path, token=token)

    def post(self, path: str, payload: Any, token: str | None = ALICE) -> Reply:
        return self.request(
            "POST",
            path,
            json.dumps(payload).encode(),
            token=token,
            headers={"Content-Type": "application/json"},
        )

    def report(self, url: str, token: str = ALICE, **fields: Any) -> dict[str, Any]:
        reply = self.post("/api/captures", {"url": url, **fields}, token=token)
        assert reply.status == 202, reply.body
        return reply.json()

    def wait(self, request_id: int, timeout: float = 60) -> dict[str, Any]:
        """Poll until the capture request is no longer queued or running."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.get(f"/api/captures/{request_id}").json()
            if data["status"] not in PENDING:
                return data
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"capture request {request_id} still {data['status']}: {self.log}"
                )
            time.sleep(0.05)

    def chunked_post(self, path: str, body: bytes, token: str = ALICE) -> Reply:
        """A body sent without Content-Length (chunked), as streaming clients do."""
        host, port = self.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request(
            "POST",
            path,
            body=iter([body[i : i + 4096] for i in range(0, len(body), 4096)]),
            headers={
                "Authorization": f"Bearer {secret(token)}",
                "Content-Type": "application/json",
            },
            encode_chunked=True,
        )
        resp = conn.getresponse()
        reply = Reply(resp.status, resp.read(), dict(resp.getheaders()))
        conn.close()
        return reply


def start_service(store: Path, db: str | None = None, *args: str, **env: str) -> Service:
    return Service(store=store, db=db, env=env, args=args).start()


class Recorder(ThreadingHTTPServer):
    """A tiny site on a loopback address of its own, counting what it was asked for."""

    daemon_threads = True

    def __init__(self, host: str, pages: dict[str, tuple[int, list[tuple[str, str]], bytes]]):
        self.pages = pages
        self.hits: list[str] = []
        super().__init__((host, 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{path}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        server: Recorder = self.server  # type: ignore[assignment]
        path = self.path.split("?", 1)[0]
        server.hits.append(path)
        status, headers, body = server.pages.get(path, (404, [], b"not found"))
        if path == "/slow":
            time.sleep(3)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def html(body: str) -> tuple[int, list[tuple[str, str]], bytes]:
    page = f'<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>{body}'
    return 200, [("Content-Type", "text/html; charset=utf-8")], (page + "</body></html>").encode()
