"""The stand-in social site behaves as the real ones do where signed-in capture meets them: a
login wall without a session, a session that rotates on every page, a feed that grows by XHR as
the reader scrolls, texts behind "See more", photos in srcset."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from crawler.browser import launch_options
from demo.social import GROUP, SocialSite


def get(site: SocialSite, path: str, sid: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
    conn.request("GET", path, headers={"Cookie": f"sid={sid}"} if sid else {})
    response = conn.getresponse()
    response.read()
    return response


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())  # type: ignore[arg-type]
        yield browser
        browser.close()


def test_without_a_session_a_page_redirects_to_the_login_wall(social):
    response = get(social, "/post/2")
    assert response.status == 302
    assert response.getheader("Location") == "/login?next=%2Fpost%2F2"


def test_signing_in_gives_a_session_that_rotates_on_every_page():
    site = SocialSite(grace=0.3).start()
    try:
        sid = site.sign_in()["sid"]
        first = get(site, "/post/1", sid)
        assert first.status == 200
        rotated = first.getheader("Set-Cookie")
        assert rotated.startswith("sid=") and not rotated.startswith(f"sid={sid};")
        new_sid = rotated.split(";")[0].removeprefix("sid=")
        time.sleep(0.5)
        assert get(site, "/post/1", sid).status == 302  # the old sid is gone after the grace
        assert get(site, "/post/1", new_sid).status == 200
        site.sign_out_everyone()
        assert get(site, "/post/1", new_sid).status == 302
    finally:
        site.stop()


def test_a_wrong_password_does_not_sign_in(social):
    with pytest.raises(ValueError):
        social.sign_in("anna.v", "wrong")


def test_the_feed_loads_more_posts_as_the_reader_scrolls_and_opens_see_more(social, browser):
    context = browser.new_context(storage_state=social.storage_state(social.sign_in()))
    page = context.new_page()
    page.goto(social.url(f"/group/{GROUP}"))
    assert page.locator("[data-testid=account]").inner_text() == "Anna Vermeulen"
    assert page.locator("article.post").count() == social.page_size
    for _ in range(20):
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(150)
    page.wait_for_function(
        f"document.querySelectorAll('article.post').length == {len(social.posts)}"
    )
    assert not page.locator("#post-5 .more").is_visible()
    page.locator("#post-5 button.see-more").click()
    assert "call +32 470 55 05 05" in page.locator("#post-5 .more").inner_text()
    widths = page.eval_on_selector("#post-1 img", "img => img.currentSrc")
    assert widths.startswith(social.url("/media/1-"))
    context.close()


def test_cookies_txt_and_storage_state_hold_the_same_session(social):
    cookies = social.sign_in()
    text = social.cookies_txt(cookies)
    assert f"#HttpOnly_{social.host}\tFALSE\t/\tFALSE\t" in text
    assert {c["name"] for c in social.storage_state(cookies)["cookies"]} == {"sid", "device"}
