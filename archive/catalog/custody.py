"""The chain of custody in the catalog: an append-only log, each entry holding the SHA-256 of the
one before (the hashing and its checks are ``archive.chain``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.catalog.db import Catalog, CustodyRow
from archive.chain import GENESIS, Entry, entry_hash
from archive.times import rfc3339, utc_now

# Actions written to the log; other modules add their own words (upload, export, hold ...).
CAPTURE = "capture"
ACCESS = "access"


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
    when = (at or utc_now()).astimezone(UTC)
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
        return [_entry(row) for row in s.scalars(query)]


def related(session: Session, capture_ids: list[int], case: str) -> list[Entry]:
    """Entries about these captures, and earlier exports that included any of them.

    Left out: entries about these captures that name another case (a report filed under
    another case that the capture service answered with one of these captures: they hold that
    case's reporter and note), which are that case's business; the report says why entries can
    be missing. Another export's reading of one of these WARCs as a referenced file names that
    export by number only, and is kept.
    """
    wanted = set(capture_ids)
    rows = session.scalars(
        select(CustodyRow)
        .where(CustodyRow.capture_id.in_(capture_ids) | CustodyRow.capture_id.is_(None))
        .order_by(CustodyRow.seq)
    )
    found = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else {}
        if row.capture_id is None:
            if wanted & set(details.get("captures") or []):
                found.append(_entry(row))
        elif details.get("case") in (None, case):
            found.append(_entry(row))
    return found


def _entry(row: CustodyRow) -> Entry:
    return Entry(
        seq=row.seq,
        at=rfc3339(row.at),
        actor=row.actor,
        action=row.action,
        capture_id=row.capture_id,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
