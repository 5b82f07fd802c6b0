"""Complete copies of videos as WARC records, streamed from disk.

Each copy is a ``resource`` record ``urn:media:<page URL>#<n>`` concurrent to the page, followed
by a ``metadata`` record ``urn:media-info:<page URL>#<n>`` (WARC-Refers-To the resource) with
what made it and what it holds. The file is read twice in fixed-size chunks (warcio digests a
seekable payload, seeks back, then copies it), so a 2 GB video needs no 2 GB of memory.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from archive.capture import MediaFile

MEDIA_TARGET = "urn:media:"
MEDIA_INFO_TARGET = "urn:media-info:"


class BoundedFile(io.RawIOBase):
    """The first ``length`` bytes of a file, seekable, as warcio's payload stream."""

    def __init__(self, path: str, length: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this object
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        self._file.seek(self._pos)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._pos
        size = left if size is None or size < 0 else min(size, left)
        data = self._file.read(size) if size > 0 else b""
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


def media_target(page_url: str, number: int) -> str:
    return f"{MEDIA_TARGET}{page_url}#{number}"


def write_media(
    writer: Any,
    write: Callable[[Any], Any],
    media: list[MediaFile],
    page_url: str,
    headers: dict[str, str],
) -> list[tuple[Any, Any]]:
    """Write each copy and its metadata record; ``write`` stores a record and returns its ref.
    Returns (resource ref, metadata ref) per copy, in order."""
    out = []
    for number, item in enumerate(media, 1):
        extra = {"WARC-Truncated": item.truncated} if item.truncated else {}
        with BoundedFile(item.path, item.length) as stream:
            record = writer.create_warc_record(
                media_target(page_url, number),
                "resource",
                payload=stream,
                length=item.length,
                warc_content_type=item.content_type,
                warc_headers_dict={**headers, **extra, "WARC-Source-URI": item.source_url},
            )
            ref = write(record)
        info = {
            "source_url": item.source_url,
            "resource": ref.record_id,
            "sha256": ref.payload_sha256,
            "bytes": item.length,
            "truncated": item.truncated,
            **item.info,
        }
        body = json.dumps(info, indent=2, sort_keys=True, default=str).encode("utf-8")
        record = writer.create_warc_record(
            f"{MEDIA_INFO_TARGET}{page_url}#{number}",
            "metadata",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type="application/json",
            warc_headers_dict={**headers, "WARC-Refers-To": ref.record_id},
        )
        out.append((ref, write(record)))
    return out


def payload_chunks(stream: Any, offset: int) -> Iterator[bytes]:
    """The payload of the record at ``offset``, a chunk at a time: a video is never held whole.
    A stream that cannot seek (an S3 object) is read up to the record and that is dropped."""
    from archive.warc.reader import scan

    if stream.seekable():
        stream.seek(offset)
    else:
        left = offset
        while left > 0:
            skipped = stream.read(min(left, 1 << 20))
            if not skipped:
                raise ValueError(f"no WARC record at offset {offset}")
            left -= len(skipped)
    for record in scan(stream):
        yield from record.chunks()
        return
    raise ValueError(f"no WARC record at offset {offset}")
