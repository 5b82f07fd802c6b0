"""At most N pages of one site captured at a time, from the first request to the closed page.

Scrapy's own ``CONCURRENT_REQUESTS_PER_DOMAIN`` counts a request only while it downloads, and for
a browser capture the download ends when the navigation commits: loading, waiting for the network
to go quiet, scrolling (which loads lazy images) and printing happen afterwards, in the spider's
callback, and would not count. A site that asked us to be gentle (`--per-host 1`) would still see
several pages of ours at once. This middleware holds a per-host slot from before the request goes
to the browser until the capturer has closed the page (``release`` in ``crawler.page.capturer``), on
success and on failure alike. It reads the same setting, so ``--per-host`` means what it says.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

RELEASE_KEY = "capture_host_slot"


def release(meta: dict[str, Any]) -> None:
    """Give the request's host slot back (the capture of its page is over); at most once."""
    semaphore = meta.pop(RELEASE_KEY, None)
    if semaphore is not None:
        semaphore.release()


class PerHostLimit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hosts: dict[str, asyncio.Semaphore] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PerHostLimit:
        limit = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        if limit <= 0:
            raise NotConfigured("no per-host limit")
        return cls(limit)

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if not request.meta.get("playwright") or RELEASE_KEY in request.meta:
            return None
        host = (urlsplit(request.url).hostname or "").lower()
        if host.startswith("www."):
            host = host[4:]
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.limit))
        await semaphore.acquire()
        request.meta[RELEASE_KEY] = semaphore
        return None
