"""Uploads from the local spool to the object store, until the server has confirmed each file.

A sealed file waits in the spool (a local store) as a ``spooled`` row of ``stored_objects``. One
attempt sends it with its SHA-256; only when the server confirms that checksum does the row become
``stored`` (same transaction as the custody entry and the capture's new location), and only then is
the spooled copy deleted. A failed attempt is recorded on the row with the next time to try
(exponential backoff), so retries outlive the process; ``lastseen store sync`` pushes everything
left at once. When the store is unreachable, this process stops trying for a while: a crawl goes
on at its own pace, its captures stay spooled, instead of waiting out one timeout per page.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.catalog import custody
from archive.catalog.db import CaptureRow, Catalog
from archive.exceptions import StoreError, StoreUnreachable
from archive.store.local import LocalStore
from archive.store.objects import SPOOLED, STORED, WARC, StoredObject, find, spool_id
from archive.store.s3 import LockPolicy, S3Store
from archive.times import rfc3339_or_none, utc_now

# Custody log actions.
UPLOAD = "upload"
UPLOAD_FAILED = "upload-failed"
HOLD = "hold"

BACKOFF_FIRST = 30.0  # seconds before the first retry; doubles with each failure
BACKOFF_MAX = 3600.0
# An attempt in progress leaves the row alone for this long (another process skips it meanwhile).
LEASE = timedelta(minutes=15)
# After the store could not be reached, this process does not try again for this long.
PAUSE_WHEN_UNREACHABLE = 60.0


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1)))


def content_type(name: str) -> str:
    if name.endswith((".warc.gz", ".warc")):
        return "application/warc"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class Outcome:
    """What one upload attempt did."""

    object_id: int
    capture_id: int | None
    uri: str
    stored: bool
    error: str | None = None
    attempted: bool = True  # False: skipped, the store was unreachable moments ago


@dataclass(frozen=True)
class HoldOutcome:
    object_id: int
    capture_id: int | None
    uri: str
    applied: bool  # False: the object is still spooled and goes up with its hold
    error: str | None = None


class Uploads:
    """Sends spooled files of one catalog to one S3 store, under one lock policy."""

    def __init__(
        self,
        catalog: Catalog,
        spool: LocalStore,
        remote: S3Store,
        policy: LockPolicy,
        operator: str,
    ) -> None:
        self.catalog = catalog
        self.spool = spool
        self.remote = remote
        self.policy = policy
        self.operator = operator
        self._paused_until = 0.0
        self._pause_lock = threading.Lock()
        self.spooled_on = spool_id(spool.root)

    def enqueue(
        self,
        session: Session,
        *,
        name: str,
        sha256: str,
        size: int,
        kind: str,
        capture_id: int | None = None,
        case_id: str | None = None,
    ) -> StoredObject:
        """Record a sealed file of the spool as waiting for upload, in the caller's transaction."""
        obj = StoredObject(
            capture_id=capture_id,
            case_id=case_id,
            kind=kind,
            name=name,
            bucket=self.remote.bucket,
            key=self.remote.key(name),
            sha256=sha256,
            size=size,
            state=SPOOLED,
            legal_hold=False,
            attempts=0,
            spooled_at=utc_now(),
            spooled_on=self.spooled_on,
        )
        session.add(obj)
        session.flush()
        return obj

    # --- pushing ------------------------------------------------------------------------------

    def paused(self) -> bool:
        with self._pause_lock:
            return time.monotonic() < self._paused_until

    def _pause(self) -> None:
        with self._pause_lock:
            self._paused_until = time.monotonic() + PAUSE_WHEN_UNREACHABLE

    def push(self, ids: Iterable[int], force: bool = False) -> list[Outcome]:
        """One attempt for each object; ``force`` ignores the backoff (not a running attempt)."""
        return [self._push_one(object_id, force) for object_id in ids]

    def push_due(self, limit: int | None = None) -> list[Outcome]:
        """Retry the spooled objects whose backoff has run out (oldest first)."""
        if self.paused():
            return []
        now = utc_now()
        query = (
            select(StoredObject.id)
            .where(
                StoredObject.bucket == self.remote.bucket,
                StoredObject.state == SPOOLED,
                StoredObject.spooled_on == self.spooled_on,
                or_(StoredObject.next_attempt_at.is_(None), StoredObject.next_attempt_at <= now),
            )
            .order_by(StoredObject.id)
            .limit(limit)
        )
        with self.catalog.session() as s:
            ids = list(s.scalars(query))
        return self.push(ids)

    def sync(self) -> list[Outcome]:
        """Push every object spooled here now; also delete spooled copies already confirmed."""
        with self._pause_lock:
            self._paused_until = 0.0  # asked for explicitly: try now, whatever happened before
        with self.catalog.session() as s:
            objects = find(s, bucket=self.remote.bucket, spooled_on=self.spooled_on)
        for obj in objects:
            if obj.state == STORED:
                self._drop_spooled_copy(obj)
        return self.push([o.id for o in objects if o.state == SPOOLED], force=True)

    def _push_one(self, object_id: int, force: bool) -> Outcome:
        now = utc_now()
        with self.catalog.session() as s:
            obj = s.get(StoredObject, object_id, with_for_update=True)
            if obj is None:
                raise StoreError(f"no stored object {object_id} in the catalog")
            if obj.state != SPOOLED:
                return Outcome(obj.id, obj.capture_id, obj.uri, stored=True, attempted=False)
            if obj.spooled_on != self.spooled_on:
                return Outcome(
                    obj.id,
                    obj.capture_id,
                    obj.uri,
                    stored=False,
                    error=f"not tried here: it waits in the spool {obj.spooled_on}",
                    attempted=False,
                )
            waiting = obj.next_attempt_at is not None and obj.next_attempt_at > now
            if self.paused() or (waiting and not force):
                why = "the store was unreachable moments ago" if self.paused() else "backing off"
                return Outcome(
                    obj.id,
                    obj.capture_id,
                    obj.uri,
                    stored=False,
                    error=f"not tried now: {why}",
                    attempted=False,
                )
            obj.next_attempt_at = now + LEASE
        path = self.spool.path(obj.name)
        try:
            if not path.is_file():
                raise StoreError(f"the spooled copy {path} is missing")
            version = self.remote.put(
                path,
                obj.key,
                sha256=obj.sha256,
                size=obj.size,
                policy=self.policy,
                legal_hold=obj.legal_hold,
                metadata=_metadata(obj),
                content_type=content_type(obj.name),
            )
        except (StoreError, OSError) as exc:
            if isinstance(exc, StoreUnreachable):
                self._pause()
            error = str(exc) if isinstance(exc, StoreError) else f"cannot read {path}: {exc}"
            self._failed(object_id, error)
            return Outcome(obj.id, obj.capture_id, obj.uri, stored=False, error=error)
        with self.catalog.session() as s:
            row = s.get(StoredObject, object_id, with_for_update=True)
            assert row is not None
            if row.state == STORED:  # another process confirmed the same version meanwhile
                return Outcome(row.id, row.capture_id, row.uri, stored=True, attempted=False)
            row.state = STORED
            row.version_id = version.version_id
            row.server_checksum = version.checksum
            row.part_size = version.part_size
            row.lock_mode = version.lock_mode
            row.retain_until = version.retain_until
            held_meanwhile = row.legal_hold and not version.legal_hold
            row.legal_hold = version.legal_hold
            row.attempts += 1
            row.last_error = None
            row.next_attempt_at = None
            row.stored_at = utc_now()
            if row.kind == WARC and row.capture_id is not None:
                capture = s.get(CaptureRow, row.capture_id)
                if capture is not None:
                    capture.warc_location = row.uri
            custody.append(
                self.catalog,
                s,
                actor=self.operator,
                action=UPLOAD,
                capture_id=row.capture_id,
                details={
                    "kind": row.kind,
                    "uri": row.uri,
                    "version_id": row.version_id,
                    "sha256": row.sha256,
                    "size": row.size,
                    "server_checksum": row.server_checksum,
                    "lock_mode": row.lock_mode,
                    "retain_until": rfc3339_or_none(row.retain_until),
                    "legal_hold": row.legal_hold,
                    "attempt": row.attempts,
                },
            )
        self._drop_spooled_copy(row)
        if held_meanwhile:
            self._hold_one(row.id)
        return Outcome(row.id, row.capture_id, row.uri, stored=True)

    def _failed(self, object_id: int, error: str) -> None:
        now = utc_now()
        with self.catalog.session() as s:
            row = s.get(StoredObject, object_id, with_for_update=True)
            assert row is not None
            row.attempts += 1
            row.last_error = error
            row.next_attempt_at = now + backoff(row.attempts)
            custody.append(
                self.catalog,
                s,
                actor=self.operator,
                action=UPLOAD_FAILED,
                capture_id=row.capture_id,
                details={
                    "kind": row.kind,
                    "uri": row.uri,
                    "attempt": row.attempts,
                    "error": error,
                    "next_attempt_at": rfc3339_or_none(row.next_attempt_at),
                    "spooled_copy": str(self.spool.path(row.name)),
                },
            )

    def _drop_spooled_copy(self, obj: StoredObject) -> None:
        """Only ever called for an object whose upload the server confirmed."""
        assert obj.state == STORED
        self.spool.path(obj.name).unlink(missing_ok=True)

    # --- legal holds --------------------------------------------------------------------------

    def hold(
        self,
        *,
        capture_ids: list[int] | None = None,
        case_id: str | None = None,
    ) -> list[HoldOutcome]:
        """Put a legal hold on every object of these captures or this case.

        A spooled object is marked and goes up with its hold; one whose upload was running when
        it was marked gets the hold as soon as the upload is confirmed.
        """
        with self.catalog.session() as s:
            objects = find(s, bucket=self.remote.bucket, capture_ids=capture_ids, case_id=case_id)
        return [self._hold_one(o.id) for o in objects]

    def _hold_one(self, object_id: int) -> HoldOutcome:
        with self.catalog.session() as s:
            row = s.get(StoredObject, object_id, with_for_update=True)
            assert row is not None
            if row.state == SPOOLED:
                row.legal_hold = True
                self._log_hold(s, row, "on upload")
                return HoldOutcome(row.id, row.capture_id, row.uri, applied=False)
            key, version_id = row.key, row.version_id
        assert version_id is not None
        try:
            self.remote.set_legal_hold(key, version_id)
        except StoreError as exc:
            return HoldOutcome(row.id, row.capture_id, row.uri, applied=False, error=str(exc))
        with self.catalog.session() as s:
            row = s.get(StoredObject, object_id, with_for_update=True)
            assert row is not None
            row.legal_hold = True
            self._log_hold(s, row, "on")
        return HoldOutcome(row.id, row.capture_id, row.uri, applied=True)

    def _log_hold(self, session: Session, row: StoredObject, status: str) -> None:
        custody.append(
            self.catalog,
            session,
            actor=self.operator,
            action=HOLD,
            capture_id=row.capture_id,
            details={
                "kind": row.kind,
                "uri": row.uri,
                "version_id": row.version_id,
                "legal_hold": status,
            },
        )


def _metadata(obj: StoredObject) -> dict[str, str]:
    meta = {"kind": obj.kind}
    if obj.capture_id is not None:
        meta["capture-id"] = str(obj.capture_id)
    return meta
