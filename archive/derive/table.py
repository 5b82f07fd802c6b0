"""``indicators.csv`` of a bundle: the identifiers and photos its captures show, as derived data.

Derived, not evidence: every row names the record it was found in (the WARC file's member in
the bundle, the WARC-Record-ID, the record's payload SHA-256 and the byte offset of the raw
text in that payload, or the image's URL), so that anyone can find it in the WARC with
``warcio`` alone and see that the record's bytes hold it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from archive.catalog import findings, photohashes
from archive.catalog.db import CaptureRow
from archive.derive.extraction import EXTRACTOR
from archive.times import rfc3339_or_none

NAME = "indicators.csv"
FIELDS = (
    "derived_by", "capture_id", "url", "captured_at", "kind", "value", "raw", "context",
    "source", "warc", "record_id", "record_sha256", "offset", "image_url", "pdq",
)  # fmt: skip


def indicators_csv(
    session: Session, rows: Sequence[CaptureRow], members: Mapping[str, str]
) -> bytes:
    """The CSV for these captures; ``members`` maps a WARC's store name to its bundle member."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for row in sorted(rows, key=lambda r: r.id):
        common = [EXTRACTOR, row.id, row.url, rfc3339_or_none(row.captured_at)]
        for f in findings.of_capture(session, row.id):
            warc = members.get(f.warc_name, os.path.basename(f.warc_name))
            writer.writerow(
                [
                    *common,
                    f.kind,
                    f.value,
                    f.raw,
                    f.context,
                    f.source,
                    warc,
                    f.record_id,
                    f.record_sha256,
                    f.offset,
                    "",
                    "",
                ]  # fmt: skip
            )
        for p in photohashes.of_capture(session, row.id):
            warc = members.get(p.warc_name, os.path.basename(p.warc_name))
            writer.writerow(
                [
                    *common,
                    "image",
                    p.pdq,
                    "",
                    "",
                    "image",
                    warc,
                    p.record_id,
                    p.record_sha256,
                    "",
                    p.url,
                    p.pdq,
                ]  # fmt: skip
            )
    return out.getvalue().encode()
