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
