"""The chain of custody: an append-only log, each entry holding the SHA-256 of the one before.

An entry's hash covers its sequence number, UTC time, actor, action, capture and details, and the
previous entry's hash, in canonical JSON; changing, removing or reordering any entry breaks every
hash after it. The first entry's ``prev_hash`` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.catalog.db import Catalog, CustodyRow
from archive.times import rfc3339

GENESIS = "0" * 64

# Actions written to the log; other modules add their own words (upload, export, hold ...).
CAPTURE = "capture"
ACCESS = "access"


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    capture_id: int | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "capture_id": self.capture_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_row(cls, row: CustodyRow) -> Entry:
        return cls(
            seq=row.seq,
            at=rfc3339(row.at),
            actor=row.actor,
            action=row.action,
            capture_id=row.capture_id,
            details=row.details,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


def entry_hash(fields: dict[str, Any]) -> str:
    body = {
        k: fields[k] for k in ("seq", "at", "actor", "action", "capture_id", "details", "prev_hash")
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    catalog: Catalog,
    session: Session,
    *,
    actor: str,
    action: str,
    capture_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Entry:
    """Append one entry inside the caller's transaction (so it commits with what it records)."""
    catalog.lock_custody(session)
    head = session.scalars(select(CustodyRow).order_by(CustodyRow.seq.desc()).limit(1)).first()
    when = (at or datetime.now(UTC)).astimezone(UTC)
    fields: dict[str, Any] = {
        "seq": head.seq + 1 if head else 1,
        "at": rfc3339(when),
        "actor": actor,
        "action": action,
        "capture_id": capture_id,
        "details": json.loads(json.dumps(details or {}, sort_keys=True, default=str)),
        "prev_hash": head.hash if head else GENESIS,
    }
    fields["hash"] = entry_hash(fields)
    session.add(
        CustodyRow(
            seq=fields["seq"],
            at=when,
            actor=actor,
            action=action,
            capture_id=capture_id,
            details=fields["details"],
            prev_hash=fields["prev_hash"],
            hash=fields["hash"],
        )
    )
    session.flush()
    return Entry(**fields)


def entries(catalog: Catalog, capture_ids: Iterable[int] | None = None) -> list[Entry]:
    """The whole log, or the entries about some captures, in order."""
    query = select(CustodyRow).order_by(CustodyRow.seq)
    if capture_ids is not None:
        query = query.where(CustodyRow.capture_id.in_(list(capture_ids)))
    with catalog.session() as s:
        return [Entry.from_row(row) for row in s.scalars(query)]


def verify_chain(chain: Iterable[Entry | dict[str, Any]]) -> list[str]:
    """Check a complete log from its first entry; returns the problems found (empty: intact)."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    for item in chain:
        fields = item.as_dict() if isinstance(item, Entry) else item
        if fields["seq"] != expected_seq:
            problems.append(f"entry {fields['seq']}: expected sequence number {expected_seq}")
        if fields["prev_hash"] != prev:
            problems.append(f"entry {fields['seq']}: does not follow the entry before it")
        if entry_hash(fields) != fields["hash"]:
            problems.append(f"entry {fields['seq']}: content does not match its hash")
        prev = fields["hash"]
        expected_seq = fields["seq"] + 1
    return problems
