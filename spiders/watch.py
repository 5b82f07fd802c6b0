"""Scheduled captures of a watch list: due pages first, then the new links their rules match.

Each page is captured like an on-demand capture; what differs is around it: robots.txt is
checked and recorded, the schedule (seed, rule, depth, case) goes into the provenance, and once a
page is sealed the ``SchedulePipeline`` books it and hands back the new links to capture in the
same run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler

from archive.capture import Capture
from archive.job import Job
from crawler.page.capturer import JOB_KEY
from crawler.plan.follow import matching_links
from crawler.plan.robots import RobotsPolicy
from crawler.plan.schedule import Schedule
from spiders.capturing import CapturingSpider


class WatchSpider(CapturingSpider):
    name = "watch"
    custom_settings = {
        "ARCHIVE_DEDUP": True,
        "ITEM_PIPELINES": {
            "crawler.pipelines.warc.WarcPipeline": 300,
            "crawler.pipelines.schedule.SchedulePipeline": 310,
        },
    }

    def __init__(
        self,
        seeds: list[Job] | None = None,
        schedule: Schedule | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.jobs = list(seeds or [])
        self.schedule = schedule
        # URLs requested in this run: each is captured once per run, however often it is linked.
        self.requested: set[str] = set()
        # Captured pages waiting for the pipeline: url -> (job, outlinks).
        self.pending: dict[str, tuple[Job, list[str]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.robots = RobotsPolicy(crawler)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for job in self.jobs:
            request = await self.request_for(job)
            if request is not None:
                yield request

    async def request_for(self, job: Job) -> scrapy.Request | None:
        """The capture request of a job, unless already requested or robots.txt is obeyed."""
        if job.url in self.requested:
            return None
        self.requested.add(job.url)
        allowed, robots = await self.robots.decide(job.url, job.obey_robots)
        if not allowed:
            self.logger.info("not captured, robots.txt disallows it: %s", job.url)
            if self.schedule is not None:
                self.schedule.tally.skipped.append(job.url)
            return None
        request = self.capture_request(job)
        request.meta["watch_robots"] = robots
        return request

    def recorded(self, capture: Capture, meta: dict[str, Any], *, navigated: bool) -> None:
        job: Job = meta[JOB_KEY]
        capture.provenance.update(
            {
                "schedule": {
                    "seed": job.site,
                    "found_on": job.found_on,
                    "rule": job.rule,
                    "reason": job.reason,
                    "every_s": job.every,
                    "depth_left": job.depth,
                    "follow": list(job.follow),
                    "tags": list(job.tags),
                },
                "robots": meta["watch_robots"],
            }
        )
        outlinks: list[str] = []
        if navigated:
            robots = self.robots.resource(capture.requested_url)
            if robots is not None:
                capture.resources.append(robots)
            # The links the page shows at the end, and those its behaviors met on the way (a
            # feed may drop the posts it scrolled past).
            behaviors = capture.provenance.get("behaviors") or {}
            outlinks = [*(capture.provenance.get("outlinks") or []), *behaviors.get("links", [])]
        self.pending[capture.requested_url] = (job, outlinks)

    def links_to_follow(self, job: Job, outlinks: list[str]) -> list[tuple[str, str]]:
        if job.depth <= 0 or not job.follow:
            return []
        return [
            (link, rule)
            for link, rule in matching_links(job.follow, job.site, outlinks)
            if link not in self.requested
        ]
