"""robots.txt for evidence captures: always fetched and recorded, obeyed only when a seed asks.

An evidence capture of an ad is not a crawl for indexing: by default lastseen records what the
site's robots.txt says and captures anyway (``obey_robots: false``); a seed with
``obey_robots: true`` skips what robots.txt disallows. Either way the decision and the robots.txt
it was based on (status, size, SHA-256) go into the capture's provenance, and the robots.txt
itself into the capture's WARC as a resource record (a revisit once it is stored).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import scrapy
from protego import Protego
from scrapy.crawler import Crawler

from archive.capture import Resource
from archive.times import rfc3339, utc_now

logger = logging.getLogger(__name__)

ROBOTS_AGENT = "lastseen"
RESOURCE_KIND = "robots-txt"  # resource record urn:robots-txt:<page URL>
ROBOTS_TIMEOUT = 15  # seconds: a site that does not answer for robots.txt is still captured


@dataclass
class RobotsTxt:
    url: str
    fetched_at: str
    status: int | None = None
    sha256: str | None = None
    size: int | None = None
    body: bytes | None = None
    error: str | None = None
    parser: Any = None

    def allows(self, url: str) -> bool | None:
        """None when there is no usable robots.txt (nothing is disallowed then)."""
        if self.parser is None:
            return None
        return bool(self.parser.can_fetch(url, ROBOTS_AGENT))

    def record(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "fetched_at": self.fetched_at,
            "status": self.status,
            "sha256": self.sha256,
            "size": self.size,
            "error": self.error,
        }


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


class RobotsPolicy:
    """One robots.txt fetch per site per run, shared by every capture on that site."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._sites: dict[str, asyncio.Future[RobotsTxt]] = {}

    async def robots(self, url: str) -> RobotsTxt:
        key = robots_url(url)
        if key not in self._sites:
            future: asyncio.Future[RobotsTxt] = asyncio.get_running_loop().create_future()
            self._sites[key] = future
            future.set_result(await self._fetch(key))
        return await self._sites[key]

    async def _fetch(self, url: str) -> RobotsTxt:
        result = RobotsTxt(url=url, fetched_at=rfc3339(utc_now()))
        # A plain request (no browser): robots.txt is read, not rendered.
        request = scrapy.Request(
            url,
            dont_filter=True,
            meta={
                "dont_obey_robotstxt": True,
                "handle_httpstatus_all": True,
                "download_timeout": ROBOTS_TIMEOUT,
            },
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:
            result.error = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            logger.info("robots.txt %s: %s", url, result.error)
            return result
        body = bytes(response.body)
        result.status = response.status
        result.sha256 = hashlib.sha256(body).hexdigest()
        result.size = len(body)
        if 200 <= response.status < 300:
            result.body = body
            result.parser = Protego.parse(body.decode("utf-8", "replace"))
        return result

    def resource(self, url: str) -> Resource | None:
        """The robots.txt a decision on ``url`` was based on, to store with the capture."""
        future = self._sites.get(robots_url(url))
        robots = future.result() if future is not None and future.done() else None
        if robots is None or not robots.body:
            return None
        return Resource(RESOURCE_KIND, "text/plain", robots.body)

    async def decide(self, url: str, obey: bool) -> tuple[bool, dict[str, Any]]:
        """Whether to capture ``url``, and the decision as the provenance records it."""
        robots = await self.robots(url)
        allowed = robots.allows(url)
        capture = allowed is not False or not obey
        if allowed is None:
            why = "no usable robots.txt: nothing disallowed"
        elif allowed:
            why = "robots.txt allows it"
        elif obey:
            why = "robots.txt disallows it and this seed obeys robots.txt: not captured"
        else:
            why = "robots.txt disallows it; captured as evidence (obey_robots: false)"
        return capture, {
            "obey_robots": obey,
            "allowed": allowed,
            "decision": why,
            "robots_txt": robots.record(),
        }
