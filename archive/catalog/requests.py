"""Capture requests: URLs reported to the on-demand service, waiting for or linked to a capture.

A capture request is a row in the catalog, so an accepted request survives a restart of the
service and any worker sharing the catalog can take it. A worker claims a request by setting it
``running`` with a lease it keeps renewing; a request whose lease ran out (its worker died) is
claimed again.

On a shared (PostgreSQL) catalog a request is a job of the fleet's queue instead
(``archive.catalog.queue``), and the request shows what its job does: ``running`` from the claim
of the job, ``queued`` again when the job goes back to the queue, ``failed`` when it is given up.

The same URL reported again while it is queued or running, or soon after it was captured, is not
captured twice: the new request is linked to the first one and shares its capture. Every request
is in the custody log twice: when it is accepted (``request``, by the reporter) and when it is
linked to the capture that answers it (``report``, by the reporter, under that capture).

Requests were called reports before; the table (``reports``), the custody action ``report`` and
the ``report`` key of custody details keep that name, as catalogs and custody logs already
recorded hold it (and the custody chain hashes it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog import custody, jobs
from archive.catalog.db import Base, Catalog, UTCDateTime
from archive.job import Job
from archive.times import rfc3339_or_none

QUEUED = "queued"
RUNNING = "running"
STORED = "stored"
FAILED = "failed"
REFUSED = "refused"
STATUSES = (QUEUED, RUNNING, STORED, FAILED, REFUSED)

# Custody actions written here.
REQUEST = "request"  # a request was accepted (or refused): who asked for what, when
LINK = "report"  # a request was linked to the capture that answers it
REFUSE = "refuse"  # a request was refused (the URL points into a private network)

# A request whose worker died this many times while capturing it is given up as failed.
MAX_ATTEMPTS = 3


class RequestRow(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The request whose capture answers this one (a duplicate request); None for a primary one.
    linked_to: Mapped[int | None] = mapped_column(Integer, index=True)
    capture_id: Mapped[int | None] = mapped_column(Integer, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # The browser profile to capture signed in with (migration 0006_report_profiles).
    profile: Mapped[str | None] = mapped_column(String(64))


def _now() -> datetime:
    return datetime.now(UTC)


def request_summary(row: RequestRow) -> dict[str, Any]:
    """A capture request as the API shows it (the capture's own fields are added by the caller)."""
    return {
        "id": row.id,
        "status": row.status,
        "url": row.url,
        "case": row.case_id,
        "note": row.note,
        "reporter": row.reporter,
        "requested_at": rfc3339_or_none(row.requested_at),
        "started_at": rfc3339_or_none(row.started_at),
        "finished_at": rfc3339_or_none(row.finished_at),
        "linked_to": row.linked_to,
        "capture_id": row.capture_id,
        "error": row.error,
        "profile": row.profile,
    }


def _link_entry(catalog: Catalog, session: Session, row: RequestRow, capture_id: int) -> None:
    custody.append(
        catalog,
        session,
        actor=row.reporter,
        action=LINK,
        capture_id=capture_id,
        details={
            "report": row.id,
            "url": row.url,
            "case": row.case_id,
            "note": row.note,
            "requested_at": rfc3339_or_none(row.requested_at),
            "linked_to": row.linked_to,
        },
    )


def _answering(session: Session, url: str, recent: datetime) -> RequestRow | None:
    """The primary request for this URL whose capture is pending or was sealed since ``recent``."""
    return session.scalars(
        select(RequestRow)
        .where(
            RequestRow.url == url,
            RequestRow.linked_to.is_(None),
            RequestRow.profile.is_(None),
            or_(
                RequestRow.status.in_([QUEUED, RUNNING]),
                (RequestRow.status == STORED) & (RequestRow.finished_at >= recent),
            ),
        )
        .order_by(RequestRow.id.desc())
        .limit(1)
    ).first()


def submit(
    catalog: Catalog,
    *,
    url: str,
    reporter: str,
    case_id: str | None = None,
    note: str | None = None,
    dedup_seconds: float = 0,
    refused: str | None = None,
    via: str = "api",
    profile: str | None = None,
) -> RequestRow:
    """Accept a capture request (queued, or linked to the same URL's pending or recent capture).

    With ``refused`` (why), the request is recorded as refused and never captured.
    """
    now = _now()
    with catalog.session() as s:
        # Serialises submissions with each other (PostgreSQL; SQLite holds its write lock
        # already), so that two requests for one URL arriving together cannot both be primary.
        catalog.lock_custody(s)
        primary = None
        # A capture signed in shows what an anonymous one does not (and the reverse): a request
        # with a profile is never answered by another capture.
        if refused is None and dedup_seconds > 0 and profile is None:
            primary = _answering(s, url, now - timedelta(seconds=dedup_seconds))
        row = RequestRow(
            url=url,
            case_id=case_id,
            note=note,
            reporter=reporter,
            status=REFUSED if refused else (primary.status if primary else QUEUED),
            requested_at=now,
            attempts=0,
            linked_to=primary.id if primary else None,
            capture_id=primary.capture_id if primary else None,
            finished_at=now if refused else (primary.finished_at if primary else None),
            error=refused,
            profile=profile,
        )
        s.add(row)
        s.flush()
        if catalog.is_postgresql and row.status == QUEUED and primary is None:
            # Shared catalog: a job of the fleet's queue, ahead of scheduled captures; the
            # worker that seals it answers this request (spiders/fleet.py). Its URL may have a
            # job pending already: one answering no report takes this one on (jobs.add); one
            # answering another report answers this one too, as a linked request.
            job = Job(url=url, case=case_id, note=note, profile=profile)
            if jobs.add(catalog, s, job, report_id=row.id) is None:
                answering = jobs.pending_report(s, job)
                other = s.get(RequestRow, answering) if answering not in (None, row.id) else None
                if other is not None and other.status in (QUEUED, RUNNING):
                    primary = other
                    row.linked_to = other.id
                    row.status = other.status
        details: dict[str, Any] = {
            "report": row.id,
            "url": url,
            "case": case_id,
            "note": note,
            "via": via,
        }
        if profile:
            details["profile"] = profile
        if primary is not None:
            details["linked_to"] = primary.id
        if refused:
            details["reason"] = refused
        custody.append(
            catalog, s, actor=reporter, action=REFUSE if refused else REQUEST, details=details
        )
        if row.capture_id is not None:
            _link_entry(catalog, s, row, row.capture_id)
        return row


def claim(catalog: Catalog, worker: str, lease_seconds: float) -> RequestRow | None:
    """Take the oldest request waiting for a capture (or abandoned by a dead worker), if any."""
    while True:
        now = _now()
        with catalog.session() as s:
            row = s.scalars(
                select(RequestRow)
                .where(
                    RequestRow.linked_to.is_(None),
                    or_(
                        RequestRow.status == QUEUED,
                        (RequestRow.status == RUNNING) & (RequestRow.lease_until < now),
                    ),
                )
                .order_by(RequestRow.id)
                .limit(1)
                # PostgreSQL: workers skip each other's rows instead of queueing on them.
                # SQLite ignores it; its BEGIN IMMEDIATE already makes the claim exclusive.
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            if row.attempts >= MAX_ATTEMPTS:
                _finish(
                    s,
                    row,
                    FAILED,
                    error=f"gave up after {row.attempts} attempts (the worker stopped each time)",
                )
                continue
            row.status = RUNNING
            row.worker = worker
            row.attempts = row.attempts + 1
            row.started_at = now
            row.lease_until = now + timedelta(seconds=lease_seconds)
            _set_linked(s, [row.id], QUEUED, RUNNING)
            return row


def renew(catalog: Catalog, request_ids: Iterable[int], worker: str, lease_seconds: float) -> None:
    """Keep the leases of the requests this worker is still capturing."""
    ids = list(request_ids)
    if not ids:
        return
    with catalog.session() as s:
        s.execute(
            update(RequestRow)
            .where(
                RequestRow.id.in_(ids), RequestRow.worker == worker, RequestRow.status == RUNNING
            )
            .values(lease_until=_now() + timedelta(seconds=lease_seconds))
        )


def release(catalog: Catalog, request_ids: Iterable[int], worker: str) -> None:
    """Put back requests a stopping worker did not capture, for the next worker to take."""
    ids = list(request_ids)
    if not ids:
        return
    with catalog.session() as s:
        s.execute(
            update(RequestRow)
            .where(
                RequestRow.id.in_(ids), RequestRow.worker == worker, RequestRow.status == RUNNING
            )
            .values(status=QUEUED, lease_until=None, attempts=RequestRow.attempts - 1)
        )
        _set_linked(s, ids, RUNNING, QUEUED)


def job_claimed(
    session: Session, request_id: int, worker: str, attempts: int, at: datetime
) -> None:
    """The fleet's job capturing this request was claimed (in the claim's transaction)."""
    row = session.get(RequestRow, request_id, with_for_update=True)
    if row is None or row.status not in (QUEUED, RUNNING):
        return
    # No lease of its own: the job's lease is the one a worker renews and the queue reaps.
    row.status = RUNNING
    row.worker = worker
    row.attempts = attempts
    row.started_at = at
    _set_linked(session, [row.id], QUEUED, RUNNING)


def job_requeued(session: Session, request_ids: list[int]) -> None:
    """The jobs capturing these requests are back in the queue (handed back, or to try again)."""
    if not request_ids:
        return
    session.execute(
        update(RequestRow)
        .where(RequestRow.id.in_(request_ids), RequestRow.status == RUNNING)
        .values(status=QUEUED)
    )
    _set_linked(session, request_ids, RUNNING, QUEUED)


def job_given_up(session: Session, request_id: int, error: str) -> None:
    """The job capturing this request was given up: the request failed, for the same reason."""
    row = session.get(RequestRow, request_id, with_for_update=True)
    if row is not None and row.status in (QUEUED, RUNNING):
        _finish(session, row, FAILED, error=error)


def _set_linked(session: Session, request_ids: list[int], old: str, new: str) -> None:
    """Requests linked to these ones show the same status while they wait."""
    session.execute(
        update(RequestRow)
        .where(RequestRow.linked_to.in_(request_ids), RequestRow.status == old)
        .values(status=new)
    )


def _finish(
    session: Session,
    row: RequestRow,
    status: str,
    capture_id: int | None = None,
    error: str | None = None,
) -> list[RequestRow]:
    now = _now()
    linked = list(session.scalars(select(RequestRow).where(RequestRow.linked_to == row.id)))
    for r in (row, *linked):
        r.status = status
        r.capture_id = capture_id
        r.error = error
        r.finished_at = now
        r.lease_until = None
    return [row, *linked]


def complete(catalog: Catalog, request_id: int, capture_id: int) -> None:
    """The capture answering a request is sealed: link it and its duplicates to it."""
    with catalog.session() as s:
        answer(catalog, s, request_id, capture_id)


def answer(catalog: Catalog, session: Session, request_id: int, capture_id: int) -> None:
    """``complete`` in the caller's transaction (the fleet's, booking the request's job)."""
    row = session.get(RequestRow, request_id)
    if row is None:
        return
    for r in _finish(session, row, STORED, capture_id=capture_id):
        _link_entry(catalog, session, r, capture_id)


def fail(catalog: Catalog, request_id: int, error: str) -> None:
    """No capture could be sealed for a request (the failure is kept with the request)."""
    with catalog.session() as s:
        row = s.get(RequestRow, request_id)
        if row is not None:
            _finish(s, row, FAILED, error=error)


def get(catalog: Catalog, request_id: int) -> RequestRow | None:
    with catalog.session() as s:
        return s.get(RequestRow, request_id)


def listing(catalog: Catalog, case_id: str | None = None, limit: int = 500) -> list[RequestRow]:
    """Capture requests, newest first."""
    query = select(RequestRow).order_by(RequestRow.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(RequestRow.case_id == case_id)
    with catalog.session() as s:
        return list(s.scalars(query))
