"""Identifiers investigators watch for, and the alerts already raised (each raised once).

A capture raises an alert for an identifier on the watch list (``lastseen watchlist add``) or,
when asked for, for one already seen in another case. The alert is raised once per identifier
and case: the first capture of a case that shows it; later captures of that case do not repeat it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base, UTCDateTime
from archive.times import rfc3339_or_none

WATCHED = "watch-list"
KNOWN = "seen-in-another-case"


class WatchedIdentifier(Base):
    __tablename__ = "watched_identifiers"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(300), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "value": self.value,
            "note": self.note,
            "added_by": self.added_by,
            "added_at": rfc3339_or_none(self.added_at),
        }


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("kind", "value", "case_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(300))
    # The capture's case, "" for none (a unique constraint treats NULLs as all different).
    case_key: Mapped[str] = mapped_column(String(200))
    capture_id: Mapped[int] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(30))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def watched(session: Session, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (kind, value) pairs are on the watch list: by value, whatever the kind
    (a watched number is found as a phone number, a WhatsApp or a Signal link alike)."""
    values = sorted({v for _, v in pairs})
    if not values:
        return set()
    query = select(WatchedIdentifier.value).where(WatchedIdentifier.value.in_(values))
    on_list = set(session.scalars(query))
    return {p for p in pairs if p[1] in on_list}


def raise_once(
    session: Session,
    kind: str,
    value: str,
    case_id: str | None,
    capture_id: int,
    reason: str,
    at: datetime,
) -> bool:
    """Record the alert; False when this identifier already raised one in this case."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(AlertRow)
        .values(
            kind=kind,
            value=value,
            case_key=case_id or "",
            capture_id=capture_id,
            reason=reason,
            raised_at=at,
        )
        .on_conflict_do_nothing()
        .returning(AlertRow.id)
    )
    # RETURNING, not rowcount: psycopg counts a row skipped by ON CONFLICT as inserted.
    return session.execute(statement).first() is not None
