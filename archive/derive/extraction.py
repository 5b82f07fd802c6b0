"""Read a sealed capture's records and catalogue what they show: identifiers and photo hashes.

What is read: the rendered DOM (the page as the investigator saw it, script-inserted text
included), the page's HTML as the server sent it (its links, ``tel:`` and ``mailto:`` targets),
and every image response of at least 100×100 pixels. Each finding points to its record: the
WARC-Record-ID, the record's payload SHA-256 and the WARC file holding those bytes. Nothing is
written into the WARC (it is sealed); a revisit record (an unchanged page or photo of a
scheduled run) is not read again: its findings are those of the record it points to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from archive.catalog import findings as catalog_findings
from archive.catalog import photohashes
from archive.catalog.db import CaptureRow
from archive.catalog.findings import DerivedRow, FindingRow
from archive.catalog.photohashes import PhotoRow
from archive.derive.alerts import AlertPolicy, raise_alerts
from archive.derive.indicators import DEFAULT_REGIONS, find_in_html
from archive.derive.photos import hash_photo
from archive.seal.archive import Archive
from archive.warc.reader import Record, scan

log = logging.getLogger(__name__)

EXTRACTOR = "lastseen-indicators/1"
DOM_TARGET = "urn:dom:"
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class Source:
    """One record's payload worth reading."""

    source: str  # "dom", "html" or "image"
    record_id: str
    sha256: str
    target_uri: str
    content_type: str | None
    payload: bytes


@dataclass
class Derived:
    """What one capture showed, ready for the catalog."""

    capture_id: int
    findings: list[FindingRow] = field(default_factory=list)
    photos: list[PhotoRow] = field(default_factory=list)
    revisited: list[str] = field(default_factory=list)  # original record ids
    seconds: float = 0.0


def _digest(record: Record) -> str:
    value = record.header("WARC-Payload-Digest") or ""
    return value.split(":", 1)[-1]


def _content_type(record: Record) -> str | None:
    http = record.http_headers
    if http is not None:
        value = http.get_header("Content-Type")
        return str(value) if value else None
    return record.header("Content-Type") or None


def sources(archive: Archive, row: CaptureRow) -> Iterator[Source | str]:
    """The capture's readable payloads; for a revisit, the id of the record it points to."""
    main = (row.records.get("main") or {}).get("record_id")
    with archive.open_file(row.warc_name) as stream:
        for record in scan(stream):
            kind = record.type
            target = record.header("WARC-Target-URI") or ""
            record_id = record.id
            ctype = _content_type(record)
            mime = (ctype or "").split(";")[0].strip().lower()
            if kind == "resource" and target.startswith(DOM_TARGET):
                source = "dom"
            elif kind in ("response", "revisit") and record_id == main and mime in _HTML_TYPES:
                source = "html"
            elif kind in ("response", "revisit") and mime.startswith("image/"):
                source = "image"
            elif kind == "revisit" and target.startswith(DOM_TARGET):
                source = "dom"
            else:
                continue
            if kind == "revisit":
                refers = record.header("WARC-Refers-To")
                if refers:
                    yield str(refers)
                continue
            payload = record.read()
            yield Source(source, record_id, _digest(record), target, ctype, payload)


def derive(archive: Archive, row: CaptureRow, regions: Sequence[str] = DEFAULT_REGIONS) -> Derived:
    """Read the capture's records (nothing is stored yet: see ``store``)."""
    started = time.perf_counter()
    out = Derived(row.id)
    page_url = row.final_url or row.url
    hashed: set[str] = set()
    for item in sources(archive, row):
        if isinstance(item, str):
            out.revisited.append(item)
            continue
        if item.source == "image":
            if item.sha256 in hashed:
                continue
            hashed.add(item.sha256)
            photo = hash_photo(item.payload)
            if photo is None:
                continue
            out.photos.append(
                PhotoRow(
                    capture_id=row.id,
                    record_id=item.record_id,
                    record_sha256=item.sha256,
                    warc_name=row.warc_name,
                    url=item.target_uri,
                    pdq=photo.pdq,
                    quality=photo.quality,
                    width=photo.width,
                    height=photo.height,
                    **PhotoRow.chunk_columns(photo.pdq),
                )
            )
            continue
        for found in find_in_html(item.payload, item.content_type, page_url, regions):
            out.findings.append(
                FindingRow(
                    capture_id=row.id,
                    kind=found.kind,
                    value=found.value,
                    record_id=item.record_id,
                    record_sha256=item.sha256,
                    warc_name=row.warc_name,
                    source=item.source,
                    target_uri=item.target_uri,
                    offset=found.offset,
                    raw=found.raw,
                    context=found.context,
                )
            )
    out.seconds = time.perf_counter() - started
    return out


def _copy(row: FindingRow | PhotoRow, capture_id: int) -> FindingRow | PhotoRow:
    columns = {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key != "id"}
    columns["capture_id"] = capture_id
    return type(row)(**columns)


def store(session: Session, derived: Derived) -> DerivedRow:
    """Replace what the catalog holds for the capture with ``derived``."""
    catalog_findings.forget(session, [derived.capture_id])
    rows: list[FindingRow | PhotoRow] = [*derived.findings, *derived.photos]
    earlier: list[FindingRow | PhotoRow] = [
        *catalog_findings.of_records(session, derived.revisited),
        *photohashes.of_records(session, derived.revisited),
    ]
    rows += [_copy(r, derived.capture_id) for r in earlier]
    session.add_all(rows)
    session.flush()  # the photos' ids, for the search index
    photohashes.index(session, [r for r in rows if isinstance(r, PhotoRow)])
    summary = DerivedRow(
        capture_id=derived.capture_id,
        derived_at=datetime.now(UTC),
        extractor=EXTRACTOR,
        findings=sum(isinstance(r, FindingRow) for r in rows),
        photos=sum(isinstance(r, PhotoRow) for r in rows),
        seconds=round(derived.seconds, 4),
    )
    session.add(summary)
    return summary


def derive_and_store(
    archive: Archive, row: CaptureRow, regions: Sequence[str] = DEFAULT_REGIONS
) -> DerivedRow:
    derived = derive(archive, row, regions)
    with archive.catalog.session() as s:
        return store(s, derived)


def derive_sealed(
    archive: Archive, row: CaptureRow, policy: AlertPolicy, regions: Sequence[str]
) -> list[dict[str, Any]] | None:
    """At capture time, after sealing: derive, store, alert. None when it failed: the capture
    is sealed evidence whatever happens here, and ``lastseen indicators --rebuild`` redoes it."""
    try:
        derive_and_store(archive, row, regions)
        return raise_alerts(archive, row, policy)
    except Exception:  # derived data must never cost a sealed capture
        log.exception("identifiers of capture %s not derived", row.id)
        return None
