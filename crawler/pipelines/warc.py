"""Seal each Capture: WARC into the store, row and custody entry into the catalog."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from scrapy.crawler import Crawler

from archive import Archive, ArchiveConfig, Capture
from archive.catalog.db import capture_summary
from archive.derive.alerts import AlertPolicy, describe, parse_kinds
from archive.derive.extraction import derive_sealed
from archive.derive.indicators import phone_regions
from crawler.page.ytdlp import discard as discard_media

logger = logging.getLogger(__name__)

# At most this many earlier uploads are retried when a crawl ends (store sync does the rest).
PUSH_AT_CLOSE = 100


class WarcPipeline:
    """Writing and hashing run in a thread so the browser's event loop keeps recording."""

    def __init__(self, config: ArchiveConfig, stats: Any, alerts: AlertPolicy) -> None:
        self.config = config
        self.stats = stats
        self.archive: Archive | None = None
        self.alerts = alerts
        self.regions = phone_regions()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcPipeline:
        settings = crawler.settings
        config = ArchiveConfig.from_settings(settings)
        known = settings.get("ALERT_KNOWN")
        alerts = AlertPolicy.from_env(known=parse_kinds(known) if known else None)
        return cls(config, crawler.stats, alerts)

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
        try:
            row = await asyncio.to_thread(self.archive.seal, item)
        finally:
            discard_media(item.media)  # the copies are in the WARC now, or the capture is lost
        # Identifiers and photo hashes, from the sealed records (issue 14); never fails a capture.
        # A seed's alert: kinds add to --alert-known's for its captures and the links it follows.
        policy = replace(self.alerts, known=self.alerts.known | frozenset(item.alert))
        alerts = await asyncio.to_thread(derive_sealed, self.archive, row, policy, self.regions)
        self.stats.inc_value("indicators/failed" if alerts is None else "indicators/derived")
        self.stats.inc_value("capture/sealed")
        self.stats.inc_value(f"capture/outcome/{item.outcome}")
        self.stats.inc_value("capture/exchanges", len(item.exchanges))
        self.stats.inc_value("capture/warc_bytes", row.warc_size)
        if self.archive.remote is not None:
            stored = row.warc_location.startswith("s3://")
            self.stats.inc_value("upload/stored" if stored else "upload/spooled")
        summary = capture_summary(row)
        if alerts:
            self.stats.inc_value("indicators/alerts", len(alerts))
            for alert in alerts:
                logger.warning(describe(alert))
            summary["alerts"] = alerts
        return summary
