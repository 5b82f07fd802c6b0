"""What sealing a capture learns from the captures of the same URL before it.

Before the WARC is written: which payloads are already stored (written as ``revisit`` records),
and, for a page that changed, the diff of its rendered text against the last live capture. After
the WARC is sealed, in the capture's own transaction: the payloads it stored in full go into the
payload index and the capture becomes a point of the URL's liveness time-line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from archive.capture import BODY_COMPLETE, Capture
from archive.catalog import payloads
from archive.catalog.db import CaptureRow, Catalog
from archive.catalog.timeline import (
    CHANGED,
    LIVE,
    NEW,
    UNCHANGED,
    Liveness,
    ObservationRow,
    classify,
    last_live,
    last_observation,
)
from archive.digest import sha256_hex
from archive.exceptions import ArchiveError
from archive.seal.changes import text_diff
from archive.times import rfc3339
from archive.warc.writer import MetadataRecord, Original, WrittenCapture

logger = logging.getLogger(__name__)

DIFF_TARGET = "urn:diff:"
DIFF_CONTENT_TYPE = "text/x-diff; charset=utf-8"


def payload_keys(capture: Capture) -> set[str]:
    """The index keys of every payload of the capture that a revisit could replace."""
    keys = set()
    for exchange in capture.exchanges:
        resp = exchange.response
        if resp is not None and resp.body and resp.body_state == BODY_COMPLETE:
            keys.add(f"response:{sha256_hex(resp.body)}")
    for res in capture.resources:
        if res.data:
            keys.add(f"resource:{sha256_hex(res.data)}")
    return keys


@dataclass
class Recapture:
    liveness: Liveness
    # None: write every payload in full (deduplication is off).
    originals: dict[str, Original] | None = None
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: list[MetadataRecord] = field(default_factory=list)
    previous_id: int | None = None
    baseline_id: int | None = None
    change: str | None = None
    diff_counts: tuple[int, int] | None = None

    @classmethod
    def prepare(
        cls,
        capture: Capture,
        catalog: Catalog,
        *,
        dedup: bool,
        read_record: Callable[[CaptureRow, str], bytes],
    ) -> Recapture:
        """Look at what is stored already; reads the catalog only, and with ``dedup`` the last
        live capture's DOM (through ``read_record``) to diff a changed page against it."""
        plan = cls(liveness=classify(capture))
        url = capture.requested_url
        with catalog.session() as s:
            if dedup:
                found = payloads.lookup(s, payload_keys(capture))
                plan.originals = {key: row.original() for key, row in found.items()}
                plan.locations = {
                    r.record_id: {"warc": r.warc_name, "offset": r.offset, "length": r.length}
                    for r in found.values()
                }
            previous = last_observation(s, url)
            baseline = last_live(s, url)
            plan.previous_id = previous.capture_id if previous else None
            base_row = s.get(CaptureRow, baseline.capture_id) if baseline else None
        if plan.liveness.state != LIVE:
            return plan
        if base_row is None:
            plan.change = NEW
            return plan
        plan.baseline_id = base_row.id
        main = capture.main.response if capture.main else None
        main_sha = sha256_hex(main.body) if main is not None else None
        dom = capture.resource("dom")
        dom_sha = sha256_hex(dom.data) if dom is not None else None
        same_dom = dom_sha is None or base_row.dom_sha256 in (None, dom_sha)
        plan.change = UNCHANGED if main_sha == base_row.payload_sha256 and same_dom else CHANGED
        if plan.change == CHANGED and dedup and dom is not None and base_row.dom_sha256:
            plan._diff(read_record, capture, base_row, dom.data)
        return plan

    def _diff(
        self,
        read_record: Callable[[CaptureRow, str], bytes],
        capture: Capture,
        base: CaptureRow,
        dom: bytes,
    ) -> None:
        try:
            before = read_record(base, "dom")
        except (ArchiveError, KeyError, OSError, ValueError) as exc:
            logger.warning("no diff against capture %s: its DOM cannot be read: %s", base.id, exc)
            return
        url = capture.final_url or capture.requested_url
        diff = text_diff(
            before,
            dom,
            f"capture {base.id} {rfc3339(base.captured_at)} {base.final_url or base.url}",
            f"this capture {rfc3339(capture.started_at)} {url}",
        )
        body = diff.text or "# the rendered text did not change; the page's markup did\n"
        self.metadata.append(
            MetadataRecord(
                name="diff",
                target_uri=DIFF_TARGET + url,
                content_type=DIFF_CONTENT_TYPE,
                data=body.encode("utf-8"),
                refers_to=base.records.get("dom", {}).get("record_id"),
            )
        )
        self.diff_counts = (diff.added, diff.removed)

    def record(self, session: Session, row: CaptureRow, written: WrittenCapture) -> None:
        """In the sealing transaction: index new payloads, add the time-line observation."""
        payloads.register(session, row.id, row.warc_name, written)
        own = {r.record_id: {"offset": r.offset, "length": r.length} for r in written.records}
        # Only a revisit's WARC-Refers-To points to its payload; a metadata record's (a video's
        # description, issue 13) points to what it describes.
        refers = {
            ref.record_id: ref.refers_to
            for ref in written.records
            if ref.refers_to and ref.record_type == "revisit"
        }
        records = dict(row.records)
        for kind, ref in records.items():
            target = refers.get(str(ref.get("record_id"))) if isinstance(ref, dict) else None
            if target is None:
                continue
            where = self.locations.get(target) or {"warc": row.warc_name, **own[target]}
            records[kind] = {**ref, "refers_to": {"record_id": target, **where}}
        for name, ref in written.metadata.items():
            records[name] = {"record_id": ref.record_id, "offset": ref.offset,
                             "length": ref.length, "target": ref.target_uri}  # fmt: skip
        row.records = records
        diff = written.metadata.get("diff")
        session.add(
            ObservationRow(
                capture_id=row.id,
                url=row.url,
                observed_at=row.captured_at,
                case_id=row.case_id,
                state=self.liveness.state,
                reason=self.liveness.reason,
                http_status=row.http_status,
                final_url=row.final_url,
                change=self.change,
                previous_capture_id=self.previous_id,
                baseline_capture_id=self.baseline_id,
                diff=(
                    {
                        "record_id": diff.record_id,
                        "offset": diff.offset,
                        "length": diff.length,
                        "lines_added": self.diff_counts[0] if self.diff_counts else None,
                        "lines_removed": self.diff_counts[1] if self.diff_counts else None,
                    }
                    if diff
                    else None
                ),
            )
        )
