"""Idle fleet workers sleep until the queue says something changed (PostgreSQL LISTEN/NOTIFY).

One connection of its own per worker, outside the catalog's pool: it only listens. A cut
connection (a restarted server, ``pg_terminate_backend``) is opened again; meanwhile the waiter
is woken so that nothing announced while nobody listened is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from archive.catalog.db import Catalog
from archive.catalog.queue import CHANNEL

logger = logging.getLogger(__name__)


class Listener:
    def __init__(self, catalog: Catalog, wake: asyncio.Event) -> None:
        url = catalog.engine.url.set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.wake = wake
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._listen())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _listen(self) -> None:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.wake.set()  # whatever was announced while not listening
                    async for _ in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server went away: listen again shortly
                logger.warning("queue notifications interrupted: %s", exc)
                self.wake.set()
                await asyncio.sleep(1.0)

    async def wait(self, timeout: float) -> None:
        """Until woken or ``timeout`` seconds; the wake-up is used up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), max(timeout, 0.0))
        self.wake.clear()
