"""Seed files for scheduled crawls: YAML with a schedule per seed, and the plain format kept."""

from __future__ import annotations

import pytest

from crawler.exceptions import InputError
from crawler.plan.seeds import format_every, parse_every, parse_yaml, read_seed_file

GOOD = """\
# watched for case BXL-2026-0412
- url: https://ads.example/transport/
  every: 15m
  case: BXL-2026-0412
  follow: ["https://ads.example/ad/*", "/profile/*"]
  depth: 2
  tags: [transport, uk]
  obey_robots: true
  alert: [Phone, image, telegram]
- url: https://other.example/list
  every: 1d
- https://third.example/ad/9
"""


def test_a_yaml_seed_file_gives_each_seed_its_schedule_and_rules(tmp_path):
    path = tmp_path / "seeds.yaml"
    path.write_text(GOOD)
    first, second, third = read_seed_file(path, case="DEFAULT")
    assert first.url == "https://ads.example/transport/"
    assert first.every == 15 * 60
    assert first.case == "BXL-2026-0412"
    assert first.follow == ("https://ads.example/ad/*", "/profile/*")
    assert (first.depth, first.tags, first.obey_robots) == (2, ("transport", "uk"), True)
    assert first.alert == ("image", "phone", "telegram")
    assert (second.every, second.case, second.depth, second.follow) == (86400, "DEFAULT", 1, ())
    assert second.alert == (), "a seed without alert: alerts as the crawl's options say"
    assert second.obey_robots is False, "evidence captures do not obey robots.txt by default"
    assert (third.url, third.every, third.line) == ("https://third.example/ad/9", None, 12)


def test_the_plain_one_url_a_line_format_still_works(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_text("# comment\nhttps://a.example/1\n\nhttps://a.example/2\nhttps://a.example/1\n")
    specs = read_seed_file(path, case="C-1")
    assert [(s.url, s.every, s.case) for s in specs] == [
        ("https://a.example/1", None, "C-1"),
        ("https://a.example/2", None, "C-1"),
    ]


def test_a_yaml_file_is_also_a_seed_file_for_a_plain_crawl(tmp_path):
    path = tmp_path / "watch.yml"
    path.write_text(GOOD)
    seeds = read_seed_file(path, case="X")
    assert [(s.url, s.case) for s in seeds][:2] == [
        ("https://ads.example/transport/", "BXL-2026-0412"),
        ("https://other.example/list", "X"),
    ]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("- url: https://a.example/\n  every: 15 minutes\n", 2, "every must look like 30s"),
        ("- url: https://a.example/\n  every: 0s\n", 2, "every must look like"),
        ("- url: https://a.example/\n  evry: 15m\n", 2, "unknown key 'evry'"),
        ("- url: ftp://a.example/\n", 1, "only http and https"),
        ("- every: 15m\n", 1, "has no url"),
        ("- url: https://a.example/\n  depth: -1\n", 2, "depth must be a whole number"),
        ("- url: https://a.example/\n  depth: two\n", 2, "depth must be a whole number"),
        ("- url: https://a.example/\n  obey_robots: maybe\n", 2, "true or false"),
        ("- url: https://a.example/\n  follow: [ad/*]\n", 2, "starts with / or *"),
        ("- url: https://a.example/\n  follow: ['ftp://a/*']\n", 2, "http(s) URL or a path"),
        ("- url: https://a.example/\n  case: [a, b]\n", 2, "case must be a single value"),
        ("- url: https://a.example/\n- url: https://a.example/\n", 2, "already listed at line 1"),
        ("- url: https://a.example/\n  every: 15m\n  every: 1h\n", 3, "given twice"),
        ("url: https://a.example/\n", 1, "expected a list of seeds"),
        ("- url: https://a.example/\n  tags: [a\n", 3, "not valid YAML"),
        ("- url: https://a.example/\n  alert: [phone, wa]\n", 2, "unknown alert kind(s) wa;"),
        ("- url: https://a.example/\n  alert: {phone: 1}\n", 2, "alert must be a single value"),
    ],
)
def test_a_bad_seed_is_named_by_its_line(text, line, message):
    with pytest.raises(InputError) as info:
        parse_yaml(text, "watch.yaml")
    assert str(info.value).startswith(f"watch.yaml, line {line}: "), str(info.value)
    assert message in str(info.value)


def test_an_empty_yaml_file_has_no_seeds(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(InputError, match="has no seeds"):
        read_seed_file(path)


@pytest.mark.parametrize(
    "text, seconds", [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), (" 2h ", 7200)]
)
def test_intervals_read_as_seconds_and_print_back(text, seconds):
    assert parse_every(text) == seconds
    assert parse_every(format_every(seconds)) == seconds


def test_one_reader_gives_jobs_that_name_their_line_in_either_format(tmp_path):
    plain = tmp_path / "seeds.txt"
    plain.write_text("# comment\nhttps://a.example/1\n\nhttps://a.example/2\n")
    assert [(j.url, j.line) for j in read_seed_file(plain)] == [
        ("https://a.example/1", 2),
        ("https://a.example/2", 4),
    ]
    listed = tmp_path / "seeds.yaml"
    listed.write_text(GOOD)
    assert [j.line for j in read_seed_file(listed)] == [2, 10, 12]


def test_a_seed_with_a_bad_url_and_a_bad_key_value_is_named_for_its_url(tmp_path):
    with pytest.raises(InputError, match="line 1: only http and https"):
        parse_yaml("- url: ftp://a.example/\n  every: soon\n", "watch.yaml")


def test_a_seed_says_whether_its_video_is_copied_and_the_watch_list_keeps_it(tmp_path, db_url):
    from datetime import UTC, datetime

    from archive.catalog.db import Catalog
    from archive.catalog.watchlist import get, sync_seeds

    path = tmp_path / "seeds.yaml"
    path.write_text(
        "- url: https://a.example/v\n  media: true\n"
        "- url: https://a.example/w\n  media: false\n- url: https://a.example/x\n"
    )
    seeds = read_seed_file(path)
    assert [s.media for s in seeds] == [True, False, None]
    catalog = Catalog(db_url or f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    with catalog.session() as s:
        sync_seeds(s, seeds, datetime.now(UTC))
    with catalog.session() as s:
        assert [get(s, seed.url).job().media for seed in seeds] == [True, False, None]
    catalog.dispose()
    with pytest.raises(InputError, match="media must be true or false"):
        parse_yaml("- url: https://a.example/\n  media: sometimes\n")
