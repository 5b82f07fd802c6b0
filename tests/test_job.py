"""A job (a URL to capture, and why) keeps its case, schedule and rules on the way through the
watch list, and a link it leads to inherits them."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import pytest

from archive.catalog import watchlist
from archive.catalog.db import Catalog
from archive.job import FOUND, REQUESTED, Job, PrintOf

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
SEED = Job(
    url="https://ads.example/transport/",
    case="BXL-2026-0412",
    every=900,
    follow=("/ad/*",),
    depth=2,
    tags=("transport",),
    obey_robots=True,
    alert=("image", "phone"),
    line=3,
)


def test_a_job_is_a_value_and_where_a_seed_file_states_it_does_not_matter():
    assert SEED == Job(**{**SEED.__dict__, "line": 40})
    with pytest.raises(FrozenInstanceError):
        SEED.url = "https://elsewhere.example/"  # type: ignore[misc]
    assert (SEED.reason, SEED.site) == (REQUESTED, SEED.url)


def test_a_link_found_by_a_rule_inherits_the_case_schedule_and_rules_one_level_less_deep():
    seed = Job(**{**SEED.__dict__, "note": "from the tip line", "print_of": PrintOf(1, "ab")})
    ad = seed.found("https://ads.example/ad/7", "/ad/*")
    assert (ad.case, ad.every, ad.follow, ad.tags, ad.obey_robots, ad.alert) == (
        "BXL-2026-0412", 900, ("/ad/*",), ("transport",), True, ("image", "phone")
    )  # fmt: skip
    assert (ad.depth, ad.reason, ad.rule) == (1, FOUND, "/ad/*")
    assert (ad.seed, ad.found_on, ad.site) == (seed.url, seed.url, seed.url)
    assert (ad.note, ad.print_of, ad.line) == (None, None, None)
    deeper = ad.found("https://ads.example/ad/8", "/ad/*")
    assert (deeper.depth, deeper.seed, deeper.found_on) == (0, seed.url, ad.url)


def test_the_watch_list_gives_back_the_job_it_was_given(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    try:
        with catalog.session() as s:
            watchlist.sync_seeds(s, [SEED], NOW)
            ad = SEED.found("https://ads.example/ad/7", "/ad/*")
            watchlist.discover(s, ad, capture_id=None, now=NOW)
        with catalog.session() as s:
            seed_row = watchlist.get(s, SEED.url)
            ad_row = watchlist.get(s, ad.url)
            assert seed_row is not None and ad_row is not None
            assert seed_row.job() == SEED
            # Why it was found (rule, reason) is the run's to say, not the watch list's.
            assert ad_row.job() == Job(**{**ad.__dict__, "reason": REQUESTED, "rule": None})
    finally:
        catalog.dispose()
