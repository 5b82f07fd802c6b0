"""Revisit records and the stored records they point to, as an evidence bundle needs them.

A scheduled recapture writes a payload that is already stored (an unchanged page, an image seen
in many ads, the screenshot and rendered DOM of a page that did not change) as a WARC ``revisit``
record (profile identical-payload-digest) pointing to the first copy. That copy can be in another
capture's WARC file, of the same case or of another one. A bundle is complete only with those
files: this module reads what a revisit record says; the catalog's payload index
(``archive.catalog.payloads``) says which stored file holds the original, and where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from archive.capture import PDF_PRINT_OF

REVISIT = "revisit"
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
