"""The payload index: where the first copy of every stored payload is, by SHA-256.

A payload that is already in the store (the main page of an unchanged ad, an image shown in
many ads, the screenshot of a page that did not change) is written again only as a WARC
``revisit`` record pointing here, so the same bytes are never stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base
from archive.warc.revisits import Revisit
from archive.warc.writer import Original, WrittenCapture

# SHA-256 of no bytes: an empty body is never indexed nor deduplicated.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# Record types whose payloads are indexed; a revisit only ever points to the same type.
INDEXED_TYPES = ("response", "resource")


class PayloadRow(Base):
    """The first stored record holding a payload (one row per record type and digest)."""

    __tablename__ = "payloads"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(100))
    target_uri: Mapped[str] = mapped_column(Text)
    warc_date: Mapped[str] = mapped_column(String(40))  # the record's WARC-Date, as written
    warc_name: Mapped[str] = mapped_column(Text)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    capture_id: Mapped[int] = mapped_column(Integer, index=True)

    @property
    def key(self) -> str:
        return f"{self.record_type}:{self.sha256}"

    def original(self) -> Original:
        return Original(self.record_id, self.target_uri, self.warc_date)


def lookup(session: Session, keys: Iterable[str]) -> dict[str, PayloadRow]:
    """The indexed payloads among ``keys`` (``"<record type>:<sha256 hex>"``)."""
    wanted = set(keys)
    digests = {key.split(":", 1)[1] for key in wanted}
    found: dict[str, PayloadRow] = {}
    for start in range(0, len(digests), 500):
        chunk = sorted(digests)[start : start + 500]
        for row in session.scalars(select(PayloadRow).where(PayloadRow.sha256.in_(chunk))):
            if row.key in wanted:
                found[row.key] = row
    return found


@dataclass(frozen=True)
class Origin:
    """Where the record a revisit points to is stored."""

    record_id: str
    warc_name: str  # the WARC's name in the store
    offset: int
    capture_id: int


def locate(session: Session, revisits: Iterable[Revisit]) -> dict[str, Origin]:
    """The stored originals of these revisits, by record id, as the payload index knows them.

    A record the index does not list is left out: the caller decides what a gap means.
    """
    wanted = {r.refers_to: r for r in revisits}
    keys = {f"{r.original_type}:{r.payload_sha256}" for r in wanted.values() if r.payload_sha256}
    found: dict[str, Origin] = {}
    for row in lookup(session, keys).values():
        if row.record_id in wanted:
            found[row.record_id] = Origin(row.record_id, row.warc_name, row.offset, row.capture_id)
    return found


def register(session: Session, capture_id: int, warc_name: str, written: WrittenCapture) -> int:
    """Index the payloads this capture stored in full; the first writer of a digest wins."""
    rows = []
    seen: set[str] = set()
    for ref in written.records:
        sha = ref.payload_sha256
        if ref.record_type not in INDEXED_TYPES or not sha or sha == EMPTY_SHA256:
            continue
        key = f"{ref.record_type}:{sha}"
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "sha256": sha,
                "record_type": ref.record_type,
                "record_id": ref.record_id,
                "target_uri": ref.target_uri,
                "warc_date": written.date,
                "warc_name": warc_name,
                "offset": ref.offset,
                "length": ref.length,
                "capture_id": capture_id,
            }
        )
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(PayloadRow).values(rows).on_conflict_do_nothing()
    session.execute(statement)
    return len(rows)
