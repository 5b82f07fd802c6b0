"""Errors of the crawler half; each message is one line a user can act on."""

from __future__ import annotations


class CrawlerError(Exception):
    """Base class for the crawler's own errors."""


class SetupError(CrawlerError):
    """The machine lacks something lastseen needs (a browser, a writable folder)."""


class InputError(CrawlerError):
    """What the user gave us cannot be used (not a URL, a missing or invalid seed file)."""
