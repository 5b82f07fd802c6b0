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

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, aliased

from archive.catalog import hosts, watchlist
from archive.catalog import requests as capture_requests
from archive.catalog.db import CaptureRow, Catalog
from archive.catalog.hosts import HostRow, Politeness
from archive.catalog.jobs import (
    CHANNEL as CHANNEL,
)
from archive.catalog.jobs import (
    DONE as DONE,
)
from archive.catalog.jobs import (
    FAILED as FAILED,
)
from archive.catalog.jobs import (
    KINDS as KINDS,
)
from archive.catalog.jobs import (
    MAX_ATTEMPTS as MAX_ATTEMPTS,
)
from archive.catalog.jobs import (
    PENDING as PENDING,
)
from archive.catalog.jobs import (
    PRIORITY as PRIORITY,
)
from archive.catalog.jobs import (
    QUEUED as QUEUED,
)
from archive.catalog.jobs import (
    RUNNING as RUNNING,
)
from archive.catalog.jobs import (
    JobRow as JobRow,
)
from archive.catalog.jobs import (
    _insert as _insert,
)
from archive.catalog.jobs import (
    _notify as _notify,
)
from archive.catalog.jobs import (
    add as add,
)
from archive.catalog.jobs import (
    enqueue as enqueue,
)
from archive.catalog.jobs import (
    job_from_dict as job_from_dict,
)
from archive.catalog.jobs import (
    job_to_dict as job_to_dict,
)
from archive.catalog.jobs import (
    now as now,
)
from archive.catalog.jobs import (
    url_hash as url_hash,
)
from archive.catalog.timeline import GONE, verdict_of
from archive.job import DUE, FOUND, Job
from archive.times import rfc3339_or_none

# Advisory lock key of the schedule (enqueueing due entries, booking captures).
_SCHEDULE_KEY = 0x1A57_5EE6


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
