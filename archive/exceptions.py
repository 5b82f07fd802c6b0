"""Every error the archive raises on purpose; messages are written for the person reading them."""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class: something the user can act on, with a one-line message."""


class StoreError(ArchiveError):
    """The evidence store cannot be reached, written or read."""


class CatalogError(ArchiveError):
    """The catalog database cannot be opened, migrated or queried."""


class CustodyError(ArchiveError):
    """The chain of custody is broken or cannot be extended."""


class InvalidRequest(ArchiveError):
    """What was asked cannot be done as given (unknown case, bad path, no key): nothing written."""


class ExportError(ArchiveError):
    """An evidence bundle could not be completed; no file was left under the bundle's name."""


class TimestampError(ArchiveError):
    """A timestamp authority could not be reached or did not grant a timestamp."""


class ConfigError(ArchiveError):
    """A setting (LASTSEEN_STORE, LASTSEEN_RETENTION, ...) has a value lastseen cannot use."""


class StoreUnreachable(StoreError):
    """The object store did not answer in time or refused the connection: try again later."""


class ChecksumRejected(StoreError):
    """The object store refused bytes that do not match the SHA-256 sent with them."""
