"""A fleet for tests: a PostgreSQL database of its own, slow stand-in sites, worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from archive.catalog.db import Catalog
from archive.catalog.queue import JobRow
from archive.catalog.workers import fleet_status
from tests.conftest import LASTSEEN, PG_ADMIN_URL, cli_env


@pytest.fixture
def fleet_db() -> Iterator[str]:
    """A database of the fleet tests' own on the machine's PostgreSQL."""
    name = f"fleet_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Fleet:
    """Worker processes sharing one catalog and one store, each with a spool of its own."""

    def __init__(self, tmp: Path, db: str, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.db = db
        self.env = env
        self.catalog = Catalog(db)
        self.catalog.migrate()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, count: int, *args: str) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            n = len(self.procs)
            spool = self.tmp / f"spool-{n}"
            env = {**cli_env(None, self.db), **self.env, "LASTSEEN_SPOOL": str(spool)}
            log = open(self.tmp / f"worker-{n}.log", "wb")  # noqa: SIM115 - the process's
            proc = subprocess.Popen(
                [LASTSEEN, "worker", *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.tmp,
            )  # fmt: skip
            self.procs.append(proc)
            started.append(proc)
        wait_for(
            lambda: len(self.alive()) >= len([p for p in self.procs if p.poll() is None]),
            60,
            "the workers to start",
        )
        return started

    def alive(self) -> list[dict[str, Any]]:
        workers: list[dict[str, Any]] = fleet_status(self.catalog)["workers"]
        return workers

    def jobs(self, status: str | None = None) -> int:
        with self.catalog.session() as s:
            query = select(func.count()).select_from(JobRow)
            if status is not None:
                query = query.where(JobRow.status == status)
            return int(s.execute(query).scalar_one())

    def log(self) -> str:
        return "\n".join(
            f"--- worker {n}\n" + (self.tmp / f"worker-{n}.log").read_text(errors="replace")[-3000:]
            for n in range(len(self.procs))
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        self.catalog.dispose()


def watch_file(path: Path, urls: list[str], every: str = "1h") -> Path:
    path.write_text("".join(f"- url: {url}\n  every: {every}\n" for url in urls))
    return path
