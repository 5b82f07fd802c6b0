"""Seal each Capture: WARC into the store, row and custody entry into the catalog."""

from __future__ import annotations

import asyncio
from typing import Any

from archive import Archive, ArchiveConfig, Capture
from archive.catalog.db import capture_summary

# At most this many earlier uploads are retried when a crawl ends (store sync does the rest).
PUSH_AT_CLOSE = 100


class WarcPipeline:
    """Writing and hashing run in a thread so the browser's event loop keeps recording."""

    def __init__(self, config: ArchiveConfig, stats: Any) -> None:
        self.config = config
        self.stats = stats
        self.archive: Archive | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcPipeline:
        settings = crawler.settings
        config = ArchiveConfig.from_env(
            store=settings.get("ARCHIVE_STORE"),
            db=settings.get("ARCHIVE_DB"),
            operator=settings.get("ARCHIVE_OPERATOR"),
            dedup=settings.getbool("ARCHIVE_DEDUP"),
        )
        return cls(config, crawler.stats)

    def open_spider(self, spider: Any = None) -> None:
        self.archive = Archive.open(self.config)

    def close_spider(self, spider: Any = None) -> None:
        if self.archive is not None:
            if self.archive.uploads is not None:
                # Earlier captures still spooled (this run's or a previous one's): one more try each
                # whose backoff has run out, unless the store was just found unreachable.
                pushed = self.archive.uploads.push_due(limit=PUSH_AT_CLOSE)
                self.stats.inc_value("upload/retried", len(pushed))
            self.archive.close()

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, Capture):
            return item
        assert self.archive is not None
        row = await asyncio.to_thread(self.archive.seal, item)
        self.stats.inc_value("capture/sealed")
        self.stats.inc_value(f"capture/outcome/{item.outcome}")
        self.stats.inc_value("capture/exchanges", len(item.exchanges))
        self.stats.inc_value("capture/warc_bytes", row.warc_size)
        if self.archive.remote is not None:
            stored = row.warc_location.startswith("s3://")
            self.stats.inc_value("upload/stored" if stored else "upload/spooled")
        return capture_summary(row)
