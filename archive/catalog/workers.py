"""The fleet as the catalog sees it: each worker's heartbeat, and the state of the queue.

A worker writes its row when it starts and at every heartbeat (what it is capturing, how many
captures it sealed); ``fleet_status`` is what ``lastseen status`` and the service's ``/metrics``
show: queue depth by kind, the workers alive, how late scheduled captures start behind their due
time, and failures by site.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from archive.catalog.db import Base, Catalog, UTCDateTime
from archive.catalog.hosts import HostRow
from archive.catalog.queue import DONE, FAILED, KINDS, QUEUED, RUNNING, JobRow, now
from archive.job import DUE
from archive.times import rfc3339_or_none

# A worker not heard of for this long is not counted as alive.
ALIVE_WITHIN = timedelta(seconds=60)
# Captures per minute are counted over this window, lag and failures over the next.
RATE_WINDOW = timedelta(minutes=5)
LAG_WINDOW = timedelta(hours=1)
FAILURE_WINDOW = timedelta(hours=24)


class WorkerRow(Base):
    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    browser: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current: Mapped[list[Any]] = mapped_column(JSON)
    captures: Mapped[int] = mapped_column(Integer, default=0)


def beat(
    catalog: Catalog,
    name: str,
    *,
    host: str,
    pid: int,
    browser: str | None,
    current: list[Any],
    captures: int,
    stopped: bool = False,
) -> None:
    """A worker says it is alive (or, with ``stopped``, that it stopped)."""
    at = now()
    with catalog.session() as s:
        row = s.get(WorkerRow, name)
        if row is None:
            row = WorkerRow(name=name, host=host, pid=pid, browser=browser, started_at=at)
            s.add(row)
        row.seen_at = at
        row.current = current
        row.captures = captures
        row.stopped_at = at if stopped else None


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def fleet_status(catalog: Catalog) -> dict[str, Any]:
    at = now()
    with catalog.session() as s:
        depth = {kind: {QUEUED: 0, RUNNING: 0} for kind in KINDS}
        counted = s.execute(
            select(JobRow.kind, JobRow.status, func.count())
            .where(JobRow.status.in_([QUEUED, RUNNING]))
            .group_by(JobRow.kind, JobRow.status)
        )
        for kind, status, count in counted:
            depth.setdefault(kind, {QUEUED: 0, RUNNING: 0})[status] = count
        rates = dict(
            s.execute(
                select(JobRow.worker, func.count())
                .where(JobRow.status == DONE, JobRow.finished_at > at - RATE_WINDOW)
                .group_by(JobRow.worker)
            ).all()
        )
        alive = s.scalars(
            select(WorkerRow)
            .where(WorkerRow.seen_at > at - ALIVE_WITHIN, WorkerRow.stopped_at.is_(None))
            .order_by(WorkerRow.host, WorkerRow.pid)
        )
        minutes = RATE_WINDOW.total_seconds() / 60
        workers = [
            {
                "name": w.name,
                "host": w.host,
                "pid": w.pid,
                "browser": w.browser,
                "current": w.current,
                "captures": w.captures,
                "captures_per_min": round(rates.get(w.name, 0) / minutes, 2),
                "seen_at": rfc3339_or_none(w.seen_at),
            }
            for w in alive
        ]
        lags = [
            (started - due).total_seconds()
            for started, due in s.execute(
                select(JobRow.started_at, JobRow.due_at).where(
                    JobRow.kind == DUE,
                    JobRow.status == DONE,
                    JobRow.due_at.is_not(None),
                    JobRow.finished_at > at - LAG_WINDOW,
                )
            )
            if started is not None and due is not None
        ]
        failures = dict(
            s.execute(
                select(JobRow.host, func.count())
                .where(JobRow.status == FAILED, JobRow.finished_at > at - FAILURE_WINDOW)
                .group_by(JobRow.host)
            ).all()
        )
        backed_off = {
            h.host: {"until": rfc3339_or_none(h.backoff_until), "reason": h.reason}
            for h in s.scalars(select(HostRow).where(HostRow.backoff_until > at))
        }
    p50, p95 = _percentile(lags, 0.5), _percentile(lags, 0.95)
    return {
        "at": rfc3339_or_none(at),
        "queue": depth,
        "workers": workers,
        "lag_s": {
            "p50": None if p50 is None else round(max(p50, 0.0), 1),
            "p95": None if p95 is None else round(max(p95, 0.0), 1),
            "captures": len(lags),
        },
        "failures": failures,
        "backed_off": backed_off,
    }
