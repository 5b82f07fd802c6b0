"""A fleet worker: one long crawl with a warm browser, taking capture jobs of every kind from the
catalog's queue (``archive.catalog.queue``) as long as it has room for them.

Scheduled captures and followed links are captured as the watch spider captures them (robots.txt,
schedule provenance, follow rules); the links a rule matches become jobs of the queue, for any
worker to take. On-demand reports are captured the same way and the sealed capture answers the
report. A capture names its job, and the job is booked done (and its watch entry due again, or
its report answered) in one transaction once the capture is sealed.

Idle, the worker sleeps until the queue announces a change (LISTEN/NOTIFY) or until the next
time something queued becomes claimable. Its jobs carry a lease it renews with its heartbeat;
if it dies, another worker takes them again once the lease has run out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Self, TypeVar

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler

from archive import Archive, ArchiveConfig, Capture
from archive.catalog import queue, workers
from archive.catalog.hosts import Politeness
from archive.catalog.queue import JobRow
from archive.job import Job
from crawler.browser import find_browser
from crawler.plan.listen import Listener
from spiders.watch import WatchSpider

logger = logging.getLogger(__name__)

FLEET_KEY = "fleet_job"
# An idle worker with nothing announced looks again after this long at the most.
IDLE_MAX = 60.0
T = TypeVar("T")


class Book:
    """What the schedule pipeline asks of a scheduled run, answered from the queue."""

    def __init__(self, spider: FleetSpider) -> None:
        self.spider = spider
        self.tally = None

    def captured(self, url: str, capture_id: int) -> dict[str, Any]:
        job = self.spider.by_url[url]
        self.spider.sealed += 1
        verdict = self.spider.retrying(queue.complete, self.spider.catalog, job.id, capture_id)
        self.spider.finished(job)
        return verdict or {"state": None, "next_due_at": None}

    def discover(self, parent: Job, links: list[tuple[str, str]], capture_id: int) -> list[Job]:
        queued = self.spider.retrying(
            queue.discovered, self.spider.catalog, parent, links, capture_id
        )
        if queued:
            logger.info("%d new link(s) on %s queued", len(queued), parent.url)
        return []  # captured by whichever worker takes them


class FleetSpider(WatchSpider):
    name = "fleet"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.lease = settings.getfloat("FLEET_LEASE", 30.0)
        spider.capacity = settings.getint("CONCURRENT_REQUESTS")
        spider.polite = Politeness(
            per_host=settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
            delay=settings.getfloat("DOWNLOAD_DELAY"),
        )
        spider.worker_name = (
            settings.get("FLEET_WORKER_NAME")
            or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        # A job whose capture neither ended nor failed by then is handed back as failed, so that a
        # request lost inside the engine cannot keep its lease (and its site's place) forever.
        spider.stuck_after = settings.getfloat("CAPTURE_TIMEOUT", 30.0) * 3 + 60
        spider.archive_config = ArchiveConfig.from_settings(settings)
        spider.active = {}  # job id -> job, from its claim until it is booked
        spider.open_pages = set()  # jobs whose page is still open: the browser's work
        spider.closing = set()  # their pages' closing being written to the queue
        spider.by_url = {}  # the job's URL, and its request's (normalised) URL -> job
        spider.sealed = 0
        spider.stopping = False
        spider.schedule = Book(spider)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._not_stored, signal=signals.item_error)
        crawler.signals.connect(spider._crashed, signal=signals.spider_error)
        crawler.signals.connect(spider._stop_claiming, signal=signals.engine_stopped)
        return spider

    def _opened(self, spider: Any = None) -> None:
        self.archive = Archive.open(self.archive_config)
        self.catalog = self.archive.catalog
        self.loop = asyncio.get_event_loop()
        self.wake = asyncio.Event()
        self.listener = Listener(self.catalog, self.wake)
        self.listener.start()
        try:
            self.browser = find_browser().name
        except Exception:
            self.browser = None
        self._beat_once()
        self._heartbeat = asyncio.ensure_future(self._beat())
        logger.info("fleet worker %s taking jobs (%s)", self.worker_name, self.polite)

    def _closed(self, spider: Any = None, reason: str = "") -> None:
        self.stopping = True
        self._heartbeat.cancel()
        self.listener.stop()
        # Claimed but not captured: back to the queue now, not when the lease runs out.
        self.retrying(queue.release, self.catalog, list(self.active), self.worker_name)
        self._beat_once(stopped=True)
        self.archive.close()

    def _stop_claiming(self) -> None:
        self.stopping = True
        self.wake.set()

    def retrying(self, call: Callable[..., T], *args: Any, tries: int = 6) -> T:
        """A catalog call that outlives a cut connection (a restarted server, a killed backend):
        the pool opens a new one on the next try."""
        for attempt in range(tries):
            try:
                return call(*args)
            except Exception as exc:
                if attempt == tries - 1:
                    raise
                logger.warning("catalog call %s failed, trying again: %s", call.__name__, exc)
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def _beat_once(self, stopped: bool = False) -> None:
        try:
            workers.beat(
                self.catalog,
                self.worker_name,
                host=socket.gethostname(),
                pid=os.getpid(),
                browser=self.browser,
                current=[{"id": j.id, "url": j.url, "kind": j.kind} for j in self.active.values()],
                captures=self.sealed,
                stopped=stopped,
            )
        except Exception as exc:
            logger.warning("heartbeat not recorded: %s", exc)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 4)
            try:
                await asyncio.to_thread(
                    queue.renew, self.catalog, list(self.active), self.worker_name, self.lease
                )
            except Exception as exc:  # the database is away for a moment: next time
                logger.warning("could not renew leases: %s", exc)
            await asyncio.to_thread(self._beat_once)
            now = queue.now()
            for job in list(self.active.values()):
                if job.started_at and (now - job.started_at).total_seconds() > self.stuck_after:
                    logger.error("job %s (%s) never ended: handed back", job.id, job.url)
                    await asyncio.to_thread(
                        self.retrying, queue.fail, self.catalog, job.id, "the capture never ended"
                    )
                    self.finished(job)

    def finished(self, job: JobRow) -> None:
        """The job is booked (done, or back in the queue): its place is free (any thread)."""
        self.active.pop(job.id, None)
        self.open_pages.discard(job.id)
        for url in [u for u, j in self.by_url.items() if j is job]:
            del self.by_url[url]
            self.requested.discard(url)
        self.loop.call_soon_threadsafe(self.wake.set)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        engine = self.crawler.engine
        while not self.stopping:
            if engine.needs_backout():  # the engine's own state: no notification comes
                await asyncio.sleep(0.05)
                continue
            if len(self.open_pages) >= self.capacity:
                await self.listener.wait(IDLE_MAX)  # until a page is closed
                continue
            self.wake.clear()
            try:
                row = await asyncio.to_thread(
                    self.retrying,
                    queue.claim,
                    self.catalog,
                    self.worker_name,
                    self.lease,
                    self.polite,
                )
            except Exception as exc:
                logger.warning("could not read the queue: %s", exc)
                row = None
            if row is None:
                await self.listener.wait(await self._idle_for())
                continue
            if self.stopping:  # claimed while the crawl was being stopped: hand it back
                await asyncio.to_thread(queue.release, self.catalog, [row.id], self.worker_name)
                return
            request = await self._request(row)
            if request is not None:
                yield request

    async def _idle_for(self) -> float:
        try:
            wake = await asyncio.to_thread(queue.next_wake, self.catalog)
        except Exception:
            return 1.0
        if wake is None:
            return IDLE_MAX
        return min(max((wake - queue.now()).total_seconds(), 0.05), IDLE_MAX)

    async def _request(self, row: JobRow) -> scrapy.Request | None:
        job = row.to_job()
        self.active[row.id] = row
        self.open_pages.add(row.id)
        self.by_url[row.url] = row
        self.requested.discard(row.url)
        request = await self.request_for(job)
        if request is None:  # robots.txt says no and the seed obeys it
            await asyncio.to_thread(
                self.retrying, queue.fail, self.catalog, row.id, "robots.txt disallows it"
            )
            self.finished(row)
            return None
        request.meta[FLEET_KEY] = {"id": row.id, "kind": row.kind, "report": row.report_id}
        self.by_url[request.url] = row
        return request

    def recorded(self, capture: Capture, meta: dict[str, Any], *, navigated: bool) -> None:
        super().recorded(capture, meta, navigated=navigated)
        asked = meta[FLEET_KEY]
        # The page is closed: while this capture is sealed, the browser takes the next one, and
        # the site's place is free for the fleet.
        self.open_pages.discard(asked["id"])
        self.wake.set()
        closing = asyncio.ensure_future(
            asyncio.to_thread(self.retrying, queue.page_closed, self.catalog, asked["id"])
        )
        self.closing.add(closing)
        closing.add_done_callback(self.closing.discard)
        capture.job_id = asked["id"]
        capture.provenance["job"] = {
            "id": asked["id"],
            "kind": asked["kind"],
            "worker": self.worker_name,
        }
        if asked["report"] is not None:
            capture.provenance["report"] = {"id": asked["report"]}

    async def _not_stored(
        self, item: Any, response: Any, spider: Any = None, failure: Any = None
    ) -> None:
        await self._fail(response, "the capture could not be sealed", failure)

    async def _crashed(self, failure: Any, response: Any, spider: Any = None) -> None:
        await self._fail(response, "the capture failed", failure)

    async def _fail(self, response: Any, what: str, failure: Any) -> None:
        request = getattr(response, "request", None)
        meta = getattr(request, "meta", None) or getattr(response, "meta", {}) or {}
        asked = meta.get(FLEET_KEY)
        job = self.active.get(asked["id"]) if asked else None
        if job is None:
            return
        error = failure.getErrorMessage() if failure is not None else "no reason given"
        await asyncio.to_thread(self.retrying, queue.fail, self.catalog, job.id, f"{what}: {error}")
        self.finished(job)
