"""Follow rules: which links of a watched page are captured too (same site unless named)."""

from __future__ import annotations

import pytest

from crawler.plan.follow import matching_links

SEED = "https://ads.example/transport/"
LINKS = [
    "https://ads.example/ad/1",
    "https://ads.example/ad/1#photos",
    "https://ads.example/ad/2?ref=list",
    "https://www.ads.example/ad/3",
    "https://evil.example/ad/4",
    "https://cdn.example/ad/5",
    "https://ads.example/help",
    "mailto:someone@ads.example",
]


@pytest.mark.parametrize(
    "rule, expected",
    [
        (
            "https://ads.example/ad/*",
            ["https://ads.example/ad/1", "https://ads.example/ad/2?ref=list"],
        ),
        ("/ad/*", ["https://ads.example/ad/1", "https://ads.example/ad/2?ref=list"]),
        (
            "*/ad/*",
            [
                "https://ads.example/ad/1",
                "https://ads.example/ad/2?ref=list",
                "https://www.ads.example/ad/3",
            ],
        ),
        ("https://cdn.example/ad/*", ["https://cdn.example/ad/5"]),
        ("https://*/help", ["https://ads.example/help"]),
    ],
)
def test_rules_follow_the_seeds_site_unless_they_name_another_host(rule, expected):
    assert [link for link, _ in matching_links([rule], SEED, LINKS)] == expected


def test_each_link_is_followed_once_and_the_rule_that_matched_is_kept():
    found = matching_links(["/nothing/*", "/ad/*"], SEED, LINKS)
    assert found[0] == ("https://ads.example/ad/1", "/ad/*")
    assert len({link for link, _ in found}) == len(found)
