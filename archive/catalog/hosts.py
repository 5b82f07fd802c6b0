"""The fleet's politeness per site: when its next page may start, and how long it is left alone
after refusing (429, 503). Rows of the catalog, so that every worker on every machine keeps the
same limits (``archive.catalog.queue`` takes them into account when it hands out jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Integer, String, Text, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base, Catalog, UTCDateTime

# A site that refused is left alone this long, doubled at each further refusal.
BACKOFF_BASE = 30.0
BACKOFF_MAX = 1800.0
REFUSED_STATUSES = (429, 503)
# Advisory lock key of the claims of one site (with the hash of the site's name).
_HOST_KEY = 0x1A57


class HostRow(Base):
    __tablename__ = "hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refusals: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Politeness:
    per_host: int = 2  # pages of one site at once, across the fleet (0: no limit)
    delay: float = 0.0  # seconds between the starts of two pages of one site, across the fleet


def site_of(url: str) -> str:
    """The site a URL's politeness is counted for (``www.`` aside, as crawler.page.hostslot)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def lock(catalog: Catalog, session: Session, host: str) -> None:
    if catalog.is_postgresql:
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(:h))"), {"k": _HOST_KEY, "h": host}
        )


def answered(session: Session, host: str, http_status: int | None, at: datetime) -> None:
    """A site that refused is backed off for the whole fleet; one that answers is forgiven."""
    site = session.get(HostRow, host, with_for_update=True)
    if http_status in REFUSED_STATUSES:
        if site is None:
            site = HostRow(host=host, refusals=0)
            session.add(site)
        site.refusals = (site.refusals or 0) + 1
        wait = min(BACKOFF_BASE * 2 ** (site.refusals - 1), BACKOFF_MAX)
        site.backoff_until = at + timedelta(seconds=wait)
        site.reason = f"HTTP {http_status}"
    elif site is not None and site.refusals:
        site.refusals = 0
        site.backoff_until = None
        site.reason = None
