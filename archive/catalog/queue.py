"""The queue of capture jobs that every worker of a fleet takes from (PostgreSQL).

One row per capture to make: a due watch entry, a link a follow rule found, an on-demand report.
On-demand jobs come first, then found links, then scheduled recaptures; within a priority, the
oldest first. A worker claims a job with ``FOR UPDATE SKIP LOCKED`` (workers skip each other's
rows instead of queueing on them), keeps it with a lease it renews, and finishes it in the same
transaction that books the capture on the watch list. A job whose lease ran out (its worker died)
is queued again after a backoff, and given up after ``max_attempts`` with the reason kept. The
on-demand request a job answers follows it in the same transactions: ``running`` while a worker
holds the job, ``queued`` again, ``failed`` when the job is given up.

Politeness holds for the fleet, not per process: a job is claimed only while fewer than
``per_host`` jobs of its site run anywhere, and not before the site's ``next_at`` (``--delay``)
or ``backoff_until`` (the site refused: 429, 503). Claims of one site are serialised by a
transaction-level advisory lock on the site's name, so two workers cannot both take its last
place.

Every change a worker may wait for (a job queued, a place freed) is announced with
``NOTIFY lastseen_jobs``: idle workers ``LISTEN`` and sleep until then, or until the next time
something queued becomes claimable (``next_wake``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from archive.catalog import hosts, watchlist
from archive.catalog import requests as capture_requests
from archive.catalog.db import Base, CaptureRow, Catalog, UTCDateTime
from archive.catalog.hosts import HostRow, Politeness
from archive.catalog.timeline import GONE, verdict_of
from archive.job import DUE, FOUND, REQUESTED, Job, PrintOf
from archive.times import rfc3339_or_none

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
PENDING = (QUEUED, RUNNING)
KINDS = (REQUESTED, FOUND, DUE)  # in priority order: on-demand first
PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}
CHANNEL = "lastseen_jobs"
MAX_ATTEMPTS = 3
# Advisory lock key of the schedule (enqueueing due entries, booking captures).
_SCHEDULE_KEY = 0x1A57_5EE6


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
        "url_hash": url_hash(job.url),
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


def enqueue(catalog: Catalog, jobs: Iterable[Job], **kwargs: Any) -> list[int]:
    """Queue jobs (each in its own right: a URL already queued or running is left out)."""
    with catalog.session() as s:
        return [i for job in jobs if (i := add(catalog, s, job, **kwargs)) is not None]


def lock_schedule(catalog: Catalog, session: Session) -> None:
    """Serialise enqueueing due entries with booking captures on the watch list, fleet-wide:
    a scheduler never sees an entry as due after its job was booked but before it was done."""
    if catalog.is_postgresql:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEDULE_KEY})


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5.0 * 2 ** max(attempts - 1, 0), 300.0))


def _reap(session: Session, at: datetime) -> None:
    """Jobs whose worker stopped renewing their lease: queued again after a backoff, or given
    up after their last attempt."""
    stale = session.scalars(
        select(JobRow)
        .where(JobRow.status == RUNNING, JobRow.lease_until < at)
        .with_for_update(skip_locked=True)
    )
    for row in stale:
        reason = f"worker {row.worker} stopped during attempt {row.attempts} (lease ran out)"
        _retry(session, row, reason, at)


def _retry(session: Session, row: JobRow, reason: str, at: datetime) -> None:
    row.lease_until = None
    row.error = reason
    if row.attempts >= row.max_attempts:
        row.status = FAILED
        row.finished_at = at
        row.error = f"gave up after {row.attempts} attempts: {reason}"
        if row.report_id is not None:
            capture_requests.job_given_up(session, row.report_id, row.error)
    else:
        row.status = QUEUED
        row.run_after = at + _backoff(row.attempts)
        if row.report_id is not None:
            capture_requests.job_requeued(session, [row.report_id])


def _running_on(session: Session, host: str) -> int:
    query = select(func.count()).where(
        JobRow.host == host, JobRow.status == RUNNING, JobRow.page_closed_at.is_(None)
    )
    return int(session.execute(query).scalar_one())


def claim(
    catalog: Catalog, worker: str, lease: float, polite: Politeness, skip: Sequence[int] = ()
) -> JobRow | None:
    """Take the first claimable job: by priority, then age, on a site with a free place."""
    with catalog.session() as s:
        at = now()
        _reap(s, at)
        blocked = select(HostRow.host).where((HostRow.next_at > at) | (HostRow.backoff_until > at))
        tried: set[str] = set()
        for _ in range(8):
            query = (
                select(JobRow)
                .where(JobRow.status == QUEUED, JobRow.run_after <= at)
                .where(JobRow.host.not_in(blocked))
                .order_by(JobRow.priority, JobRow.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if tried:
                query = query.where(JobRow.host.not_in(tried))
            if polite.per_host > 0:
                other = aliased(JobRow)
                running = (
                    select(func.count())
                    .where(
                        other.host == JobRow.host,
                        other.status == RUNNING,
                        other.page_closed_at.is_(None),
                    )
                    .correlate(JobRow)
                    .scalar_subquery()
                )
                query = query.where(running < polite.per_host)
            row = s.scalars(query).first()
            if row is None:
                return None
            # Another worker may be taking the site's last place right now: wait for it, count.
            hosts.lock(catalog, s, row.host)
            site = s.get(HostRow, row.host, with_for_update=True, populate_existing=True)
            busy = polite.per_host > 0 and _running_on(s, row.host) >= polite.per_host
            waiting = site is not None and any(
                t is not None and t > at for t in (site.next_at, site.backoff_until)
            )
            if busy or waiting:
                tried.add(row.host)
                continue
            if polite.delay > 0:
                if site is None:
                    site = HostRow(host=row.host, refusals=0)
                    s.add(site)
                site.next_at = at + timedelta(seconds=polite.delay)
            row.status = RUNNING
            row.page_closed_at = None
            row.worker = worker
            row.attempts = row.attempts + 1
            row.started_at = at
            row.lease_until = at + timedelta(seconds=lease)
            row.error = None
            if row.report_id is not None:
                capture_requests.job_claimed(s, row.report_id, worker, row.attempts, at)
            return row
        return None


def next_wake(catalog: Catalog) -> datetime | None:
    """When something queued may next become claimable without a notification: a backoff or a
    delay runs out, or a lease does (its worker died)."""
    at = now()
    with catalog.session() as s:
        times = [
            s.scalar(
                select(func.min(JobRow.run_after)).where(
                    JobRow.status == QUEUED, JobRow.run_after > at
                )
            ),
            s.scalar(select(func.min(JobRow.lease_until)).where(JobRow.status == RUNNING)),
            s.scalar(select(func.min(HostRow.next_at)).where(HostRow.next_at > at)),
            s.scalar(select(func.min(HostRow.backoff_until)).where(HostRow.backoff_until > at)),
        ]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def renew(catalog: Catalog, job_ids: Iterable[int], worker: str, lease: float) -> None:
    ids = list(job_ids)
    if not ids:
        return
    with catalog.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id.in_(ids), JobRow.worker == worker, JobRow.status == RUNNING)
            .values(lease_until=now() + timedelta(seconds=lease))
        )


def page_closed(catalog: Catalog, job_id: int) -> None:
    """The job's page is closed (its capture is being sealed): its site's place is free."""
    with catalog.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status == RUNNING)
            .values(page_closed_at=now())
        )
        _notify(catalog, s)


def release(catalog: Catalog, job_ids: Iterable[int], worker: str) -> None:
    """Hand back jobs a stopping worker claimed but did not capture (no attempt used)."""
    ids = list(job_ids)
    if not ids:
        return
    with catalog.session() as s:
        reports = s.scalars(
            update(JobRow)
            .where(JobRow.id.in_(ids), JobRow.worker == worker, JobRow.status == RUNNING)
            .values(status=QUEUED, lease_until=None, attempts=JobRow.attempts - 1)
            .returning(JobRow.report_id)
        )
        capture_requests.job_requeued(s, [r for r in reports if r is not None])
        _notify(catalog, s)


def complete(catalog: Catalog, job_id: int, capture_id: int) -> dict[str, Any] | None:
    """The job's capture is sealed: the job is done and, for a watched URL, booked on the watch
    list (when it is due next), for a report the report answered, in the same transaction (a
    job that ran twice is booked, and its report linked to the capture, once). Returns the watch
    verdict, if any."""
    with catalog.session() as s:
        lock_schedule(catalog, s)
        # Before the job's row: a report being submitted holds it while it updates its URL's
        # pending job (requests.submit), and the report's links are custody entries.
        catalog.lock_custody(s)
        row = s.get(JobRow, job_id, with_for_update=True)
        if row is None or row.status == DONE:  # done already: the job ran twice
            return None
        at = now()
        http_status = s.scalar(select(CaptureRow.http_status).where(CaptureRow.id == capture_id))
        row.status = DONE
        row.capture_id = capture_id
        row.finished_at = at
        row.lease_until = None
        row.error = None
        hosts.answered(s, row.host, http_status, at)
        if row.report_id is not None:
            capture_requests.answer(catalog, s, row.report_id, capture_id)
        verdict: dict[str, Any] | None = None
        if row.kind in (DUE, FOUND):
            verdict = verdict_of(s, capture_id)
            booked = watchlist.mark_captured(
                s, row.url, capture_id, row.due_at or row.enqueued_at, gone=verdict["state"] == GONE
            )
            verdict["next_due_at"] = rfc3339_or_none(booked.next_due_at) if booked else None
        _notify(catalog, s)
        return verdict


def fail(catalog: Catalog, job_id: int, reason: str) -> None:
    """No capture could be sealed: try again after a backoff, or give up, keeping the reason."""
    with catalog.session() as s:
        row = s.get(JobRow, job_id, with_for_update=True)
        if row is not None and row.status == RUNNING:
            _retry(s, row, reason, now())
        _notify(catalog, s)


def discovered(
    catalog: Catalog, parent: Job, links: list[tuple[str, str]], capture_id: int
) -> list[int]:
    """Watch the new links a follow rule matched on a captured page, and queue their capture."""
    ids = []
    with catalog.session() as s:
        lock_schedule(catalog, s)
        parent_row = watchlist.get(s, parent.url)
        if parent_row is None:
            return []
        watched = parent_row.job()
        for link, rule in links:
            row = watchlist.discover(s, watched.found(link, rule), capture_id=capture_id, now=now())
            if row is None:
                continue
            job = replace(row.job(), reason=FOUND, rule=rule)
            job_id = add(catalog, s, job, due_at=row.next_due_at)
            if job_id is not None:
                ids.append(job_id)
    return ids
