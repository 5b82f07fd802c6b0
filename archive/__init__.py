"""lastseen's archive: WARC writing, hashing, stores, catalog and custody. No browser needed.

``verify`` and ``export`` run on a machine without a browser, years after the capture, so nothing
here imports Scrapy or Playwright (ruff's banned-api rule enforces it).

The names below are imported on first use: ``import archive`` (and with it the offline verifier,
``archive.bundle.verify``) loads neither SQLAlchemy nor boto3.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from archive.version import lastseen_version

if TYPE_CHECKING:
    from archive.capture import Capture, Exchange, HttpRequest, HttpResponse, Resource
    from archive.catalog.db import CaptureRow, Catalog
    from archive.exceptions import ArchiveError, CatalogError, CustodyError, StoreError
    from archive.seal.archive import Archive, ArchiveConfig
    from archive.store.local import LocalStore, SealedFile, open_store

    __version__: str

# Each name of the façade, and the module that defines it.
_HOMES = {
    "Archive": "archive.seal.archive",
    "ArchiveConfig": "archive.seal.archive",
    "ArchiveError": "archive.exceptions",
    "Capture": "archive.capture",
    "CaptureRow": "archive.catalog.db",
    "Catalog": "archive.catalog.db",
    "CatalogError": "archive.exceptions",
    "CustodyError": "archive.exceptions",
    "Exchange": "archive.capture",
    "HttpRequest": "archive.capture",
    "HttpResponse": "archive.capture",
    "LocalStore": "archive.store.local",
    "Resource": "archive.capture",
    "SealedFile": "archive.store.local",
    "StoreError": "archive.exceptions",
    "open_store": "archive.store.local",
}

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


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = lastseen_version()
    elif name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value
