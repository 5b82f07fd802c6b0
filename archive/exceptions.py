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
