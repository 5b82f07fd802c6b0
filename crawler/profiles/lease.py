"""A page's hold on a profile, from before its browser context opens until its state is saved.

A profile is used by at most ``max_pages`` pages at once (default 1): two pages signed in as one
account at the same moment look like a stolen session to the site, and the second would start
from a state the first is about to rotate. Held within a crawl by a semaphore, and across the
processes of one machine by a lock file per place in the profiles folder (with a PostgreSQL
catalog, by an advisory lock per place, so across machines too). The state is read when the
hold is taken, so each page starts from the state the page before it saved back.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crawler.profiles.store import Profile, ProfileStore

META_KEY = "capture_profile"
POLL_S = 0.25


@dataclass
class Lease:
    store: ProfileStore
    profile: Profile
    _semaphore: asyncio.Semaphore
    _unlock: Callable[[], None]

    def release(self) -> None:
        self._unlock()
        self._semaphore.release()


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(b"lastseen-profile:" + name.encode()).digest()[:4], "big",
                          signed=True)  # fmt: skip


class ProfileLeases:
    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def _try_place(self, name: str, place: int) -> Callable[[], None] | None:
        """A machine-wide (or, with PostgreSQL, catalog-wide) hold on one place, or None."""
        engine = self.store.engine
        if engine is not None:
            from sqlalchemy import text

            args = {"k": _key(name), "p": place}
            conn = engine.connect()
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k, :p)"), args).scalar():
                conn.close()
                return None

            def unlock() -> None:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k, :p)"), args)
                finally:
                    conn.close()

            return unlock
        locks = self.store.folder / ".locks"
        locks.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(locks / f"{name}.{place}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return lambda: os.close(fd)  # closing the file lets go of its lock

    async def take(self, name: str, meta: dict[str, Any]) -> Lease:
        """Wait for a place on profile ``name``; the lease (with its current state) goes in
        ``meta`` until ``release``."""
        if META_KEY in meta:
            return meta[META_KEY]  # type: ignore[no-any-return]
        limit = self.store.get(name).max_pages
        semaphore = self._semaphores.setdefault(name, asyncio.Semaphore(limit))
        await semaphore.acquire()
        try:
            while True:
                for place in range(limit):
                    unlock = self._try_place(name, place)
                    if unlock is not None:
                        lease = Lease(self.store, self.store.get(name), semaphore, unlock)
                        meta[META_KEY] = lease
                        return lease
                await asyncio.sleep(POLL_S)
        except BaseException:
            semaphore.release()
            raise


def release(meta: dict[str, Any]) -> None:
    """Let go of the request's profile (its page is closed); at most once."""
    lease = meta.pop(META_KEY, None)
    if lease is not None:
        lease.release()
