"""One scheduled crawl at a time per catalog, whichever machine it runs on.

PostgreSQL: a session-level advisory lock, held by a connection of its own for the whole run
(released by the server if the process dies). SQLite: an exclusive ``flock`` on a file next to
the database file (released by the kernel if the process dies). Neither can be left behind by a
crashed run, unlike a lock file that records "busy".
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text

from archive.catalog.db import Catalog
from archive.exceptions import CatalogError
from archive.times import rfc3339, utc_now

# Any constant works; it differs from the catalog's migration/custody lock key.
_PG_CRAWL_KEY = 0x1A57_5EE5


class RunLock:
    """``acquire()`` returns False at once when another run holds the lock; never waits."""

    def __init__(self, catalog: Catalog, name: str = "crawl") -> None:
        self.catalog = catalog
        self.name = name
        self._conn: Any = None
        self._file: IO[str] | None = None

    @property
    def path(self) -> Path | None:
        """The lock file of a SQLite catalog (None for PostgreSQL)."""
        if self.catalog.is_postgresql:
            return None
        database = self.catalog.engine.url.database
        if not database or database == ":memory:":
            raise CatalogError("scheduled crawls need a catalog on disk or in PostgreSQL")
        return Path(database).with_name(Path(database).name + f".{self.name}.lock")

    def acquire(self) -> bool:
        if self.catalog.is_postgresql:
            conn = self.catalog.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_CRAWL_KEY})
            if got.scalar():
                conn.commit()  # keep the session (and its lock) without an open transaction
                self._conn = conn
                return True
            conn.close()
            return False
        path = self.path
        assert path is not None
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {rfc3339(utc_now())}\n")
        handle.flush()
        self._file = handle
        return True

    def holder(self) -> str | None:
        """Who holds the lock, as far as can be told (for the message of a refused run)."""
        path = self.path if not self.catalog.is_postgresql else None
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_CRAWL_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
