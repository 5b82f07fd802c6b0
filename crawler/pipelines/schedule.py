"""Book each sealed capture of a scheduled run, and capture the new links it led to."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy.crawler import Crawler


class SchedulePipeline:
    """After WarcPipeline: the item is the sealed capture's summary; adds its ``watch`` verdict.

    Enabled by the watch spider's own settings (``spiders.watch.WatchSpider.custom_settings``).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SchedulePipeline:
        return cls(crawler)

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        spider = spider or self.crawler.spider
        if not isinstance(item, dict) or item.get("url") not in spider.pending:
            return item
        job, outlinks = spider.pending.pop(item["url"])
        schedule = spider.schedule
        item["watch"] = await asyncio.to_thread(schedule.captured, item["url"], item["id"])
        self.crawler.stats.inc_value(f"schedule/{item['watch']['state']}")
        if item["watch"]["state"] != "live":
            return item
        links = spider.links_to_follow(job, outlinks)
        if not links:
            return item
        jobs = await asyncio.to_thread(schedule.discover, job, links, item["id"])
        for child in jobs:
            request = await spider.request_for(child)
            if request is not None:
                schedule.tally.followed += 1
                self.crawler.stats.inc_value("schedule/followed")
                self.crawler.engine.crawl(request)
        return item
