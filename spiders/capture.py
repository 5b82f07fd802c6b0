"""Capture a list of URLs (one reported URL, or a seed file), each in a fresh browser context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from archive.job import Job
from spiders.capturing import CapturingSpider


class CaptureSpider(CapturingSpider):
    name = "capture"

    def __init__(self, seeds: list[Job] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seeds = list(seeds or [])

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for seed in self.seeds:
            yield self.capture_request(seed)
