"""A page's place among the pages of its site captured at once, held until the page is closed.

The per-host middleware (``crawler.middlewares.perhost``) takes the place before the request goes
to the browser; the capturer gives it back when it has closed the page, on success and on failure
alike (``release``). The place travels in the request's meta, so it is given back at most once.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

META_KEY = "capture_host_slot"


class HostSlots:
    """At most ``limit`` places per site (``www.`` aside)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def take(self, url: str, meta: dict[str, Any]) -> None:
        """Wait for a place for ``url``'s site and keep it in ``meta`` until ``release``."""
        if META_KEY in meta:
            return
        host = (urlsplit(url).hostname or "").lower()
        if host.startswith("www."):
            host = host[4:]
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.limit))
        await semaphore.acquire()
        meta[META_KEY] = semaphore


def release(meta: dict[str, Any]) -> None:
    """Give the request's place back (the capture of its page is over); at most once."""
    semaphore = meta.pop(META_KEY, None)
    if semaphore is not None:
        semaphore.release()
