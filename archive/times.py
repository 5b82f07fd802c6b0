"""Evidence rule 3: all times are UTC, RFC 3339, with microseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, as an aware UTC time (evidence rule 3)."""
    return datetime.now(UTC)


def rfc3339(value: datetime) -> str:
    """The one way lastseen writes a time: ``2026-11-29T05:32:36.123456Z``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: all times are UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_or_none(value: datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None
