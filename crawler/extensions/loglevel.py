"""Give loggers the level of LOG_LEVEL, so that nobody does work for messages nobody sees.

Scrapy filters log records in its handler and leaves loggers at NOTSET; scrapy-playwright asks
its logger whether DEBUG is on and, when it is, logs every request and response of every page,
asking the browser for a header of each (a round trip per exchange). With the logger at
LOG_LEVEL that work is skipped unless DEBUG logging was asked for.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

QUIETED = ("scrapy-playwright",)  # its logger name, hyphenated


class LogLevel:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LogLevel:
        level = logging.getLevelName(crawler.settings.get("LOG_LEVEL", "DEBUG"))
        for name in QUIETED:
            logging.getLogger(name).setLevel(level if isinstance(level, int) else logging.DEBUG)
        return cls()
