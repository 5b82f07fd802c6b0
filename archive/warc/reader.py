"""Read records back from a sealed WARC file: the one way lastseen reads WARC records.

Streaming, as warcio reads them: a record's content is read while the file is, once, and never
held whole in memory; the file is never modified.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

CHUNK = 1 << 20
# The most bytes of header lines (WARC and HTTP headers, chunk sizes) a record may have with no
# content between them: real headers are a few KB (a URL up to 2 MB), and warcio holds them whole.
MAX_HEADERS = 8 << 20


class _BoundedReader(DecompressingBufferedReader):  # type: ignore[misc]
    """warcio's reader, refusing a run of header lines beyond MAX_HEADERS: a hostile file (one
    endless line inside a small gzip member, or millions of short ones) is otherwise read into
    memory whole."""

    in_headers = 0

    def readline(self, length: int | None = None) -> bytes:
        allowed = MAX_HEADERS + 1 - self.in_headers
        line: bytes = super().readline(allowed if length is None else min(length, allowed))
        self.in_headers += len(line)
        if self.in_headers > MAX_HEADERS:
            raise ValueError(f"headers over {MAX_HEADERS:,} bytes")
        return line

    def read(self, length: int | None = None) -> bytes:
        self.in_headers = 0
        data: bytes = super().read(length)
        return data


class _Iterator(ArchiveIterator):  # type: ignore[misc]
    def __init__(self, stream: IO[bytes], *, check_digests: bool) -> None:
        super().__init__(stream, check_digests=check_digests)
        self.reader = _BoundedReader(self.fh)  # as warcio makes it, bounded

    def _next_record(self, next_line: Any) -> Any:
        self.reader.in_headers = 0  # each record's headers count on their own
        return super()._next_record(next_line)


class Record:
    """One record of a WARC file, as ``scan`` meets it: valid until the scan moves on."""

    def __init__(self, record: Any, iterator: Any) -> None:
        self._record = record
        self._iterator = iterator
        # Where this record starts in the (uncompressed or gzip) file: warcio's own offset.
        self.offset: int = iterator.offset
        self.headers: Any = record.rec_headers  # the WARC headers (warcio StatusAndHeaders)

    @property
    def type(self) -> str:
        return str(self._record.rec_type)

    @property
    def id(self) -> str:
        return self.headers.get_header("WARC-Record-ID") or ""

    @property
    def http_headers(self) -> Any:
        """The HTTP status line and headers of a response or request (warcio StatusAndHeaders);
        None for other records."""
        return self._record.http_headers

    def header(self, name: str) -> str | None:
        value = self.headers.get_header(name)
        return str(value) if value is not None else None

    @property
    def length(self) -> int:
        """The record's length in the file; asking for it reads the record to its end."""
        return int(self._iterator.get_record_length())

    def content(self) -> IO[bytes]:
        """The payload: the HTTP body of a response or request; the whole block of a resource
        or metadata record."""
        stream: IO[bytes] = self._record.content_stream()
        return stream

    def chunks(self) -> Iterator[bytes]:
        content = self.content()
        while chunk := content.read(CHUNK):
            yield chunk

    def read(self) -> bytes:
        return bytes(self.content().read())

    def digest_problems(self) -> list[str]:
        """Why the record's block or payload digest does not match (empty: it matches, or the
        scan does not check digests). The record is read to its end first."""
        if self._iterator.record is self._record:
            self._iterator.read_to_end()
        checker = self._record.digest_checker
        return list(checker.problems) if checker.passed is False else []


def scan(stream: IO[bytes], *, check_digests: bool = False) -> Iterator[Record]:
    """Every record from the stream's position to the end of the file, in order.

    With ``check_digests``, each record's WARC-Block-Digest and WARC-Payload-Digest are checked
    as it is read (as ``warcio check`` does): see ``Record.digest_problems``.
    """
    iterator = _Iterator(stream, check_digests=check_digests)
    for record in iterator:
        yield Record(record, iterator)


def record_at(stream: IO[bytes], offset: int) -> Record:
    """The record that starts at ``offset`` (an offset the writer or the payload index gave)."""
    stream.seek(offset)
    for record in scan(stream):
        return record
    raise ValueError(f"no WARC record at offset {offset}")


def read_payload(stream: IO[bytes], offset: int) -> bytes:
    """The payload of the record at ``offset`` (HTTP body for responses, content for resources)."""
    return record_at(stream, offset).read()
