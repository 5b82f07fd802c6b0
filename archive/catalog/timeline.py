"""The liveness time-line of a URL: when it was first seen, last seen live, and gone since.

Every capture of a URL is one observation, classified from what the capture itself recorded
(status, final URL after redirects, network error), so each point of the time-line is backed by
the capture that proves it: "live at 09:00 (capture 12), gone - HTTP 410 - at 10:00 (capture 15)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.capture import OUTCOME_LOGIN_WALL, OUTCOME_TIMEOUT, OUTCOME_UNREACHABLE, Capture
from archive.catalog.db import Base, UTCDateTime
from archive.times import rfc3339

LIVE = "live"
GONE = "gone"
ERROR = "error"  # we could not tell: a timeout, a server error, a refusal to serve us
# We could not see the page: captured with a browser profile that was signed out, the site
# showed its login wall. Never gone: the page may well be there for a signed-in reader.
UNKNOWN = "unknown"

NEW = "new"
UNCHANGED = "unchanged"
CHANGED = "changed"

# HTTP statuses that say the page is no longer there (451: taken down for legal reasons).
GONE_STATUSES = (404, 410, 451)
_LOGIN = re.compile(r"(^|[/_.?=&-])(log-?in|sign-?in|signon|auth|session/new)([/_.?=&-]|$)", re.I)
_DNS_ERRORS = ("ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED")
_UNREACHABLE_ERRORS = (
    "ERR_CONNECTION_REFUSED",
    "ERR_ADDRESS_UNREACHABLE",
    "ERR_INTERNET_DISCONNECTED",
    "ERR_CONNECTION_CLOSED",
    "ERR_EMPTY_RESPONSE",
)


# What each reason means, as the time-line tells a reader.
REASONS = {
    "dns-failure": "the host name no longer resolves (DNS)",
    "unreachable": "the server could not be reached",
    "redirect-home": "redirected to the site's home page",
    "redirect-login": "redirected to a login page",
    "timeout": "no answer within the time limit",
    "network-error": "network error",
    "login-wall": "a login wall: the browser profile was signed out, the page could not be seen",
}


def explain(reason: str | None) -> str:
    if reason and reason.startswith("http-"):
        return f"HTTP {reason[5:]}"
    return REASONS.get(reason or "", reason or "")


class ObservationRow(Base):
    """One capture of a URL, as a point of that URL's time-line."""

    __tablename__ = "observations"
    # By hash on PostgreSQL: a long URL fits no btree entry (migration 0004).
    __table_args__ = (Index("ix_observations_url", "url", postgresql_using="hash"),)

    capture_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    url: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    http_status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    change: Mapped[str | None] = mapped_column(String(10))
    # The capture of this URL just before this one, and the live capture it was compared to.
    previous_capture_id: Mapped[int | None] = mapped_column(Integer)
    baseline_capture_id: Mapped[int | None] = mapped_column(Integer)
    # The diff's metadata record in this capture's WARC: record_id, offset, added, removed.
    diff: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def verdict_of(session: Session, capture_id: int) -> dict[str, Any]:
    """What a capture says of its URL, as a scheduled capture is booked and reported: its state,
    why, its change and diff, the capture before it (all None without an observation)."""
    obs = session.get(ObservationRow, capture_id)
    return {
        "state": obs.state if obs else None,
        "reason": obs.reason if obs else None,
        "change": obs.change if obs else None,
        "previous_capture_id": obs.previous_capture_id if obs else None,
        "diff": obs.diff if obs else None,
    }


@dataclass(frozen=True)
class Liveness:
    state: str
    reason: str | None


def _is_home(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def classify(capture: Capture) -> Liveness:
    """Live, gone (and why) or error, from what the capture recorded."""
    error = capture.error or ""
    if capture.outcome == OUTCOME_LOGIN_WALL:
        return Liveness(UNKNOWN, "login-wall")
    if capture.outcome == OUTCOME_TIMEOUT:
        return Liveness(ERROR, "timeout")
    if capture.outcome == OUTCOME_UNREACHABLE or capture.http_status is None:
        if any(code in error for code in _DNS_ERRORS):
            return Liveness(GONE, "dns-failure")
        if any(code in error for code in _UNREACHABLE_ERRORS):
            return Liveness(GONE, "unreachable")
        return Liveness(ERROR, "network-error")
    status = capture.http_status
    if status in GONE_STATUSES:
        return Liveness(GONE, f"http-{status}")
    if status >= 400:
        return Liveness(ERROR, f"http-{status}")
    final = capture.final_url or capture.requested_url
    if final != capture.requested_url:
        if _is_home(final) and not _is_home(capture.requested_url):
            return Liveness(GONE, "redirect-home")
        target = urlsplit(final)
        if _LOGIN.search(target.path + ("?" + target.query if target.query else "")):
            return Liveness(GONE, "redirect-login")
    return Liveness(LIVE, None)


def last_live(session: Session, url: str) -> ObservationRow | None:
    query = (
        select(ObservationRow)
        .where(ObservationRow.url == url, ObservationRow.state == LIVE)
        .order_by(ObservationRow.observed_at.desc(), ObservationRow.capture_id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def last_observation(session: Session, url: str) -> ObservationRow | None:
    query = (
        select(ObservationRow)
        .where(ObservationRow.url == url)
        .order_by(ObservationRow.observed_at.desc(), ObservationRow.capture_id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def observations(session: Session, url: str) -> list[ObservationRow]:
    query = (
        select(ObservationRow)
        .where(ObservationRow.url == url)
        .order_by(ObservationRow.observed_at, ObservationRow.capture_id)
    )
    return list(session.scalars(query))


def _point(obs: ObservationRow | None) -> dict[str, Any] | None:
    if obs is None:
        return None
    return {
        "at": rfc3339(obs.observed_at),
        "capture_id": obs.capture_id,
        "http_status": obs.http_status,
        "reason": obs.reason,
    }


def observation_summary(obs: ObservationRow) -> dict[str, Any]:
    return {
        "capture_id": obs.capture_id,
        "at": rfc3339(obs.observed_at),
        "state": obs.state,
        "reason": obs.reason,
        "http_status": obs.http_status,
        "final_url": obs.final_url,
        "change": obs.change,
        "previous_capture_id": obs.previous_capture_id,
        "compared_to_capture_id": obs.baseline_capture_id,
        "diff": obs.diff,
    }


def summarise(url: str, points: list[ObservationRow]) -> dict[str, Any]:
    """First seen, last seen live, gone since: each with the capture that proves it."""
    live = [p for p in points if p.state == LIVE]
    last = points[-1] if points else None
    # The first "gone" after the last live observation: a later timeout does not undo it.
    after = [p for p in points if not live or p.observed_at > live[-1].observed_at]
    gone_since = next((p for p in after if p.state == GONE), None)
    return {
        "url": url,
        "state": last.state if last else None,
        "first_seen": _point(live[0] if live else None),
        "last_seen_live": _point(live[-1] if live else None),
        "gone_since": _point(gone_since),
        "last_checked": _point(last),
        "captures": len(points),
        "changes": sum(1 for p in points if p.change == CHANGED),
    }


def timeline(session: Session, url: str) -> dict[str, Any]:
    points = observations(session, url)
    summary = summarise(url, points)
    summary["observations"] = [observation_summary(p) for p in points]
    return summary


def gone(session: Session, case_id: str | None = None) -> list[dict[str, Any]]:
    """Every URL whose latest observation says it is gone, with its last good capture."""
    latest = select(
        ObservationRow.url.label("url"), func.max(ObservationRow.observed_at).label("at")
    ).group_by(ObservationRow.url)
    if case_id is not None:
        latest = latest.where(ObservationRow.case_id == case_id)
    sub = latest.subquery()
    query = (
        select(ObservationRow)
        .join(sub, (ObservationRow.url == sub.c.url) & (ObservationRow.observed_at == sub.c.at))
        .where(ObservationRow.state == GONE)
        .order_by(ObservationRow.observed_at, ObservationRow.url)
    )
    out = []
    for row in session.scalars(query):
        summary = summarise(row.url, observations(session, row.url))
        summary["case"] = row.case_id
        out.append(summary)
    return out
