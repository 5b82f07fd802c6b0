"""Photo hashes of captured pages (derived data) and the search for similar photos.

Multi-index hashing: each 256-bit PDQ hash is cut into sixteen 16-bit chunks. Two hashes within
Hamming distance d < 32 of each other share at least one chunk that differs by at most d // 16
bits (sixteen chunks cannot all differ by two or more bits). So a search looks up, for each
chunk, the query's own chunk value and its neighbours within d // 16 bits (1 + 16 values per
chunk at the default distance of 31), then compares the whole hash of those candidates only:
the index, not a scan, decides what is read.

The index is a narrow table of its own, ``photo_bands``: one row per photo and chunk, keyed by
the chunk's number and value, holding the whole hash as 32 bytes. A search reads its candidates'
hashes from the index entries it looked up (SQLite keeps the table clustered by key, WITHOUT
ROWID; PostgreSQL's primary key INCLUDEs the hash), never from the wide ``photos`` rows, which
it reads only for the photos found.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

from sqlalchemy import (
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    delete,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base, CaptureRow

CHUNKS = 16
CHUNK_BITS = 16
MAX_DISTANCE = CHUNKS * 2 - 1  # beyond it the pigeonhole argument needs 2-bit neighbours
_MASK = (1 << CHUNK_BITS) - 1


def chunks(pdq: str) -> list[int]:
    """The sixteen 16-bit chunks of a hex PDQ hash, most significant first."""
    value = int(pdq, 16)
    return [(value >> (CHUNK_BITS * (CHUNKS - 1 - i))) & _MASK for i in range(CHUNKS)]


def band_keys(pdq: str) -> list[int]:
    """The index keys of a hash: each chunk's number and value, as one integer."""
    return [(band << CHUNK_BITS) | value for band, value in enumerate(chunks(pdq))]


class PhotoRow(Base):
    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(Integer, index=True)
    record_id: Mapped[str] = mapped_column(String(100), index=True)
    record_sha256: Mapped[str] = mapped_column(String(64), index=True)
    warc_name: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    c0: Mapped[int] = mapped_column(Integer)
    c1: Mapped[int] = mapped_column(Integer)
    c2: Mapped[int] = mapped_column(Integer)
    c3: Mapped[int] = mapped_column(Integer)
    c4: Mapped[int] = mapped_column(Integer)
    c5: Mapped[int] = mapped_column(Integer)
    c6: Mapped[int] = mapped_column(Integer)
    c7: Mapped[int] = mapped_column(Integer)
    c8: Mapped[int] = mapped_column(Integer)
    c9: Mapped[int] = mapped_column(Integer)
    c10: Mapped[int] = mapped_column(Integer)
    c11: Mapped[int] = mapped_column(Integer)
    c12: Mapped[int] = mapped_column(Integer)
    c13: Mapped[int] = mapped_column(Integer)
    c14: Mapped[int] = mapped_column(Integer)
    c15: Mapped[int] = mapped_column(Integer)

    @staticmethod
    def chunk_columns(pdq: str) -> dict[str, int]:
        return {f"c{i}": value for i, value in enumerate(chunks(pdq))}

    def as_dict(self) -> dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "url": self.url,
            "pdq": self.pdq,
            "quality": self.quality,
            "width": self.width,
            "height": self.height,
            "record_id": self.record_id,
            "record_sha256": self.record_sha256,
            "warc": self.warc_name,
        }


class PhotoBand(Base):
    """One chunk of one photo's hash in the multi-index, with the whole hash (migration 0006)."""

    __tablename__ = "photo_bands"
    __table_args__ = (
        PrimaryKeyConstraint("key", "photo_id", postgresql_include=["pdq"]),
        {"sqlite_with_rowid": False},
    )

    key: Mapped[int] = mapped_column(Integer, autoincrement=False)
    photo_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    pdq: Mapped[bytes] = mapped_column(LargeBinary(32))


def band_rows(photo_id: int, pdq: str) -> list[dict[str, Any]]:
    whole = bytes.fromhex(pdq)
    return [{"key": key, "photo_id": photo_id, "pdq": whole} for key in band_keys(pdq)]


def index(session: Session, photos: Iterable[PhotoRow]) -> None:
    """Add stored photos (flushed: they have their ids) to the multi-index."""
    rows = [row for photo in photos for row in band_rows(photo.id, photo.pdq)]
    if rows:
        session.execute(insert(PhotoBand), rows)


def unindex(session: Session, capture_ids: list[int]) -> None:
    """Take the photos of these captures out of the multi-index (before they are deleted)."""
    query = select(PhotoRow.id, PhotoRow.pdq).where(PhotoRow.capture_id.in_(capture_ids))
    pairs = [(key, photo_id) for photo_id, pdq in session.execute(query) for key in band_keys(pdq)]
    for start in range(0, len(pairs), 400):
        part = pairs[start : start + 400]
        session.execute(
            delete(PhotoBand).where(tuple_(PhotoBand.key, PhotoBand.photo_id).in_(part))
        )


def _neighbours(value: int, bits: int) -> list[int]:
    """Every chunk value within ``bits`` flipped bits of ``value``."""
    out = [value]
    for flips in range(1, bits + 1):
        for positions in combinations(range(CHUNK_BITS), flips):
            flipped = value
            for p in positions:
                flipped ^= 1 << p
            out.append(flipped)
    return out


def similar(
    session: Session,
    pdq: str,
    max_distance: int = 31,
    case_id: str | None = None,
) -> list[tuple[int, PhotoRow, CaptureRow]]:
    """Photos within ``max_distance`` of ``pdq``, closest first, each with its capture."""
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"distance must be 0 to {MAX_DISTANCE}, not {max_distance}")
    radius = max_distance // CHUNKS
    keys = [
        (band << CHUNK_BITS) | near
        for band, value in enumerate(chunks(pdq))
        for near in _neighbours(value, radius)
    ]
    candidates = select(PhotoBand.photo_id, PhotoBand.pdq).where(PhotoBand.key.in_(keys))
    query = int(pdq, 16)
    close = {
        photo_id: d
        for photo_id, other in session.execute(candidates)
        if (d := (query ^ int.from_bytes(other, "big")).bit_count()) <= max_distance
    }
    if not close:
        return []
    rows = select(PhotoRow, CaptureRow).join(CaptureRow, CaptureRow.id == PhotoRow.capture_id)
    if case_id is not None:
        rows = rows.where(CaptureRow.case_id == case_id)
    found: list[tuple[int, PhotoRow, CaptureRow]] = []
    ids = sorted(close)
    for start in range(0, len(ids), 500):
        chunk = rows.where(PhotoRow.id.in_(ids[start : start + 500]))
        found.extend((close[p.id], p, c) for p, c in session.execute(chunk))
    return sorted(found, key=lambda t: (t[0], t[2].captured_at, t[1].id))


def of_capture(session: Session, capture_id: int) -> list[PhotoRow]:
    query = select(PhotoRow).where(PhotoRow.capture_id == capture_id).order_by(PhotoRow.id)
    return list(session.scalars(query))


def of_records(session: Session, record_ids: Iterable[str]) -> list[PhotoRow]:
    """Photo hashes already derived from these records (the originals revisits point to)."""
    ids = sorted(set(record_ids))
    if not ids:
        return []
    seen: dict[str, int] = {}
    rows: list[PhotoRow] = []
    query = select(PhotoRow).where(PhotoRow.record_id.in_(ids)).order_by(PhotoRow.id)
    for row in session.scalars(query):
        if row.capture_id == seen.setdefault(row.record_id, row.capture_id):
            rows.append(row)
    return rows
