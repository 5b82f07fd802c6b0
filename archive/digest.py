"""SHA-256 everywhere: record digests in the WARC, and whole-file hashes computed while writing."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

PREFIX = "sha256:"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def warc_digest(data: bytes) -> str:
    """The form every digest takes in our WARC headers: ``sha256:<64 lowercase hex>``."""
    return PREFIX + sha256_hex(data)


class WarcDigester:
    """Drop-in for warcio's ``Digester``: same interface, SHA-256, lowercase hex.

    warcio's own digester is SHA-1 in base32; ``warcio check`` accepts hex for any algorithm,
    so this is what we hand warcio when it asks for a digester.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def __str__(self) -> str:
        return PREFIX + self._hash.hexdigest()


class HashingWriter:
    """Wraps a binary file: every byte written goes through SHA-256 on its way to disk.

    The hash of a finished evidence file is therefore the hash of what was written, never the
    result of reading the file back.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._hash.update(data)
        self._size += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def tell(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        return self._size

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def file_sha256(stream: BinaryIO, chunk_size: int = 1 << 20) -> str:
    """Hash a stream by reading it: only for verification, never to seal what we wrote."""
    h = hashlib.sha256()
    while chunk := stream.read(chunk_size):
        h.update(chunk)
    return h.hexdigest()
