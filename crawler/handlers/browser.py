"""lastseen's browser download handler: each capture request is rendered by Chromium in a browser
context of its own, and the next capture's context and page are ready before they are needed.

scrapy-playwright did this job until issue 15. Its handler is general (routes, page methods,
header overrides, a response built from the DOM at commit); lastseen records everything itself
from CDP, and each of those extras cost a round trip through Playwright's driver per page on a
saturated CPU: the routing of every request, the headers, TLS details, server address and DOM read
at commit, the stats listeners on every request and response, and contexts created one at a time
behind a lock, only once a capture had closed its own. This handler does none of that: it keeps
one spare context open with its page, recorder and in-page behaviors attached (the crawl's
default options), hands it to the next request at once, and makes the next spare while that page
is captured. The spare is blank: it has loaded nothing and recorded nothing when it is handed over,
and no page ever shares a context with another.

Requests without ``capture_browser`` in their meta (robots.txt, for example) go to Scrapy's own
HTTP handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Request, Response

from crawler.page.behaviors import META_KEY as BEHAVIORS_KEY
from crawler.page.behaviors import begin_capture, prepare_page, request_meta
from crawler.page.config import CaptureConfig
from crawler.page.egress import META_KEY as EGRESS_KEY
from crawler.page.meta import BROWSER_KEY, CONTEXT_KEY, CONTEXT_RECORD_KEY, PAGE_KEY
from crawler.page.recorder import GUARD_META_KEY as GUARD_KEY

logger = logging.getLogger(__name__)

# A navigation that turns into a download, or is answered without a document (204), ends with
# these; what the server sent is recorded all the same, so the capture goes on from there.
NOT_A_DOCUMENT = ("Download is starting", "net::ERR_ABORTED")


@dataclass
class _Page:
    context: BrowserContext
    page: Page
    meta: dict[str, Any]  # what prepare_page attached: the recorder, the behaviors' state


class _Browser:
    """The crawl's one browser, its spare page and its places: shared by the handler of every
    scheme (Scrapy makes one handler per scheme; http and https must not each run a browser)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.config = CaptureConfig.from_settings(settings)
        self.default_context = self.config.context_kwargs()
        self.default_behaviors = request_meta(
            self.config.behaviors_script, dict(self.config.site_hosts)
        )
        self.launch_options = dict(settings.getdict("CAPTURE_LAUNCH_OPTIONS"))
        self.stats = crawler.stats
        # Pages being captured at once: the crawl's concurrency. The spare is not one of them.
        self.places = asyncio.Semaphore(settings.getint("CONCURRENT_REQUESTS"))
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching = asyncio.Lock()
        self._spare: asyncio.Task[_Page] | None = None
        self._closing: asyncio.Future[None] | None = None
        crawler.signals.connect(self._engine_started, signals.engine_started)

    @classmethod
    def of(cls, crawler: Crawler) -> _Browser:
        shared = getattr(crawler, "_lastseen_browser", None)
        if shared is None:
            shared = cls(crawler)
            crawler._lastseen_browser = shared  # type: ignore[attr-defined]
        return shared

    async def _engine_started(self) -> None:
        # The browser starts with the crawl, and the first page is ready before the first request.
        await self._ensure_browser()
        self._make_spare()

    async def _ensure_browser(self) -> Browser:
        async with self._launching:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(**self.launch_options)
                self.stats.inc_value("browser/launched")
            return self._browser

    async def _new_page(
        self, kwargs: dict[str, Any], guard: Any, gate: Any, behaviors: dict[str, Any] | None
    ) -> _Page:
        browser = await self._ensure_browser()
        context = await browser.new_context(**kwargs)
        try:
            page = await context.new_page()
            return _Page(context, page, await prepare_page(page, guard, gate, behaviors))
        except BaseException:
            with suppress(Exception):
                await context.close()
            raise

    def _make_spare(self) -> None:
        if self._closing is None:
            self._spare = asyncio.ensure_future(
                self._new_page(self.default_context, None, None, self.default_behaviors)
            )

    async def take(self, request: Request) -> tuple[_Page, bool]:
        """The spare when the capture wants what it was prepared with (the crawl's default
        options, no URL guard; the next spare is started at once), else a page made for it;
        True when it was the spare."""
        meta = request.meta
        kwargs = meta.get(CONTEXT_KEY) or self.default_context
        guard, gate, behaviors = meta.get(GUARD_KEY), meta.get(EGRESS_KEY), meta.get(BEHAVIORS_KEY)
        spare = self._spare
        if (
            spare is None
            or kwargs != self.default_context
            or guard is not None
            or gate is not None
            or behaviors != self.default_behaviors
        ):
            return await self._new_page(kwargs, guard, gate, behaviors), False
        self._spare = None
        self._make_spare()
        try:
            ready = await spare
        except Exception as exc:  # the browser went away under it: start again
            logger.warning("the prepared browser page was lost (%s); making a new one", exc)
            return await self._new_page(kwargs, guard, gate, behaviors), False
        if ready.page.is_closed():  # its renderer crashed while it waited
            with suppress(Exception):
                await ready.context.close()
            return await self._new_page(kwargs, guard, gate, behaviors), False
        return ready, True

    async def close(self) -> None:
        """Once, however many handlers ask."""
        if self._closing is not None:
            await self._closing
            return
        self._closing = asyncio.get_running_loop().create_future()
        try:
            if self._spare is not None:
                self._spare.cancel()
                with suppress(BaseException):
                    await (await self._spare).context.close()
            if self._browser is not None:
                with suppress(Exception):
                    await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
        finally:
            self._closing.set_result(None)


class BrowserDownloadHandler(BaseDownloadHandler):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.browser = _Browser.of(crawler)
        self.config = self.browser.config
        self.stats = crawler.stats
        self.http = HTTP11DownloadHandler(crawler)

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get(BROWSER_KEY):
            return await self.http.download_request(request)
        places = self.browser.places
        await places.acquire()
        try:
            ready, prepared = await self.browser.take(request)
        except BaseException:
            places.release()
            raise
        # The place is free again once the capture closes its context (or the browser does).
        ready.context.once("close", lambda _: places.release())
        page = ready.page
        meta = request.meta
        meta[PAGE_KEY] = page  # set early: the errback closes it
        meta.update(ready.meta)
        self.stats.inc_value("browser/page_prepared" if prepared else "browser/page_made")
        meta[CONTEXT_RECORD_KEY] = {"new": True, "made_before_request": prepared}
        # The capture starts here: its page is blank, its recorder listening.
        begin_capture(meta)
        meta["capture_started"] = datetime.now(UTC)
        meta["capture_started_mono"] = time.monotonic()
        try:
            response = await page.goto(
                request.url, wait_until="commit", timeout=self.config.timeout * 1000
            )
        except PlaywrightError as exc:
            if not any(marker in exc.message for marker in NOT_A_DOCUMENT):
                raise
            response = None
        # The callback reads everything from the page and its recorder, never from this.
        return Response(
            url=page.url if page.url.startswith(("http:", "https:")) else request.url,
            status=response.status if response is not None else 200,
            request=request,
            flags=["browser"],
        )

    async def close(self) -> None:
        await self.http.close()
        await self.browser.close()
