"""Where evidence files live. The default is a local folder; every file is sealed once.

A file is written under a temporary name in the store's ``.incoming/`` folder and hashed while
written; only a complete file is linked under its final name (``os.link`` refuses to replace an
existing file, so evidence is never overwritten), then made read-only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from archive.digest import HashingWriter
from archive.exceptions import StoreError

if TYPE_CHECKING:
    from archive.store.s3 import S3Store

INCOMING = ".incoming"


@dataclass(frozen=True)
class SealedFile:
    name: str  # key inside the store, e.g. warcs/2026/11/29/lastseen-...warc.gz
    location: str  # absolute path or URI, as shown to users
    sha256: str
    size: int


class LocalStore:
    """Evidence in a folder on this machine (the default: ./lastseen-data)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def uri(self) -> str:
        return str(self.root)

    def default_catalog_url(self) -> str:
        return f"sqlite:///{self.root / 'catalog.sqlite'}"

    def exists_at_all(self) -> bool:
        return self.root.is_dir()

    def prepare(self) -> None:
        """Create the folder on first use (never earlier: bad input must leave nothing behind)."""
        try:
            (self.root / INCOMING).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the evidence folder {self.root}: {exc.strerror}"
            ) from exc

    def path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root not in path.parents:
            raise StoreError(f"not a file of this store: {name}")
        return path

    def location(self, name: str) -> str:
        return str(self.path(name))

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def open(self, name: str) -> BinaryIO:
        try:
            return self.path(name).open("rb")
        except FileNotFoundError as exc:
            raise StoreError(
                f"evidence file missing from the store: {self.location(name)}"
            ) from exc

    def incomplete(self) -> list[Path]:
        """Files left behind by a writer that was killed: never evidence, kept for inspection."""
        folder = self.root / INCOMING
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def write(self, name: str) -> _PendingFile:
        """Start writing ``name``: use as a context manager, then read ``.sealed``."""
        self.prepare()
        final = self.path(name)
        tmp = self.root / INCOMING / (final.name + f".{os.getpid()}.open")
        return _PendingFile(self, name, final, tmp)


class _PendingFile:
    def __init__(self, store: LocalStore, name: str, final: Path, tmp: Path) -> None:
        self._store = store
        self._name = name
        self._final = final
        self._tmp = tmp
        self._fh: BinaryIO | None = None
        self.writer: HashingWriter | None = None
        self.sealed: SealedFile | None = None

    def __enter__(self) -> HashingWriter:
        self._fh = open(self._tmp, "xb")  # noqa: SIM115 - closed in __exit__
        self.writer = HashingWriter(self._fh)
        return self.writer

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._fh is not None and self.writer is not None
        try:
            if exc_type is None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)
            return
        self._final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self._tmp, self._final)
        except FileExistsError as exc:
            self._tmp.unlink(missing_ok=True)
            raise StoreError(f"refusing to overwrite existing evidence file {self._final}") from exc
        self._tmp.unlink()
        os.chmod(self._final, 0o444)
        _fsync_dir(self._final.parent)
        self.sealed = SealedFile(
            name=self._name,
            location=str(self._final),
            sha256=self.writer.hexdigest(),
            size=self.writer.size,
        )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(uri: str, timeout: float | None = None) -> LocalStore | S3Store:
    """The store named by ``LASTSEEN_STORE``: a folder path, ``file://`` URI or ``s3://BUCKET/PREFIX``
    (``timeout``: seconds an S3 store may take to answer)."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return LocalStore(parts.path if parts.scheme == "file" else uri)
    if parts.scheme == "s3":
        from archive.store.s3 import DEFAULT_TIMEOUT, S3Store  # boto3 loads only for an S3 store

        return S3Store.from_uri(uri, timeout=timeout or DEFAULT_TIMEOUT)
    raise StoreError(f"unsupported store {uri!r}: give a folder path or s3://BUCKET/PREFIX")
