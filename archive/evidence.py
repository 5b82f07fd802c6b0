"""Seal a capture: WARC into the store, a row into the catalog, an entry into the custody log."""

from __future__ import annotations

import getpass
import itertools
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from archive import custody
from archive.capture import Capture
from archive.catalog import CaptureRow, Catalog
from archive.exceptions import StoreError
from archive.recapture import Recapture
from archive.store import LocalStore, open_store
from archive.warc import CaptureWriter, WrittenCapture

DEFAULT_STORE = "./lastseen-data"
WARC_PREFIX = "lastseen"

_serial = itertools.count(1)


def default_operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


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

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ArchiveConfig:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "store": env.get("LASTSEEN_STORE") or DEFAULT_STORE,
            "db": env.get("LASTSEEN_DB") or None,
            "operator": env.get("LASTSEEN_OPERATOR") or default_operator(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


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
    """The evidence store and its catalog, opened together."""

    def __init__(self, config: ArchiveConfig) -> None:
        self.config = config
        self.store: LocalStore = open_store(config.store)
        self.catalog = Catalog(config.db or self.store.default_catalog_url())

    @classmethod
    def open(cls, config: ArchiveConfig | None = None, create: bool = True) -> Archive:
        """Open the store and the catalog; on first use create them, unless ``create`` is False."""
        config = config or ArchiveConfig.from_env()
        store = open_store(config.store)
        if not create and config.db is None and not store.exists_at_all():
            raise StoreError(f"no evidence store at {store.uri} yet (nothing was captured there)")
        archive = cls(config)
        archive.store.prepare()
        archive.catalog.migrate()
        return archive

    def seal(self, capture: Capture, actor: str | None = None) -> CaptureRow:
        """Write the capture's WARC, then catalogue it with its custody entry in one transaction."""
        filename = warc_filename(capture, self.config.warc_prefix, next(_serial))
        day = capture.started_at.astimezone(UTC)
        name = f"warcs/{day:%Y/%m/%d}/{filename}"
        recapture = Recapture.prepare(self, capture)
        pending = self.store.write(name)
        with pending as out:
            written = CaptureWriter(
                out, self.config.compress_level, recapture.originals
            ).write_capture(capture, filename, recapture.metadata)
        sealed = pending.sealed
        assert sealed is not None
        row = self._row(capture, written, name, sealed.location, sealed.sha256, sealed.size)
        with self.catalog.session() as s:
            s.add(row)
            s.flush()
            recapture.record(s, row, written)
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
                },
            )
        return row

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
        )

    def read_record(self, row: CaptureRow, kind: str) -> bytes:
        """The payload of one record of a capture (``main``, ``screenshot``, ``dom``, ...)."""
        from archive.reader import read_payload

        ref = row.records.get(kind)
        if not ref:
            raise KeyError(kind)
        # A revisit record holds no payload: read the stored original it refers to.
        where = ref.get("refers_to") or {"warc": row.warc_name, "offset": ref["offset"]}
        with self.store.open(where["warc"]) as fh:
            return read_payload(fh, where["offset"])

    def close(self) -> None:
        self.catalog.dispose()
