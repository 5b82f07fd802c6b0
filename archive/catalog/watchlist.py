"""The watch list: which URLs scheduled crawls keep capturing, and when each is next due.

It lives in the catalog, not in the crawling process, so that any run on any machine sharing the
catalog sees the same schedule. Seeds come from a seed file; followed URLs (ads found on a
watched listing) inherit their seed's case, interval and follow rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base, UTCDateTime
from archive.job import Job


class WatchRow(Base):
    __tablename__ = "watchlist"
    # By hash on PostgreSQL, where a long URL fits no btree entry; there the URL is unique by an
    # exclusion constraint on its hash (migration 0004).
    __table_args__ = (Index("ix_watchlist_seed_url", "seed_url", postgresql_using="hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    every_s: Mapped[int | None] = mapped_column(Integer)
    follow: Mapped[list[str]] = mapped_column(JSON)
    # How many more levels of links found on this page are followed.
    depth: Mapped[int] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON)
    obey_robots: Mapped[bool] = mapped_column(Boolean)
    # Identifier kinds that alert when seen in another case (a seed's alert:, migration 0005).
    alert: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    # The browser profile its captures are signed in with (migration 0005_profiles).
    profile: Mapped[str | None] = mapped_column(String(64))
    # A seed's media: (migration 0005_media); None where the seed does not say.
    media: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # None for a seed; otherwise the seed whose follow rules found this URL, and where.
    seed_url: Mapped[str | None] = mapped_column(Text)
    found_on: Mapped[str | None] = mapped_column(Text)
    found_in_capture_id: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None: no longer scheduled (a followed ad that is gone; it returns if a listing shows it).
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_capture_id: Mapped[int | None] = mapped_column(Integer)

    def plan(self, job: Job) -> None:
        """Take the job's case, schedule and follow rules."""
        self.case_id = job.case
        self.every_s = job.every
        self.follow = list(job.follow)
        self.depth = job.depth
        self.tags = list(job.tags)
        self.obey_robots = job.obey_robots
        self.alert = list(job.alert)
        self.profile = job.profile
        self.media = job.media

    def job(self) -> Job:
        """The watched URL as a job (why it is captured now is the scheduler's to say)."""
        return Job(
            url=self.url,
            case=self.case_id,
            every=self.every_s,
            follow=tuple(self.follow),
            depth=self.depth,
            tags=tuple(self.tags),
            obey_robots=self.obey_robots,
            alert=tuple(self.alert or ()),
            profile=self.profile,
            media=self.media,
            seed=self.seed_url,
            found_on=self.found_on,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "case": self.case_id,
            "every": self.every_s,
            "follow": list(self.follow),
            "depth": self.depth,
            "tags": list(self.tags),
            "obey_robots": self.obey_robots,
            "alert": list(self.alert or ()),
            "profile": self.profile,
            "media": self.media,
            "seed": self.seed_url,
            "found_on": self.found_on,
        }


def sync_seeds(session: Session, seeds: Iterable[Job], now: datetime) -> list[WatchRow]:
    """Add new seeds (due at once) and apply edits of the seed file to known ones."""
    rows = []
    for seed in seeds:
        row = session.scalars(select(WatchRow).where(WatchRow.url == seed.url)).first()
        if row is None:
            row = WatchRow(url=seed.url, added_at=now, next_due_at=now)
            session.add(row)
        elif row.every_s != seed.every or row.seed_url is not None or row.next_due_at is None:
            base = row.last_run_at or now
            row.next_due_at = base + timedelta(seconds=seed.every) if seed.every else base
        row.plan(seed)
        row.seed_url = None  # stated in the seed file: a seed, even if first found as a link
        rows.append(row)
    session.flush()
    return rows


def due(session: Session, seeds: Iterable[str], now: datetime) -> list[WatchRow]:
    """The seeds, and URLs followed from them, whose time has come (oldest due first)."""
    seeds = list(seeds)
    query = (
        select(WatchRow)
        .where(or_(WatchRow.url.in_(seeds), WatchRow.seed_url.in_(seeds)))
        .where(WatchRow.next_due_at.is_not(None), WatchRow.next_due_at <= now)
        .order_by(WatchRow.next_due_at, WatchRow.id)
    )
    return list(session.scalars(query))


def known(session: Session, urls: Iterable[str]) -> set[str]:
    urls = list(urls)
    if not urls:
        return set()
    return set(session.scalars(select(WatchRow.url).where(WatchRow.url.in_(urls))))


def discover(
    session: Session, found: Job, *, capture_id: int | None, now: datetime
) -> WatchRow | None:
    """Start watching a link found on a watched page (``Job.found``); None if the URL is
    watched already."""
    existing = session.scalars(select(WatchRow).where(WatchRow.url == found.url)).first()
    if existing is not None:
        if existing.seed_url is not None and existing.next_due_at is None:
            existing.next_due_at = now  # a gone ad listed again: watch it again
            return existing
        return None
    row = WatchRow(
        url=found.url,
        seed_url=found.seed,
        found_on=found.found_on,
        found_in_capture_id=capture_id,
        added_at=now,
        next_due_at=now,
    )
    row.plan(found)
    session.add(row)
    session.flush()
    return row


def get(session: Session, url: str) -> WatchRow | None:
    return session.scalars(select(WatchRow).where(WatchRow.url == url)).first()


def mark_captured(
    session: Session, url: str, capture_id: int, run_started: datetime, gone: bool
) -> WatchRow | None:
    """Schedule the next capture from the run's start, so that cron ticks do not drift."""
    row = get(session, url)
    if row is None:
        return None
    row.last_capture_id = capture_id
    row.last_run_at = run_started
    if gone and row.seed_url is not None:
        row.next_due_at = None
    else:
        row.next_due_at = run_started + timedelta(seconds=row.every_s or 0)
    return row
