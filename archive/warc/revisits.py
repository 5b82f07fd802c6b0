"""Revisit records and the stored records they point to, as an evidence bundle needs them.

A scheduled recapture writes a payload that is already stored (an unchanged page, an image seen
in many ads, the screenshot and rendered DOM of a page that did not change) as a WARC ``revisit``
record (profile identical-payload-digest) pointing to the first copy. That copy can be in another
capture's WARC file, of the same case or of another one. A bundle is complete only with those
files: this module reads the revisit records of a WARC and copies an original's payload out of the
file that holds it (the catalog's payload index, ``archive.catalog.payloads``, says which file).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator

from archive.capture import PDF_PRINT_OF

REVISIT = "revisit"
_CHUNK = 1 << 20
# Captures sealed before the print was a field of its own said it only in this sentence:
# "rendered DOM identical (sha256:...) to capture 12, whose PDF print stands for this one too".
# Sealed evidence is never rewritten, so their exports still read it.
_SAID_PRINT_OF = re.compile(r"\bto capture (\d+)\b")


@dataclass(frozen=True)
class Revisit:
    """One revisit record: which stored record holds its payload, and that payload's SHA-256."""

    record_id: str
    refers_to: str
    target_uri: str
    payload_sha256: str  # lowercase hex
    refers_to_date: str | None = None

    @classmethod
    def from_headers(cls, headers: Any) -> Revisit | None:
        """The revisit a record's WARC headers describe; None for any other record."""
        if headers.get_header("WARC-Type") != REVISIT:
            return None
        digest = headers.get_header("WARC-Payload-Digest") or ""
        algorithm, _, value = digest.partition(":")
        return cls(
            record_id=headers.get_header("WARC-Record-ID") or "",
            refers_to=headers.get_header("WARC-Refers-To") or "",
            target_uri=headers.get_header("WARC-Target-URI") or "",
            payload_sha256=value.lower() if algorithm.lower() == "sha256" else "",
            refers_to_date=headers.get_header("WARC-Refers-To-Date"),
        )

    @property
    def original_type(self) -> str:
        """A revisit only ever replaces a record of the same kind: responses for web
        addresses, resources (screenshot, DOM, PDF, TLS chain) for ``urn:`` targets."""
        return "resource" if self.target_uri.startswith("urn:") else "response"


def print_of(provenance: dict[str, Any]) -> int | None:
    """The capture whose PDF print stands for this one, when no PDF was printed because the
    rendered page had not changed (``PDF_PRINT_OF``, written by the crawler)."""
    stated = provenance.get(PDF_PRINT_OF)
    if isinstance(stated, dict):
        number = stated.get("capture_id")
        return number if isinstance(number, int) else None
    said = provenance.get("pdf_not_printed")
    match = _SAID_PRINT_OF.search(said) if isinstance(said, str) else None
    return int(match.group(1)) if match else None


def copy_payload(stream: BinaryIO, offset: int, out: IO[bytes]) -> tuple[str, str]:
    """Copy the payload of the record at ``offset`` of a WARC file to ``out``; returns the
    record's id and the payload's SHA-256."""
    stream.seek(offset)
    for record in ArchiveIterator(stream):
        digest = hashlib.sha256()
        content = record.content_stream()
        while chunk := content.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        return record.rec_headers.get_header("WARC-Record-ID") or "", digest.hexdigest()
    raise ValueError(f"no WARC record at offset {offset}")
