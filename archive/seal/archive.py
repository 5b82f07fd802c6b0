"""Seal a capture: WARC into the store, a row into the catalog, an entry into the custody log."""

from __future__ import annotations

import getpass
import io
import itertools
import logging
import os
import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from archive.capture import Capture
from archive.catalog import custody
from archive.catalog.db import CaptureRow, Catalog
from archive.exceptions import ConfigError, StoreError
from archive.seal.recapture import Recapture
from archive.store.local import LocalStore, SealedFile, open_store
from archive.store.objects import STORED, WARC, StoredObject, find
from archive.store.s3 import DEFAULT_TIMEOUT, LockPolicy, S3Store
from archive.store.uploads import Uploads
from archive.times import rfc3339
from archive.warc.writer import CaptureWriter, WrittenCapture

DEFAULT_STORE = "./lastseen-data"
WARC_PREFIX = "lastseen"

# Custody action: a queue job's second capture, not sealed (the job's first capture answers it).
DUPLICATE = "duplicate"
# Advisory lock key of the sealing of one queue job (with the job's id).
_JOB_SEAL_KEY = 0x1A57_5EA1

_serial = itertools.count(1)
logger = logging.getLogger(__name__)


def default_operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def default_spool(environ: Mapping[str, str] | None = None) -> str:
    """Where files wait for an S3 upload: the user's data folder, like other XDG programs."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "lastseen", "spool")


def _seconds(value: str | None, name: str) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise ConfigError(f"{name} must be a number of seconds (up to 3600), not {value!r}")
    return seconds


def _flag(value: Any) -> bool:
    """A yes/no setting as Scrapy's ``getbool`` reads it: a bool, 0/1, or its text."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


@dataclass(frozen=True)
class ArchiveConfig:
    """Where evidence goes and who is recording it; read from the environment by default."""

    store: str = DEFAULT_STORE
    db: str | None = None
    operator: str = ""
    warc_prefix: str = WARC_PREFIX
    compress_level: int = 6
    # Scheduled recaptures: payloads already stored become revisit records, and a changed page
    # gets a diff against its last live capture.
    dedup: bool = False
    # With an s3:// store: the local spool, the Object Lock policy, how long S3 may take to answer.
    spool: str | None = None
    retention: str | None = None
    lock_mode: str | None = None
    store_timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ArchiveConfig:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "store": env.get("LASTSEEN_STORE") or DEFAULT_STORE,
            "db": env.get("LASTSEEN_DB") or None,
            "operator": env.get("LASTSEEN_OPERATOR") or default_operator(),
            "spool": env.get("LASTSEEN_SPOOL") or default_spool(env),
            "retention": env.get("LASTSEEN_RETENTION") or None,
            "lock_mode": env.get("LASTSEEN_LOCK_MODE") or None,
            "store_timeout": _seconds(env.get("LASTSEEN_STORE_TIMEOUT"), "LASTSEEN_STORE_TIMEOUT")
            or DEFAULT_TIMEOUT,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ArchiveConfig:
        """From a crawl's ``ARCHIVE_*`` settings (Scrapy's ``Settings`` is such a mapping); what
        they leave unset comes from the environment, as in ``from_env``."""
        return cls.from_env(
            store=settings.get("ARCHIVE_STORE"),
            db=settings.get("ARCHIVE_DB"),
            operator=settings.get("ARCHIVE_OPERATOR"),
            dedup=_flag(settings.get("ARCHIVE_DEDUP")),
        )

    def settings(self) -> dict[str, Any]:
        """The ``ARCHIVE_*`` settings a crawl reads back with ``from_settings``. Not
        ``ARCHIVE_DEDUP``: the watch spider turns it on for its own crawls, and a command-line
        setting would override it."""
        return {
            "ARCHIVE_STORE": self.store,
            "ARCHIVE_DB": self.db,
            "ARCHIVE_OPERATOR": self.operator,
        }


def warc_filename(capture: Capture, prefix: str, serial: int) -> str:
    """``<prefix>-<UTC timestamp>-<serial>-<host>.warc.gz``, e.g.
    ``lastseen-20261129053236123456-00001-ads.example.warc.gz``."""
    stamp = capture.started_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    host = urlsplit(capture.requested_url).hostname or "unknown-host"
    host = re.sub(r"[^A-Za-z0-9.-]", "-", host)[:100]
    return f"{prefix}-{stamp}-{serial:05d}-{host}.warc.gz"


def _ref(ref: Any) -> dict[str, Any]:
    return {
        "record_id": ref.record_id,
        "offset": ref.offset,
        "length": ref.length,
        "sha256": ref.payload_sha256,
        "target": ref.target_uri,
    }


class Archive:
    """The evidence store and its catalog, opened together.

    ``store`` is the local store every file is sealed in first. With an ``s3://`` store that local
    store is the spool, ``remote`` the bucket, and ``uploads`` moves sealed files from one to the
    other; a capture's ``warc_location`` becomes its ``s3://`` URI once the upload is confirmed.
    """

    def __init__(self, config: ArchiveConfig) -> None:
        self.config = config
        target = open_store(config.store, timeout=config.store_timeout)
        self.remote: S3Store | None = target if isinstance(target, S3Store) else None
        spool = config.spool or default_spool()
        self.store: LocalStore = target if isinstance(target, LocalStore) else LocalStore(spool)
        self.catalog = Catalog(config.db or self.store.default_catalog_url())
        self.uploads: Uploads | None = None
        if self.remote is not None:
            policy = LockPolicy.parse(config.retention, config.lock_mode)
            self.uploads = Uploads(self.catalog, self.store, self.remote, policy, config.operator)

    @classmethod
    def open(cls, config: ArchiveConfig | None = None, create: bool = True) -> Archive:
        """Open the store and the catalog; on first use create them, unless ``create`` is False."""
        config = config or ArchiveConfig.from_env()
        archive = cls(config)
        if not create and config.db is None and not archive.store.exists_at_all():
            archive.close()
            if archive.remote is not None:
                raise StoreError(
                    f"no catalog for {archive.remote.uri} in the spool {archive.store.uri} yet "
                    "(nothing was captured with it; set LASTSEEN_SPOOL or LASTSEEN_DB)"
                )
            raise StoreError(
                f"no evidence store at {archive.store.uri} yet (nothing was captured there)"
            )
        archive.store.prepare()
        archive.catalog.migrate()
        return archive

    def seal(self, capture: Capture, actor: str | None = None) -> CaptureRow:
        """Write the capture's WARC, then catalogue it with its custody entry in one transaction.

        A queue job's second capture (its worker died after sealing, before saying so, and the
        job ran again) is not sealed: nothing of it is stored, the custody log says it was made,
        and the job's first capture is returned.
        """
        with self._sealing(capture.job_id):
            # Checked under the job's lock, before a byte is stored: a WARC no capture row
            # accounts for would be an evidence file nobody can explain (and rule 1 keeps it).
            sealed_before = self._sealed_for_job(capture.job_id)
            if sealed_before is not None:
                self._duplicate(capture, sealed_before, actor)
                return sealed_before
            row, pending_upload = self._write(capture, actor)
        if self.uploads is not None and pending_upload is not None:
            # One attempt now, bounded in time; a failure leaves the capture spooled for later.
            self.uploads.push([pending_upload])
            row = self.catalog.get(row.id) or row
        return row

    def _write(self, capture: Capture, actor: str | None) -> tuple[CaptureRow, int | None]:
        """Store the capture's WARC and catalogue it; its row and its pending upload."""
        filename = warc_filename(capture, self.config.warc_prefix, next(_serial))
        day = capture.started_at.astimezone(UTC)
        name = f"warcs/{day:%Y/%m/%d}/{filename}"
        recapture = Recapture.prepare(
            capture, self.catalog, dedup=self.config.dedup, read_record=self.read_record
        )
        pending = self.store.write(name)
        with pending as out:
            written = CaptureWriter(
                out, self.config.compress_level, recapture.originals
            ).write_capture(capture, filename, recapture.metadata)
        sealed = pending.sealed
        assert sealed is not None
        row = self._row(capture, written, name, sealed.location, sealed.sha256, sealed.size)
        pending_upload = None
        try:
            pending_upload = self._catalogue(capture, row, recapture, written, name, sealed, actor)
        except IntegrityError:
            # The job's lock went with its cut connection and another worker sealed the job
            # meanwhile: this WARC stays stored (rule 1), and the custody log accounts for it.
            sealed_before = self._sealed_for_job(capture.job_id)
            if sealed_before is None:
                raise
            self._duplicate(capture, sealed_before, actor, stored=sealed)
            return sealed_before, None
        return row, pending_upload

    @contextmanager
    def _sealing(self, job_id: int | None) -> Iterator[None]:
        """Seal one capture of a queue job at a time, fleet-wide, from the check for the job's
        capture until the capture is catalogued (a transaction-level advisory lock, held on a
        connection of its own while the WARC is written and catalogued by others).

        Only a PostgreSQL catalog has a queue (``archive.catalog.queue``); a capture of no job
        needs no lock."""
        if job_id is None or not self.catalog.is_postgresql:
            yield
            return
        conn = self.catalog.engine.connect()
        try:
            conn.begin()
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:k, :j)"), {"k": _JOB_SEAL_KEY, "j": job_id}
            )
            yield
        finally:
            try:
                conn.close()  # rolls the lock's transaction back: the lock is released
            except SQLAlchemyError as exc:  # a cut connection: its lock went with it
                logger.warning("job %s: the seal lock's connection failed: %s", job_id, exc)

    def _duplicate(
        self,
        capture: Capture,
        sealed_before: CaptureRow,
        actor: str | None,
        stored: SealedFile | None = None,
    ) -> None:
        """Record a queue job's second capture, which does not become a capture of its own."""
        logger.warning(
            "job %s ran twice: capture %s answers it; its capture of %s is a duplicate (%s)",
            capture.job_id,
            sealed_before.id,
            capture.requested_url,
            f"stored as {stored.name}, not catalogued" if stored else "not stored",
        )
        kept = {}
        if stored is not None:
            kept = {"warc": stored.name, "warc_sha256": stored.sha256, "warc_size": stored.size}
        with self.catalog.session() as s:
            custody.append(
                self.catalog,
                s,
                actor=actor or self.config.operator,
                action=DUPLICATE,
                capture_id=sealed_before.id,
                details={
                    "url": capture.requested_url,
                    "outcome": capture.outcome,
                    "captured_at": rfc3339(capture.started_at),
                    "job": capture.job_id,
                    "reason": "the job's capture was sealed already (the job ran twice)",
                    **kept,
                },
            )

    def _sealed_for_job(self, job_id: int | None) -> CaptureRow | None:
        if job_id is None:
            return None
        with self.catalog.session() as s:
            return s.scalars(select(CaptureRow).where(CaptureRow.job_id == job_id)).first()

    def _catalogue(
        self,
        capture: Capture,
        row: CaptureRow,
        recapture: Recapture,
        written: WrittenCapture,
        name: str,
        sealed: SealedFile,
        actor: str | None,
    ) -> int | None:
        """The capture's row, index entries, upload and custody entry, in one transaction."""
        pending_upload = None
        with self.catalog.session() as s:
            s.add(row)
            s.flush()
            recapture.record(s, row, written)
            if self.uploads is not None:
                pending_upload = self.uploads.enqueue(
                    s,
                    name=name,
                    sha256=sealed.sha256,
                    size=sealed.size,
                    kind=WARC,
                    capture_id=row.id,
                    case_id=capture.case_id,
                ).id
            custody.append(
                self.catalog,
                s,
                actor=actor or self.config.operator,
                action=custody.CAPTURE,
                capture_id=row.id,
                details={
                    "url": capture.requested_url,
                    "outcome": capture.outcome,
                    "warc": name,
                    "warc_sha256": sealed.sha256,
                    "warc_size": sealed.size,
                    "case": capture.case_id,
                    **({"job": capture.job_id} if capture.job_id is not None else {}),
                },
            )
        return pending_upload

    def keep(
        self,
        sealed: SealedFile,
        kind: str,
        capture_id: int | None = None,
        case_id: str | None = None,
    ) -> StoredObject | None:
        """Send another file sealed in ``store`` (a bundle, a manifest) to the object store.

        Nothing to do with a local store; with S3 the file is spooled like a WARC, uploaded now if
        the store answers, and retried later if it does not. Returns its catalog row.
        """
        if self.uploads is None:
            return None
        with self.catalog.session() as s:
            object_id = self.uploads.enqueue(
                s,
                name=sealed.name,
                sha256=sealed.sha256,
                size=sealed.size,
                kind=kind,
                capture_id=capture_id,
                case_id=case_id,
            ).id
        self.uploads.push([object_id])
        with self.catalog.session() as s:
            return s.get(StoredObject, object_id)

    def objects(self, capture_id: int) -> list[StoredObject]:
        """The object-store copies of a capture's files (none with a local store)."""
        with self.catalog.session() as s:
            return find(s, capture_ids=[capture_id])

    def _stored_copy(self, name: str) -> StoredObject | None:
        """The confirmed S3 version of a file whose spooled copy is gone."""
        if self.remote is None or self.store.exists(name):
            return None
        with self.catalog.session() as s:
            obj = s.scalars(
                select(StoredObject).where(
                    StoredObject.bucket == self.remote.bucket,
                    StoredObject.key == self.remote.key(name),
                    StoredObject.state == STORED,
                )
            ).first()
        if obj is None:
            raise StoreError(f"evidence file {name} is neither spooled nor stored")
        return obj

    def open_file(self, name: str) -> BinaryIO:
        """Read a sealed file (a streaming file object): from the spool while it waits there,
        else the very version lastseen stored in S3 (never a newer one written over it)."""
        obj = self._stored_copy(name)
        if obj is None:
            return self.store.open(name)
        assert self.remote is not None and obj.version_id is not None
        return self.remote.open(obj.key, obj.version_id)

    def _row(
        self,
        capture: Capture,
        written: WrittenCapture,
        name: str,
        location: str,
        sha: str,
        size: int,
    ) -> CaptureRow:
        records: dict[str, Any] = {"count": len(written.records)}
        if written.main:
            records["main"] = _ref(written.main)
        if written.provenance:
            records["provenance"] = _ref(written.provenance)
        for kind, ref in written.resources.items():
            records[kind] = _ref(ref)
        for number, (ref, info) in enumerate(written.media, 1):
            records[f"media#{number}"] = {**_ref(ref), "content_type": ref.content_type}
            records[f"media-info#{number}"] = _ref(info)
        res = written.resources
        env = capture.environment
        return CaptureRow(
            url=capture.requested_url,
            final_url=capture.final_url,
            http_status=capture.http_status,
            outcome=capture.outcome,
            error=capture.error,
            captured_at=capture.started_at,
            finished_at=capture.ended_at,
            case_id=capture.case_id,
            note=capture.note,
            operator=env.get("operator") or self.config.operator,
            warc_name=name,
            warc_location=location,
            warc_sha256=sha,
            warc_size=size,
            records=records,
            payload_sha256=written.main.payload_sha256 if written.main else None,
            screenshot_sha256=res["screenshot"].payload_sha256 if "screenshot" in res else None,
            dom_sha256=res["dom"].payload_sha256 if "dom" in res else None,
            pdf_sha256=res["pdf"].payload_sha256 if "pdf" in res else None,
            exchanges=len(capture.exchanges),
            network_idle=capture.provenance.get("network_idle"),
            software=env.get("software"),
            browser=env.get("browser"),
            job_id=capture.job_id,
        )

    def read_record(self, row: CaptureRow, kind: str) -> bytes:
        """The payload of one record of a capture (``main``, ``screenshot``, ``dom``, ...)."""
        from archive.warc.reader import read_payload

        ref = row.records.get(kind)
        if not ref:
            raise KeyError(kind)
        # A revisit record holds no payload: read the stored original it refers to.
        where = ref.get("refers_to") or {
            "warc": row.warc_name,
            "offset": ref["offset"],
            "length": ref["length"],
        }
        obj = self._stored_copy(where["warc"])
        if obj is not None:
            assert self.remote is not None and obj.version_id is not None
            data = self.remote.read_range(obj.key, obj.version_id, where["offset"], where["length"])
            return read_payload(io.BytesIO(data), 0)
        with self.store.open(where["warc"]) as fh:
            return read_payload(fh, where["offset"])

    def close(self) -> None:
        self.catalog.dispose()
