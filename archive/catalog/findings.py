"""Identifiers found in captures (derived data), indexed for exact search and for links.

One row per identifier per record position: kind and normalised value (what searches compare),
and its provenance, the record it came from (WARC-Record-ID, the record's payload SHA-256, the
WARC file holding those bytes), where in the payload (byte offset), the raw text and a snippet.
A capture whose page or photo was stored as a revisit points to the first capture's record,
which holds the bytes. ``derived`` says which captures were read, and by which extractor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, delete, select, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog import photohashes
from archive.catalog.db import Base, CaptureRow, UTCDateTime
from archive.catalog.photohashes import PhotoRow
from archive.times import rfc3339_or_none


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_value_kind", "value", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(300))
    record_id: Mapped[str] = mapped_column(String(100), index=True)
    record_sha256: Mapped[str] = mapped_column(String(64))
    warc_name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))  # "dom" (rendered) or "html" (as served)
    target_uri: Mapped[str] = mapped_column(Text)
    offset: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "kind": self.kind,
            "value": self.value,
            "raw": self.raw,
            "context": self.context,
            "source": self.source,
            "record_id": self.record_id,
            "record_sha256": self.record_sha256,
            "warc": self.warc_name,
            "target_uri": self.target_uri,
            "offset": self.offset,
        }


class DerivedRow(Base):
    """A capture whose records were read for identifiers and photos."""

    __tablename__ = "derived"

    capture_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    derived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    extractor: Mapped[str] = mapped_column(String(50))
    findings: Mapped[int] = mapped_column(Integer)
    photos: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column()


def forget(session: Session, capture_ids: Sequence[int]) -> None:
    """Drop what was derived from these captures (before deriving it again)."""
    for start in range(0, len(capture_ids), 500):
        chunk = list(capture_ids[start : start + 500])
        session.execute(delete(FindingRow).where(FindingRow.capture_id.in_(chunk)))
        photohashes.unindex(session, chunk)
        session.execute(delete(PhotoRow).where(PhotoRow.capture_id.in_(chunk)))
        session.execute(delete(DerivedRow).where(DerivedRow.capture_id.in_(chunk)))


def of_records(session: Session, record_ids: Iterable[str]) -> list[FindingRow]:
    """Findings already derived from these records (the originals revisits point to)."""
    ids = sorted(set(record_ids))
    if not ids:
        return []
    seen: dict[str, int] = {}
    rows: list[FindingRow] = []
    for row in session.scalars(
        select(FindingRow).where(FindingRow.record_id.in_(ids)).order_by(FindingRow.id)
    ):
        # Each record was derived once per capture that stored or revisited it: keep one copy.
        first = seen.setdefault(row.record_id, row.capture_id)
        if row.capture_id == first:
            rows.append(row)
    return rows


def of_capture(session: Session, capture_id: int) -> list[FindingRow]:
    query = select(FindingRow).where(FindingRow.capture_id == capture_id)
    return list(session.scalars(query.order_by(FindingRow.kind, FindingRow.value, FindingRow.id)))


def search(
    session: Session, pairs: Iterable[tuple[str, str]], case_id: str | None = None
) -> list[tuple[FindingRow, CaptureRow]]:
    """Findings with one of these (kind, value) pairs (by index), with their captures."""
    wanted = sorted(set(pairs))
    if not wanted:
        return []
    query = (
        select(FindingRow, CaptureRow)
        .join(CaptureRow, CaptureRow.id == FindingRow.capture_id)
        .where(tuple_(FindingRow.value, FindingRow.kind).in_([(v, k) for k, v in wanted]))
        .order_by(CaptureRow.captured_at, FindingRow.id)
    )
    if case_id is not None:
        query = query.where(CaptureRow.case_id == case_id)
    return [(f, c) for f, c in session.execute(query)]


def search_values(
    session: Session, values: Iterable[str], case_id: str | None = None
) -> list[tuple[FindingRow, CaptureRow]]:
    """Findings of any kind with one of these normalised values (by index)."""
    wanted = sorted(set(values))
    if not wanted:
        return []
    query = (
        select(FindingRow, CaptureRow)
        .join(CaptureRow, CaptureRow.id == FindingRow.capture_id)
        .where(FindingRow.value.in_(wanted))
        .order_by(CaptureRow.captured_at, FindingRow.id)
    )
    if case_id is not None:
        query = query.where(CaptureRow.case_id == case_id)
    return [(f, c) for f, c in session.execute(query)]


def of_case(session: Session, case_id: str) -> list[FindingRow]:
    query = (
        select(FindingRow)
        .join(CaptureRow, CaptureRow.id == FindingRow.capture_id)
        .where(CaptureRow.case_id == case_id)
        .order_by(FindingRow.capture_id, FindingRow.id)
    )
    return list(session.scalars(query))


def capture_ref(row: CaptureRow) -> dict[str, Any]:
    """How a search result names its capture."""
    return {
        "capture_id": row.id,
        "case": row.case_id,
        "url": row.url,
        "captured_at": rfc3339_or_none(row.captured_at),
    }
