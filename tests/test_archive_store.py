"""The local store: files sealed once, never overwritten, never half-written under a final name."""

from __future__ import annotations

import os

import pytest

from archive.exceptions import StoreError
from archive.store.local import LocalStore, open_store


def test_a_sealed_file_is_read_only_and_hashed(tmp_path):
    import hashlib

    store = LocalStore(tmp_path / "s")
    pending = store.write("warcs/a.warc.gz")
    with pending as out:
        out.write(b"evidence")
    assert pending.sealed.sha256 == hashlib.sha256(b"evidence").hexdigest()
    path = store.path("warcs/a.warc.gz")
    assert path.read_bytes() == b"evidence"
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o222 == 0


def test_an_existing_evidence_file_is_never_overwritten(tmp_path):
    store = LocalStore(tmp_path / "s")
    with store.write("warcs/a.warc.gz") as out:
        out.write(b"first")
    with pytest.raises(StoreError, match="refusing to overwrite"):
        with store.write("warcs/a.warc.gz") as out:
            out.write(b"second")
    assert store.path("warcs/a.warc.gz").read_bytes() == b"first"
    assert store.incomplete() == []


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = LocalStore(tmp_path / "s")
    with pytest.raises(RuntimeError):
        with store.write("warcs/b.warc.gz") as out:
            out.write(b"half")
            raise RuntimeError("browser crashed")
    assert not store.exists("warcs/b.warc.gz")
    assert store.incomplete() == []


def test_names_cannot_escape_the_store(tmp_path):
    store = LocalStore(tmp_path / "s")
    with pytest.raises(StoreError):
        store.path("../outside.warc.gz")


def test_unknown_store_schemes_are_refused():
    with pytest.raises(StoreError, match="unsupported store"):
        open_store("ftp://example.org/x")
