"""Re-read every object lastseen put in S3 and prove it is still what was sealed.

For each object of the catalog: stream the very version lastseen wrote, recompute its SHA-256 (and
the per-part checksum for multipart uploads), compare with the catalog, with the object's metadata
and with the checksum the server keeps; check its Object Lock; and list the versions under its key,
because a version written later over the same key (by anyone but lastseen) is what a reader who
does not ask for a version id would get. Objects still in the spool are checked from there.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from archive.catalog import custody
from archive.catalog.db import Catalog
from archive.digest import file_sha256
from archive.exceptions import StoreError
from archive.store.local import LocalStore
from archive.store.objects import SPOOLED, StoredObject, find, spool_id
from archive.store.s3 import S3Store, b64_sha256, composite_checksum
from archive.times import rfc3339_or_none, utc_now

VERIFY = "verify"  # custody log action
WORKERS = 4
CHUNK = 1024 * 1024

OK = "ok"
SPOOLED_OK = "spooled"
MISMATCH = "mismatch"
MISSING = "missing"
OVERWRITTEN = "overwritten"
UNLOCKED = "unlocked"
ERROR = "error"


@dataclass
class ObjectCheck:
    object_id: int
    capture_id: int | None
    kind: str
    uri: str
    version_id: str | None
    status: str = OK
    sha256: str | None = None  # as recomputed now
    problems: list[str] = field(default_factory=list)

    def fail(self, status: str, problem: str) -> None:
        if self.status in (OK, SPOOLED_OK):
            self.status = status
        self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object_id": self.object_id,
            "capture_id": self.capture_id,
            "kind": self.kind,
            "uri": self.uri,
            "version_id": self.version_id,
            "status": self.status,
            "sha256": self.sha256,
            "problems": self.problems,
        }


@dataclass
class VerifyReport:
    checks: list[ObjectCheck]
    case_id: str | None = None
    started_at: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.status in (OK, SPOOLED_OK) for c in self.checks)

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in (OK, SPOOLED_OK, MISMATCH, MISSING, OVERWRITTEN, UNLOCKED, ERROR)}
        for check in self.checks:
            counts[check.status] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "case": self.case_id,
            "started_at": self.started_at,
            "objects": len(self.checks),
            "counts": self.counts(),
            "problems": [c.as_dict() for c in self.checks if c.problems],
        }


def verify_objects(
    catalog: Catalog,
    remote: S3Store,
    spool: LocalStore,
    case_id: str | None = None,
    workers: int = WORKERS,
) -> VerifyReport:
    started = rfc3339_or_none(utc_now())
    with catalog.session() as s:
        objects = find(s, bucket=remote.bucket, case_id=case_id)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        checks = list(pool.map(lambda o: _check(o, remote, spool), objects))
    return VerifyReport(checks=checks, case_id=case_id, started_at=started)


def _check(obj: StoredObject, remote: S3Store, spool: LocalStore) -> ObjectCheck:
    check = ObjectCheck(obj.id, obj.capture_id, obj.kind, obj.uri, obj.version_id)
    try:
        if obj.state == SPOOLED:
            _check_spooled(obj, spool, check)
        else:
            _check_stored(obj, remote, check)
    except StoreError as exc:
        check.fail(ERROR, str(exc))
    return check


def _check_spooled(obj: StoredObject, spool: LocalStore, check: ObjectCheck) -> None:
    check.status = SPOOLED_OK
    if obj.spooled_on != spool_id(spool.root):
        return  # it waits on another machine's disk: that machine's verify checks it
    path = spool.path(obj.name)
    if not path.is_file():
        check.fail(MISSING, f"not uploaded yet, and its spooled copy {path} is gone")
        return
    with path.open("rb") as fh:
        check.sha256 = file_sha256(fh)
    if check.sha256 != obj.sha256:
        check.fail(MISMATCH, f"spooled copy {path} has SHA-256 {check.sha256}, not {obj.sha256}")


def _check_stored(obj: StoredObject, remote: S3Store, check: ObjectCheck) -> None:
    assert obj.version_id is not None
    info = remote.head(obj.key, obj.version_id)
    if info is None:
        check.fail(MISSING, f"version {obj.version_id} is gone from the store")
        _check_versions(obj, remote, check)
        return
    if info.size != obj.size:
        check.fail(MISMATCH, f"size is {info.size} bytes, the catalog says {obj.size}")
    if info.metadata.get("sha256") != obj.sha256:
        check.fail(
            MISMATCH, f"object metadata sha256 is {info.metadata.get('sha256')}, not {obj.sha256}"
        )
    if info.checksum != obj.server_checksum:
        check.fail(
            MISMATCH,
            f"the server's checksum is {info.checksum}, it was {obj.server_checksum} at upload",
        )

    whole = hashlib.sha256()
    part = hashlib.sha256()
    part_digests: list[bytes] = []
    in_part = 0
    with remote.open(obj.key, obj.version_id) as body:
        while chunk := body.read(CHUNK):
            whole.update(chunk)
            if obj.part_size:
                while chunk:
                    take = chunk[: obj.part_size - in_part]
                    part.update(take)
                    in_part += len(take)
                    chunk = chunk[len(take) :]
                    if in_part == obj.part_size:
                        part_digests.append(part.digest())
                        part, in_part = hashlib.sha256(), 0
    if in_part:
        part_digests.append(part.digest())
    check.sha256 = whole.hexdigest()
    if check.sha256 != obj.sha256:
        check.fail(MISMATCH, f"its bytes have SHA-256 {check.sha256}, not {obj.sha256}")
    recomputed = composite_checksum(part_digests) if obj.part_size else b64_sha256(check.sha256)
    if info.checksum != recomputed:
        check.fail(
            MISMATCH, f"its bytes give checksum {recomputed}, the server keeps {info.checksum}"
        )

    now = utc_now()
    if obj.retain_until is not None and obj.retain_until > now:
        if info.retain_until is None or info.retain_until < obj.retain_until:
            check.fail(
                UNLOCKED,
                f"retention is {rfc3339_or_none(info.retain_until)}, it was set to "
                f"{rfc3339_or_none(obj.retain_until)}",
            )
    if obj.legal_hold and not info.legal_hold:
        check.fail(UNLOCKED, "the legal hold put on it is off")
    _check_versions(obj, remote, check)


def _check_versions(obj: StoredObject, remote: S3Store, check: ObjectCheck) -> None:
    for version in remote.versions(obj.key):
        if version.version_id == obj.version_id:
            continue
        when = rfc3339_or_none(version.last_modified)
        what = "a delete marker" if version.delete_marker else f"version {version.version_id}"
        latest = " (now the latest: what a plain GET returns)" if version.is_latest else ""
        check.fail(OVERWRITTEN, f"{what} written at {when} over lastseen's key{latest}")


def record(catalog: Catalog, report: VerifyReport, actor: str) -> None:
    """One custody entry per verification run: what was checked and every problem found."""
    with catalog.session() as s:
        custody.append(
            catalog,
            s,
            actor=actor,
            action=VERIFY,
            details={
                "ok": report.ok,
                "case": report.case_id,
                "started_at": report.started_at,
                "objects": len(report.checks),
                "counts": report.counts(),
                "problems": [
                    {
                        "capture_id": c.capture_id,
                        "uri": c.uri,
                        "status": c.status,
                        "problems": c.problems,
                    }
                    for c in report.checks
                    if c.problems
                ],
            },
        )
