"""One scheduled run's view of the watch list: what is due, what was found, what comes next.

Every fact lives in the catalog (``archive.catalog.watchlist``, ``archive.catalog.timeline``);
this object only holds the run's start time and its tallies, so that runs on several machines
can share a catalog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from archive.catalog import watchlist
from archive.catalog.db import CaptureRow, Catalog
from archive.catalog.timeline import GONE, ObservationRow
from archive.catalog.watchlist import WatchRow, WatchSpec
from archive.times import rfc3339_or_none

logger = logging.getLogger("lastseen.schedule")


@dataclass
class Tally:
    captured: int = 0
    new: int = 0
    unchanged: int = 0
    changed: int = 0
    gone: int = 0
    failed: int = 0
    followed: int = 0
    skipped: list[str] = field(default_factory=list)  # robots.txt said no, and the seed obeys

    def count(self, watch: dict[str, Any]) -> None:
        self.captured += 1
        if watch["state"] == "live":
            setattr(self, watch["change"], getattr(self, watch["change"]) + 1)
        elif watch["state"] == GONE:
            self.gone += 1
        else:
            self.failed += 1


class Schedule:
    def __init__(self, catalog: Catalog, run_started: datetime) -> None:
        self.catalog = catalog
        self.run_started = run_started
        self.tally = Tally()

    def due_jobs(self, specs: list[WatchSpec]) -> list[dict[str, Any]]:
        """Apply the seed file to the watch list, then list what is due, as capture jobs."""
        with self.catalog.session() as s:
            watchlist.sync_seeds(s, specs, self.run_started)
            rows = watchlist.due(s, [spec.url for spec in specs], self.run_started)
            return [self._job(s, row, reason="due") for row in rows]

    def _job(self, session: Any, row: WatchRow, reason: str, rule: str | None = None) -> dict:
        last_print = session.scalars(
            select(CaptureRow)
            .where(CaptureRow.url == row.url, CaptureRow.pdf_sha256.is_not(None))
            .order_by(CaptureRow.captured_at.desc(), CaptureRow.id.desc())
            .limit(1)
        ).first()
        return {
            **row.as_dict(),
            "site": row.seed_url or row.url,
            "reason": reason,
            "rule": rule,
            "print_of": (
                {"capture_id": last_print.id, "dom_sha256": last_print.dom_sha256}
                if last_print is not None and last_print.dom_sha256
                else None
            ),
        }

    def captured(self, url: str, capture_id: int) -> dict[str, Any]:
        """Book a sealed capture: its time-line verdict, and when the URL is due next."""
        with self.catalog.session() as s:
            obs = s.get(ObservationRow, capture_id)
            watch = {
                "state": obs.state if obs else None,
                "reason": obs.reason if obs else None,
                "change": obs.change if obs else None,
                "previous_capture_id": obs.previous_capture_id if obs else None,
                "diff": obs.diff if obs else None,
            }
            row = watchlist.mark_captured(
                s, url, capture_id, self.run_started, gone=watch["state"] == GONE
            )
            watch["next_due_at"] = rfc3339_or_none(row.next_due_at) if row else None
        self.tally.count(watch)
        return watch

    def discover(
        self, parent: dict[str, Any], links: list[tuple[str, str]], capture_id: int
    ) -> list[dict[str, Any]]:
        """Watch the new links a rule matched on a captured page; they are captured now."""
        jobs = []
        with self.catalog.session() as s:
            parent_row = watchlist.get(s, parent["url"])
            if parent_row is None:
                return []
            for link, rule in links:
                row = watchlist.discover(
                    s, link, parent_row, capture_id=capture_id, now=self.run_started
                )
                if row is not None:
                    jobs.append(self._job(s, row, reason="found", rule=rule))
        if jobs:
            logger.info("%d new link(s) on %s", len(jobs), parent["url"])
        return jobs
