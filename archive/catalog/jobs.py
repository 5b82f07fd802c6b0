"""The capture jobs of the fleet's queue: the table and how a job is added to it.

Apart from the queue (``archive.catalog.queue``: claims, leases, booking), so that an on-demand
report (``archive.catalog.requests``) can queue its job in its own transaction while the queue
keeps the report's status in step with its job's, without the two modules importing each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog import hosts
from archive.catalog.db import Base, Catalog, UTCDateTime
from archive.job import DUE, FOUND, REQUESTED, Job, PrintOf

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
PENDING = (QUEUED, RUNNING)
KINDS = (REQUESTED, FOUND, DUE)  # in priority order: on-demand first
PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}
CHANNEL = "lastseen_jobs"
MAX_ATTEMPTS = 3


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    job: Mapped[dict[str, Any]] = mapped_column(JSON)
    report_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=MAX_ATTEMPTS)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once its page is closed: the capture is being sealed, the site's place is free.
    page_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
    capture_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)

    def to_job(self) -> Job:
        return job_from_dict(self.job)


def now() -> datetime:
    return datetime.now(UTC)


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def job_key(url: str, profile: str | None) -> str:
    """What "one pending job per URL" counts (the ``url_hash`` column): the URL, and the profile
    a job is captured signed in with. A signed-in capture shows what an anonymous one does not,
    so a report with a profile is never answered by the scheduled, anonymous job of its URL."""
    return url_hash(url if not profile else f"{url}\nprofile:{profile}")


def job_to_dict(job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(job):
        value = getattr(job, f.name)
        if f.name == "line":
            continue
        if isinstance(value, PrintOf):
            value = {"capture_id": value.capture_id, "dom_sha256": value.dom_sha256}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def job_from_dict(data: dict[str, Any]) -> Job:
    known = {f.name: f for f in fields(Job)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            continue  # a field a newer lastseen wrote: this one does not use it
        if name == "print_of" and value is not None:
            value = PrintOf(int(value["capture_id"]), str(value["dom_sha256"]))
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return Job(**kwargs)


def _notify(catalog: Catalog, session: Session) -> None:
    """Wake the idle workers once this transaction commits."""
    if catalog.is_postgresql:
        session.execute(text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})


def _insert(catalog: Catalog) -> Any:
    return pg_insert if catalog.is_postgresql else sqlite_insert


def add(
    catalog: Catalog,
    session: Session,
    job: Job,
    *,
    due_at: datetime | None = None,
    report_id: int | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> int | None:
    """Queue a job in the caller's transaction; None if its URL has a job queued or running."""
    at = now()
    values = {
        "kind": job.reason,
        "priority": PRIORITY.get(job.reason, len(KINDS)),
        "url": job.url,
        "url_hash": job_key(job.url, job.profile),
        "host": hosts.site_of(job.url),
        "job": job_to_dict(job),
        "report_id": report_id,
        "status": QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts,
        "enqueued_at": at,
        "due_at": due_at,
        "run_after": at,
    }
    statement = (
        _insert(catalog)(JobRow)
        .values(**values)
        # The partial index's own predicate, as literal text, for PostgreSQL to match it.
        .on_conflict_do_nothing(
            index_elements=["url_hash"], index_where=text("status IN ('queued', 'running')")
        )
        .returning(JobRow.id)
    )
    job_id = session.execute(statement).scalar()
    if job_id is None:
        # Queued already: a report for a URL waiting as a scheduled capture moves it forward.
        session.execute(
            update(JobRow)
            .where(
                JobRow.url_hash == values["url_hash"],
                JobRow.status.in_(PENDING),
                JobRow.priority > values["priority"],
            )
            .values(priority=values["priority"])
        )
        if report_id is not None:
            session.execute(
                update(JobRow)
                .where(JobRow.url_hash == values["url_hash"], JobRow.status.in_(PENDING))
                .where(JobRow.report_id.is_(None))
                .values(report_id=report_id)
            )
    _notify(catalog, session)
    return job_id


def pending_report(session: Session, job: Job) -> int | None:
    """The report the pending job of the job's URL (and profile) answers, if any."""
    return session.scalar(
        select(JobRow.report_id).where(
            JobRow.url_hash == job_key(job.url, job.profile), JobRow.status.in_(PENDING)
        )
    )


def enqueue(catalog: Catalog, jobs: Iterable[Job], **kwargs: Any) -> list[int]:
    """Queue jobs (each in its own right: a URL already queued or running is left out)."""
    with catalog.session() as s:
        return [i for job in jobs if (i := add(catalog, s, job, **kwargs)) is not None]
