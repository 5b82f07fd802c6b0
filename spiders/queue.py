"""Capture reported URLs as they arrive: a crawl that never ends, fed by the catalog's queue.

The browser stays up for the whole crawl, so a capture request only pays for a fresh context, not
for a browser start. ``start()`` polls the queue (``QUEUE_POLL_INTERVAL``) whenever the downloader
has room, claims one capture request at a time, and yields its Scrapy request; the pipeline seals
it as for any crawl, and the sealed capture is linked to the capture request (and to its
duplicates). Claimed capture requests carry a lease this worker renews while it captures them: if
the worker dies, another one (or this one, restarted) takes them again once the lease has run out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any, Self

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler

from archive import Archive, ArchiveConfig, Capture
from archive.catalog import requests as capture_requests
from archive.job import Job
from spiders.capturing import CapturingSpider

logger = logging.getLogger(__name__)

# The capture request a Scrapy request answers. Its provenance key stays "report", the name the
# WARCs sealed before capture requests were named so already carry.
REQUEST_KEY = "capture_request"


class QueueSpider(CapturingSpider):
    name = "queue"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.poll_interval = settings.getfloat("QUEUE_POLL_INTERVAL", 0.2)
        # Long enough to outlast a renewal that comes late on a busy machine.
        spider.lease = settings.getfloat("QUEUE_LEASE", 20.0)
        spider.worker_name = (
            settings.get("QUEUE_WORKER_NAME")
            or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        spider.archive_config = ArchiveConfig.from_settings(settings)
        spider.in_progress = set()
        spider.stopping = False
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._stored, signal=signals.item_scraped)
        crawler.signals.connect(spider._not_stored, signal=signals.item_error)
        crawler.signals.connect(spider._crashed, signal=signals.spider_error)
        crawler.signals.connect(spider._stop_claiming, signal=signals.engine_stopped)
        return spider

    def _opened(self, spider: Any = None) -> None:
        self.archive = Archive.open(self.archive_config)
        self.catalog = self.archive.catalog
        self._heartbeat = asyncio.ensure_future(self._renew_leases())
        logger.info("worker %s polling the queue every %g s", self.worker_name, self.poll_interval)

    def _closed(self, spider: Any = None, reason: str = "") -> None:
        self.stopping = True
        self._heartbeat.cancel()
        # A graceful stop finishes the captures in flight; anything claimed but not captured
        # goes back to the queue now instead of waiting for its lease to run out.
        capture_requests.release(self.catalog, self.in_progress, self.worker_name)
        self.archive.close()

    def _stop_claiming(self) -> None:
        self.stopping = True

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 4)
            try:
                await asyncio.to_thread(
                    capture_requests.renew,
                    self.catalog,
                    set(self.in_progress),
                    self.worker_name,
                    self.lease,
                )
            except Exception as exc:  # the database is away for a moment: try again next time
                logger.warning("could not renew leases: %s", exc)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        engine = self.crawler.engine
        while not self.stopping:
            if engine.needs_backout():
                await asyncio.sleep(self.poll_interval)
                continue
            try:
                row = await asyncio.to_thread(
                    capture_requests.claim, self.catalog, self.worker_name, self.lease
                )
            except Exception as exc:
                logger.warning("could not read the queue: %s", exc)
                row = None
            if row is None:
                await asyncio.sleep(self.poll_interval)
                continue
            if self.stopping:  # claimed while the crawl was being stopped: hand it back
                await asyncio.to_thread(
                    capture_requests.release, self.catalog, [row.id], self.worker_name
                )
                return
            self.in_progress.add(row.id)
            request = self.capture_request(
                Job(url=row.url, case=row.case_id, note=row.note, profile=row.profile)
            )
            request.meta[REQUEST_KEY] = {
                "id": row.id,
                "reporter": row.reporter,
                "requested_at": row.requested_at.isoformat(),
            }
            yield request

    def recorded(self, capture: Capture, meta: dict[str, Any], *, navigated: bool) -> None:
        capture.provenance["report"] = meta[REQUEST_KEY]

    async def _stored(self, item: Any, response: Any, spider: Any = None) -> None:
        request_id = _request_id(response)
        await asyncio.to_thread(capture_requests.complete, self.catalog, request_id, item["id"])
        self.in_progress.discard(request_id)

    async def _not_stored(
        self, item: Any, response: Any, spider: Any = None, failure: Any = None
    ) -> None:
        await self._fail(response, "the capture could not be sealed", failure)

    async def _crashed(self, failure: Any, response: Any, spider: Any = None) -> None:
        await self._fail(response, "the capture failed", failure)

    async def _fail(self, response: Any, what: str, failure: Any) -> None:
        request_id = _request_id(response)
        if request_id is None:
            return
        error = failure.getErrorMessage() if failure is not None else "no reason given"
        await asyncio.to_thread(capture_requests.fail, self.catalog, request_id, f"{what}: {error}")
        self.in_progress.discard(request_id)


def _request_id(response: Any) -> Any:
    """The capture request a callback's response, or an errback's failure, belongs to."""
    request = getattr(response, "request", None)
    meta = getattr(request, "meta", None) or getattr(response, "meta", {})
    asked = meta.get(REQUEST_KEY)
    return asked["id"] if asked else None
