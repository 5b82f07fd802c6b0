"""At most N pages of one site captured at a time, from the first request to the closed page.

Scrapy's own ``CONCURRENT_REQUESTS_PER_DOMAIN`` counts a request only while it downloads, and for
a browser capture the download ends when the navigation commits: loading, waiting for the network
to go quiet, scrolling (which loads lazy images) and printing happen afterwards, in the spider's
callback, and would not count. A site that asked us to be gentle (`--per-host 1`) would still see
several pages of ours at once. This middleware takes a per-host place (``crawler.page.hostslot``)
before the request goes to the browser; the capturer gives it back once it has closed the page.
It reads the same setting, so ``--per-host`` means what it says.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.page.hostslot import HostSlots
from crawler.page.meta import BROWSER_KEY


class PerHostLimit:
    def __init__(self, limit: int) -> None:
        self.slots = HostSlots(limit)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PerHostLimit:
        limit = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        if limit <= 0:
            raise NotConfigured("no per-host limit")
        return cls(limit)

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if request.meta.get(BROWSER_KEY):
            await self.slots.take(request.url, request.meta)
        return None
