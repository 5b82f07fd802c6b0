"""Run a Scrapy crawl of seeds in this process and hand each sealed capture to a callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.job import Job


def crawl_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The project's settings (crawler/settings.py) with command-line overrides on top."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for key, value in (overrides or {}).items():
        if value is not None:
            settings.set(key, value, priority="cmdline")
    return settings


@dataclass
class CrawlResult:
    captures: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finish_reason: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.finish_reason not in (None, "finished")


def run_crawl(
    seeds: list[Job],
    settings: Settings,
    on_capture: Callable[[dict[str, Any]], None] | None = None,
    spider: str = "capture",
    **spider_kwargs: Any,
) -> CrawlResult:
    """Capture every seed with the spider of that name (``SPIDER_MODULES``: the crawler does not
    import its spiders); blocks until done or interrupted (Ctrl-C, SIGTERM: graceful stop)."""
    result = CrawlResult()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)

    def scraped(item: Any, **_: Any) -> None:
        result.captures.append(item)
        if on_capture is not None:
            on_capture(item)

    def failed(item: Any, response: Any, spider: Any, failure: Any, **_: Any) -> None:
        result.errors.append(f"{getattr(item, 'requested_url', item)}: {failure.getErrorMessage()}")

    def spider_failed(failure: Any, response: Any, spider: Any, **_: Any) -> None:
        result.errors.append(f"{response.url}: {failure.getErrorMessage()}")

    def closed(spider: Any, reason: str) -> None:
        result.finish_reason = reason

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    crawler.signals.connect(failed, signal=signals.item_error)
    crawler.signals.connect(spider_failed, signal=signals.spider_error)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler, seeds=seeds, **spider_kwargs)
    process.start()
    return result
