"""The capturing spider: every request it makes is one capture, rendered by Chromium in a browser
context of its own and recorded from its first byte. The spiders on it say what to capture (Jobs)
and what a capture records besides the page (``recorded``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.capture import Capture
from archive.job import Job
from crawler.page.behaviors import META_KEY as BEHAVIORS_KEY
from crawler.page.behaviors import request_meta
from crawler.page.capturer import JOB_KEY, PageCapturer
from crawler.page.config import CaptureConfig
from crawler.page.environment import environment_record
from crawler.page.meta import BROWSER_KEY, CONTEXT_KEY


class CapturingSpider(scrapy.Spider):
    """Shares one PageCapturer (the capture settings, the environment record) across its crawl."""

    capturer: PageCapturer

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        config = CaptureConfig.from_settings(crawler.settings)
        spider.capturer = PageCapturer(config, environment_record(crawler.settings, config))
        return spider

    def capture_request(self, job: Job) -> scrapy.Request:
        """The job's request: rendered by Chromium, recorded from its first byte, in a context of
        its own; the job rides along in its meta for the capturer."""
        config = self.capturer.config
        return scrapy.Request(
            job.url,
            callback=self.parse,
            errback=self.failed,
            dont_filter=True,
            # The handler hands over at commit: the capturer waits for load and idle itself,
            # within the capture's deadline, so a page that never finishes loading is still
            # captured.
            meta={
                BROWSER_KEY: True,
                CONTEXT_KEY: config.context_kwargs(),
                BEHAVIORS_KEY: request_meta(config.behaviors_script, dict(config.site_hosts)),
                JOB_KEY: job,
            },
        )

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Capture]:
        capture = await self.capturer.capture(response)
        self.recorded(capture, response.meta, navigated=True)
        yield capture

    async def failed(self, failure: Failure) -> AsyncIterator[Capture]:
        capture = await self.capturer.capture_failure(failure)
        self.recorded(capture, failure.request.meta, navigated=False)
        yield capture

    def recorded(self, capture: Capture, meta: dict[str, Any], *, navigated: bool) -> None:
        """What this spider adds to a capture before it is sealed; ``navigated`` is False when
        the navigation itself failed (the errback's capture)."""
