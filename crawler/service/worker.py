"""A capture worker: one long crawl of the queue spider with a warm browser.

``lastseen serve`` starts one or more of these as child processes; ``lastseen worker`` runs one
on its own (on another machine sharing the PostgreSQL catalog and the store, for example).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from scrapy.crawler import CrawlerProcess

from crawler.run import crawl_settings

# What the browser may see of the worker's environment: what it needs to start, find its files
# and draw text. Never the API tokens, the catalog's URL (it may hold a password), the store's
# or S3's credentials: a page that broke out of its renderer would find nothing to take.
BROWSER_ENV = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"}
BROWSER_ENV_PREFIXES = ("LC_", "XDG_", "FONTCONFIG_")


def browser_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environ.items()
        if name in BROWSER_ENV or name.startswith(BROWSER_ENV_PREFIXES)
    }


def worker_settings(overrides: dict[str, Any]) -> Any:
    settings = crawl_settings(overrides)
    # The browser handler launches the browser and prepares the first page when the crawl
    # starts, before the first request arrives.
    launch = {**settings.getdict("CAPTURE_LAUNCH_OPTIONS"), "env": browser_env(os.environ)}
    settings.set("CAPTURE_LAUNCH_OPTIONS", launch, priority="cmdline")
    return settings


def run_worker(overrides: dict[str, Any], spider: str = "queue") -> None:
    """Capture queued requests until stopped (SIGINT/SIGTERM: finish the captures in flight);
    ``fleet``: jobs of every kind from a PostgreSQL catalog's queue (spiders/fleet.py)."""
    process = CrawlerProcess(worker_settings(overrides))
    process.crawl(spider)  # by name, from SPIDER_MODULES: the crawler never imports spiders
    process.start()
