"""Read records back from a sealed WARC file (streaming; the file is never modified)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator


def read_payload(stream: BinaryIO, offset: int) -> bytes:
    """The payload (HTTP body for responses, content for resources) of the record at ``offset``."""
    stream.seek(offset)
    for record in ArchiveIterator(stream):
        return bytes(record.content_stream().read())
    raise ValueError(f"no WARC record at offset {offset}")


def iter_records(stream: BinaryIO) -> Iterator[Any]:
    """Every record of a WARC file, with its digests checked as it is read."""
    yield from ArchiveIterator(stream, check_digests=True)
