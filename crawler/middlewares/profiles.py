"""Sign a capture's browser in: a request whose job names a profile waits for a place on it
(``crawler.profiles.lease``), then its browser context opens with the profile's state.

The capturer gives the place back when the page is closed, after saving the state the site left
(``crawler.page.signin``). Requests without a profile pass untouched, and a crawl that uses no
profile never opens the profiles.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from crawler.page.capturer import JOB_KEY
from crawler.page.meta import BROWSER_KEY, CONTEXT_KEY
from crawler.profiles.lease import ProfileLeases
from crawler.profiles.store import open_profiles


class ProfileMiddleware:
    def __init__(self, db_url: str | None) -> None:
        self.db_url = db_url
        self._leases: ProfileLeases | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProfileMiddleware:
        return cls(crawler.settings.get("ARCHIVE_DB") or None)

    async def process_request(self, request: Any, spider: Any = None) -> None:
        job = request.meta.get(JOB_KEY)
        if not request.meta.get(BROWSER_KEY) or job is None or not job.profile:
            return None
        if self._leases is None:
            self._leases = ProfileLeases(open_profiles(self.db_url))
        lease = await self._leases.take(job.profile, request.meta)
        context = dict(request.meta.get(CONTEXT_KEY) or {})
        context["storage_state"] = lease.profile.state
        request.meta[CONTEXT_KEY] = context
        return None
