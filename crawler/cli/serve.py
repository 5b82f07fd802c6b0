"""`lastseen serve` and `lastseen worker`: the on-demand capture service."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from archive import Archive
from crawler.browser import find_browser
from crawler.cli.common import archive_config, err
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import timeout_option
from crawler.service.config import ServiceConfig

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

# How long a stopping worker may take to finish the captures it has in flight.
STOP_GRACE = 45.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Linux: a worker gets SIGTERM when `lastseen serve` dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Workers:
    """The worker processes of `lastseen serve`, restarted if one dies."""

    def __init__(self, count: int, args: list[str], env: dict[str, str]) -> None:
        self.count = count
        self.args = args
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()
        self._watch = threading.Thread(target=self._supervise, daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler", "worker", *self.args],
            env=self.env,
            # Ctrl-C in the terminal reaches `serve` only: a second signal would make Scrapy
            # abandon the captures in flight, so the workers get exactly one, from stop().
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        self._watch.start()

    def _supervise(self) -> None:
        while not self.stopping.wait(1.0):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping.is_set():
                    err.print(f"worker {proc.pid} stopped (exit {proc.returncode}); restarting it")
                    time.sleep(2.0)  # a worker that cannot start must not spin
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _server(config: object) -> object:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises the signal after its shutdown, which would kill this process
            # before it stops its workers; here the signal only asks for the shutdown.
            previous = {s: signal.signal(s, self._exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def _exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

    return Server(config)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="LASTSEEN_HOST",
    help="Address to listen on (0.0.0.0: every interface; put TLS in front of it).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    envvar="LASTSEEN_PORT",
    help="Port to listen on (0: any free port, printed at start).",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 32),
    default=1,
    show_default=True,
    envvar="LASTSEEN_WORKERS",
    help="Capture worker processes to start (0: API only, workers run elsewhere).",
)
@timeout_option("Per-capture time limit in seconds (default 30).")
@click.pass_context
@friendly
def serve(ctx: click.Context, host: str, port: int, workers: int, timeout: float | None) -> None:
    """Run the capture service: API (/api, docs at /docs), web page, and capture workers.

    Needs LASTSEEN_API_TOKEN (name:secret pairs, comma-separated). Stop with Ctrl-C.
    """
    import uvicorn

    from crawler.service.app import create_app

    config = ServiceConfig.from_env()
    if workers:
        find_browser()
    archive = Archive.open(archive_config(ctx))
    sock = _bind(host, port)
    env = dict(os.environ)
    env["LASTSEEN_STORE"] = archive.config.store
    env["LASTSEEN_DB"] = archive.catalog.url
    env["LASTSEEN_OPERATOR"] = archive.config.operator
    pool = Workers(workers, ["--timeout", str(timeout)] if timeout else [], env)
    app = create_app(config, archive)
    server: Any = _server(
        uvicorn.Config(
            app,
            log_level="warning",
            timeout_graceful_shutdown=5,
            proxy_headers=False,
        )
    )
    shown = sock.getsockname()
    url_host = f"[{shown[0]}]" if ":" in shown[0] else shown[0]
    pool.start()
    err.print(
        f"lastseen serving on http://{url_host}:{shown[1]}/ (API docs at /docs), "
        f"{workers} capture worker(s); catalog {archive.catalog.safe_url}",
        soft_wrap=True,
    )
    try:
        server.run(sockets=[sock])
    finally:
        err.print("stopping: letting the workers finish the captures in flight")
        pool.stop()
        archive.close()


COMMANDS = [serve]
