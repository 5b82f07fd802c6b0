"""lastseen's archive: WARC writing, hashing, stores, catalog and custody. No browser needed.

``verify`` and ``export`` run on a machine without a browser, years after the capture, so nothing
here imports Scrapy or Playwright (ruff's banned-api rule enforces it).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from archive.capture import (
    Capture,
    Exchange,
    HttpRequest,
    HttpResponse,
    Resource,
)
from archive.catalog.db import CaptureRow, Catalog
from archive.exceptions import ArchiveError, CatalogError, CustodyError, StoreError
from archive.seal.archive import Archive, ArchiveConfig
from archive.store.local import LocalStore, SealedFile, open_store

try:
    __version__ = version("lastseen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Archive",
    "ArchiveConfig",
    "ArchiveError",
    "Capture",
    "CaptureRow",
    "Catalog",
    "CatalogError",
    "CustodyError",
    "Exchange",
    "HttpRequest",
    "HttpResponse",
    "LocalStore",
    "Resource",
    "SealedFile",
    "StoreError",
    "open_store",
]
