"""Capture a list of URLs (one reported URL, or a seed file), each in a fresh browser context."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import scrapy

from archive.job import Job
from crawler.page.capturer import JOB_KEY, PageCapturer
from crawler.page.config import CaptureConfig
from crawler.page.environment import environment_record
from crawler.page.recorder import attach_recorder

_contexts = itertools.count(1)
# By import path, so that requests stay serialisable (disk or Redis queues).
RECORDER_CALLBACK = f"{attach_recorder.__module__}.{attach_recorder.__name__}"


def capture_request(
    job: Job, config: CaptureConfig, callback: Any, errback: Any
) -> scrapy.Request:
    """A request rendered by Chromium, recorded from its first byte, in a context of its own."""
    return scrapy.Request(
        job.url,
        callback=callback,
        errback=errback,
        dont_filter=True,
        meta={
            "playwright": True,
            "playwright_include_page": True,
            "playwright_context": f"capture-{next(_contexts)}",
            "playwright_context_kwargs": config.context_kwargs(),
            "playwright_page_init_callback": RECORDER_CALLBACK,
            # Commit is enough to hand over: the capturer waits for load and idle itself, within
            # the capture's deadline, so a page that never finishes loading is still captured.
            "playwright_page_goto_kwargs": {
                "wait_until": "commit",
                "timeout": config.timeout * 1000,
            },
            JOB_KEY: job,
        },
    )


class CaptureSpider(scrapy.Spider):
    name = "capture"

    def __init__(self, seeds: list[Job] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seeds = list(seeds or [])

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> CaptureSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        config = CaptureConfig.from_settings(crawler.settings)
        spider.capturer = PageCapturer(config, environment_record(crawler.settings, config))
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for seed in self.seeds:
            yield capture_request(seed, self.capturer.config, self.parse, self.failed)

    async def parse(self, response: Any, **kwargs: Any) -> AsyncIterator[Any]:
        yield await self.capturer.capture(response)

    async def failed(self, failure: Any) -> AsyncIterator[Any]:
        yield await self.capturer.capture_failure(failure)
