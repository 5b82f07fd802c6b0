"""The catalog of objects sent to object storage: one row per evidence file, spooled or stored.

A row is written in the same transaction as the capture it belongs to, in state ``spooled``: the
file is in the local spool and nothing is promised about the remote store yet. It becomes
``stored`` only once the server confirmed the file's SHA-256, with the version id and retention
the server holds. Pending uploads are rows, so retries outlive the process that captured.
"""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base, UTCDateTime
from archive.times import rfc3339_or_none

SPOOLED = "spooled"
STORED = "stored"

# What an object is evidence of; a WARC per capture today, bundles and manifests from exports.
WARC = "warc"


class StoredObject(Base):
    __tablename__ = "stored_objects"
    __table_args__ = (UniqueConstraint("bucket", "key", name="uq_stored_objects_bucket_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    capture_id: Mapped[int | None] = mapped_column(Integer, index=True)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(Text)  # path inside the spool, e.g. warcs/2026/11/29/...
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))  # of the whole file, taken while writing it
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), index=True)
    version_id: Mapped[str | None] = mapped_column(String(1024))
    server_checksum: Mapped[str | None] = mapped_column(String(100))
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    lock_mode: Mapped[str | None] = mapped_column(String(20))
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    spooled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # host:folder of the spool holding the file until it is stored: with many crawler machines
    # sharing one catalog, each pushes only what waits on its own disk.
    spooled_on: Mapped[str] = mapped_column(String(500))
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def spool_id(root: Path) -> str:
    """How the catalog names a spool: ``host:folder``."""
    return f"{socket.gethostname()}:{root}"


def object_summary(obj: StoredObject) -> dict[str, Any]:
    """One stored object as the CLI's JSON shows it."""
    return {
        "id": obj.id,
        "capture_id": obj.capture_id,
        "case": obj.case_id,
        "kind": obj.kind,
        "uri": obj.uri,
        "state": obj.state,
        "sha256": obj.sha256,
        "size": obj.size,
        "version_id": obj.version_id,
        "server_checksum": obj.server_checksum,
        "lock_mode": obj.lock_mode,
        "retain_until": rfc3339_or_none(obj.retain_until),
        "legal_hold": obj.legal_hold,
        "attempts": obj.attempts,
        "last_error": obj.last_error,
        "spooled_at": rfc3339_or_none(obj.spooled_at),
        "spooled_on": obj.spooled_on,
        "stored_at": rfc3339_or_none(obj.stored_at),
    }


def find(
    session: Session,
    *,
    bucket: str | None = None,
    capture_ids: list[int] | None = None,
    case_id: str | None = None,
    state: str | None = None,
    spooled_on: str | None = None,
) -> list[StoredObject]:
    """Objects of the catalog, oldest first, narrowed by bucket, captures, case or state."""
    query = select(StoredObject).order_by(StoredObject.id)
    if bucket is not None:
        query = query.where(StoredObject.bucket == bucket)
    if capture_ids is not None:
        query = query.where(StoredObject.capture_id.in_(capture_ids))
    if case_id is not None:
        query = query.where(StoredObject.case_id == case_id)
    if state is not None:
        query = query.where(StoredObject.state == state)
    if spooled_on is not None:
        query = query.where(StoredObject.spooled_on == spooled_on)
    return list(session.scalars(query))
