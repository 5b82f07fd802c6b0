"""Telling a login wall from the page (crawler.profiles.walls), without a browser: the built-in
walls of the sites investigators meet most, a profile's own rules, and the signed-in mark."""

from __future__ import annotations

import pytest

from crawler.profiles.walls import verdict, walls_for


@pytest.mark.parametrize(
    ("page", "landed"),
    [
        ("https://www.facebook.com/groups/123/posts/456/",
         "https://www.facebook.com/login/?next=https%3A%2F%2Fwww.facebook.com%2Fgroups%2F123"),
        ("https://www.facebook.com/groups/123/", "https://www.facebook.com/checkpoint/block/"),
        ("https://www.instagram.com/p/Cx1/", "https://www.instagram.com/accounts/login/?next=/p/Cx1/"),
        ("https://www.tiktok.com/@someone/video/1", "https://www.tiktok.com/login?redirect_url=x"),
        ("https://x.com/someone/status/1", "https://x.com/i/flow/login?redirect_after_login=%2F"),
        ("https://twitter.com/someone/status/1", "https://twitter.com/i/flow/login"),
    ],
)  # fmt: skip
def test_the_big_sites_login_pages_are_walls_without_any_rule_of_the_profile(page, landed):
    walls = walls_for(landed, {}, {})
    assert verdict(walls, [page, landed], None).startswith("redirected to a login page")
    assert verdict(walls_for(page, {}, {}), [page], {"wall": False, "signed_in": None}) is None


def test_a_sign_in_form_on_the_page_itself_is_a_wall():
    walls = walls_for("https://www.facebook.com/groups/1/", {}, {})
    assert "form#login_form" in walls.check_args()["wall"]
    found = verdict(
        walls, ["https://www.facebook.com/groups/1/"], {"wall": True, "signed_in": None}
    )
    assert found.startswith("the page shows a sign-in form")


def test_a_profiles_own_rules_and_its_signed_in_mark():
    walls = walls_for("https://ads.example/vip/1", {"text": "Welcome back"},
                      {"urls": ["*://ads.example/members/login*"], "selector": "#signin"})  # fmt: skip
    assert walls.check_args() == {"wall": "#signin", "selector": None, "text": "Welcome back"}
    assert verdict(walls, ["https://ads.example/members/login?to=vip"], None)
    missing = verdict(walls, ["https://ads.example/vip/1"], {"wall": False, "signed_in": False})
    assert missing == "the page does not show the signed-in mark ('Welcome back')"
    assert verdict(walls, ["https://ads.example/vip/1"], {"wall": False, "signed_in": True}) is None
    # Another site's login page is not this site's wall, and a lookalike host is not Facebook.
    assert walls_for("https://notfacebook.com.evil/login", {}, {}).urls == ()
