"""One scheduled run's view of the watch list: what is due, what was found, what comes next.

Every fact lives in the catalog (``archive.catalog.watchlist``, ``archive.catalog.timeline``);
this object only holds the run's start time and its tallies, so that runs on several machines
can share a catalog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.catalog import watchlist
from archive.catalog.db import CaptureRow, Catalog
from archive.catalog.timeline import GONE, UNKNOWN, verdict_of
from archive.catalog.watchlist import WatchRow
from archive.job import DUE, FOUND, Job, PrintOf
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
    signed_out: int = 0  # met a login wall: the profile was signed out, the page not seen
    skipped: list[str] = field(default_factory=list)  # robots.txt said no, and the seed obeys

    def count(self, watch: dict[str, Any]) -> None:
        self.captured += 1
        if watch["state"] == "live":
            setattr(self, watch["change"], getattr(self, watch["change"]) + 1)
        elif watch["state"] == GONE:
            self.gone += 1
        elif watch["state"] == UNKNOWN:
            self.signed_out += 1
        else:
            self.failed += 1


class Schedule:
    def __init__(self, catalog: Catalog, run_started: datetime) -> None:
        self.catalog = catalog
        self.run_started = run_started
        self.tally = Tally()

    def due_jobs(self, seeds: list[Job]) -> list[Job]:
        """Apply the seed file to the watch list, then list what is due."""
        with self.catalog.session() as s:
            watchlist.sync_seeds(s, seeds, self.run_started)
            rows = watchlist.due(s, [seed.url for seed in seeds], self.run_started)
            return [self._job(s, row, reason=DUE) for row in rows]

    def _job(self, session: Session, row: WatchRow, reason: str, rule: str | None = None) -> Job:
        last_print = session.scalars(
            select(CaptureRow)
            .where(CaptureRow.url == row.url, CaptureRow.pdf_sha256.is_not(None))
            .order_by(CaptureRow.captured_at.desc(), CaptureRow.id.desc())
            .limit(1)
        ).first()
        print_of = (
            PrintOf(last_print.id, last_print.dom_sha256)
            if last_print is not None and last_print.dom_sha256
            else None
        )
        return replace(row.job(), reason=reason, rule=rule, print_of=print_of)

    def captured(self, url: str, capture_id: int) -> dict[str, Any]:
        """Book a sealed capture: its time-line verdict, and when the URL is due next."""
        with self.catalog.session() as s:
            watch = verdict_of(s, capture_id)
            row = watchlist.mark_captured(
                s, url, capture_id, self.run_started, gone=watch["state"] == GONE
            )
            watch["next_due_at"] = rfc3339_or_none(row.next_due_at) if row else None
        self.tally.count(watch)
        return watch

    def discover(self, parent: Job, links: list[tuple[str, str]], capture_id: int) -> list[Job]:
        """Watch the new links a rule matched on a captured page; they are captured now."""
        jobs = []
        with self.catalog.session() as s:
            parent_row = watchlist.get(s, parent.url)
            if parent_row is None:
                return []
            watched = parent_row.job()  # as the catalog has it now, like the links it finds
            for link, rule in links:
                row = watchlist.discover(
                    s, watched.found(link, rule), capture_id=capture_id, now=self.run_started
                )
                if row is not None:
                    jobs.append(self._job(s, row, reason=FOUND, rule=rule))
        if jobs:
            logger.info("%d new link(s) on %s", len(jobs), parent.url)
        return jobs
