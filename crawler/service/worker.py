"""A capture worker: one long crawl of the queue spider with a warm browser.

``lastseen serve`` starts one or more of these as child processes; ``lastseen worker`` runs one
on its own (on another machine sharing the PostgreSQL catalog and the store, for example).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import CrawlerProcess

from crawler.run import crawl_settings


def worker_settings(overrides: dict[str, Any]) -> Any:
    settings = crawl_settings(overrides)
    concurrency = settings.getint("CONCURRENT_REQUESTS")
    # A context opened at start launches the browser before the first request arrives; one
    # more context than concurrent captures keeps it from taking a capture's place.
    settings.set("PLAYWRIGHT_CONTEXTS", {"warm": {}}, priority="cmdline")
    settings.set("PLAYWRIGHT_MAX_CONTEXTS", concurrency + 1, priority="cmdline")
    return settings


def run_worker(overrides: dict[str, Any]) -> None:
    """Capture queued requests until stopped (SIGINT/SIGTERM: finish the captures in flight)."""
    process = CrawlerProcess(worker_settings(overrides))
    process.crawl("queue")  # by name, from SPIDER_MODULES: the crawler never imports spiders
    process.start()
