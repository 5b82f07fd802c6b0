"""A URL as long as a browser takes (thousands of characters that do not compress) has a place in
every catalog: PostgreSQL refuses a btree index entry over about 2,700 bytes, so the URL columns
are indexed by hash there (and kept unique where the watch list needs it)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from archive import Archive, ArchiveConfig
from archive.catalog import watchlist
from archive.catalog.timeline import observations
from archive.job import Job
from tests.test_archive_revisit import T0, capture, page

LONG = "http://ads.example/ad/7?q=" + secrets.token_urlsafe(4100)  # about 5,500 characters


def test_a_very_long_url_is_observed_and_watched(store: Path, db_url: str | None):
    assert len(LONG) > 5400
    archive = Archive.open(ArchiveConfig(store=str(store), db=db_url, operator="op", dedup=True))
    hostile = capture("http://ads.example/ad/7", page("Boat", 450), T0)
    hostile.requested_url = hostile.final_url = LONG
    sealed = archive.seal(hostile)
    now = datetime(2026, 12, 3, tzinfo=UTC)
    with archive.catalog.session() as s:
        assert [o.capture_id for o in observations(s, LONG)] == [sealed.id]
        (row,) = watchlist.sync_seeds(s, [Job(url=LONG, every=60)], now)
        assert watchlist.due(s, [LONG], now) == [row]
        assert watchlist.known(s, [LONG, LONG[:-1]]) == {LONG}
        found = Job(url=LONG, every=60).found(LONG + "x", "/ad/*")
        assert watchlist.discover(s, found, capture_id=sealed.id, now=now) is not None
    with archive.catalog.session() as s:
        assert watchlist.due(s, [LONG], now + timedelta(days=1))[-1].url == LONG + "x"
    # The watch list still holds a URL once.
    with pytest.raises(IntegrityError), archive.catalog.session() as s:
        s.add(watchlist.WatchRow(url=LONG, added_at=now, follow=[], tags=[], depth=0,
                                 obey_robots=False))  # fmt: skip
        s.flush()
    archive.close()
