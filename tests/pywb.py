"""pywb, an independent replay engine, in its own virtualenv (.venv-pywb, made by `make test`)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT

PYWB_BIN = ROOT / ".venv-pywb" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pywb_serving(warcs: list[str | Path], workdir: Path) -> Iterator[str]:
    """Index the WARCs into a fresh collection and serve it; yields the collection's base URL."""
    if not (PYWB_BIN / "wayback").exists():
        raise RuntimeError("pywb is missing: run `make test`, which builds .venv-pywb")
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(PYWB_BIN / "wb-manager"), "init", "evidence"], cwd=workdir, check=True,
                   capture_output=True)
    subprocess.run([str(PYWB_BIN / "wb-manager"), "add", "evidence", *map(str, warcs)],
                   cwd=workdir, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen([str(PYWB_BIN / "wayback"), "-b", "127.0.0.1", "-p", str(port)],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/evidence"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
