"""Identifiers in the service: the API's search, a capture's identifiers with the other captures
that share them, and the capture page and search page in real headless Chromium."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from crawler.browser import launch_options
from demo.site import AdSite
from tests.service_fixtures import ALICE, Service, secret, start_service


@pytest.fixture(scope="module")
def captured(site: AdSite, tmp_path_factory: pytest.TempPathFactory) -> Any:
    store: Path = tmp_path_factory.mktemp("ids") / "evidence"
    svc = start_service(store, None, LASTSEEN_ALLOW_PRIVATE="1")
    requests = {}
    for slug, case in (("nieuw-in-brussel", "BXL-1"), ("iphone-te-koop", "ANT-2")):
        requests[slug] = svc.report(site.url(f"/classified/{slug}"), case=case)["id"]
    done = {slug: svc.wait(rid, timeout=120) for slug, rid in requests.items()}
    assert all(d["status"] == "stored" for d in done.values()), done
    yield svc, requests, {slug: d["capture"]["id"] for slug, d in done.items()}
    assert svc.stop() == 0


def test_the_api_finds_a_number_in_any_written_form_with_its_evidence_records(
    captured: Any,
) -> None:
    svc, _, captures = captured
    for typed in ("0470 12 34 56", "+32470123456", "wa.me/32470123456"):
        reply = svc.get("/api/search?" + urllib.parse.urlencode({"value": typed}))
        assert reply.status == 200, reply.body
        results = reply.json()["results"]
        assert {r["capture_id"] for r in results} == set(captures.values()), typed
        assert all(len(r["record_sha256"]) == 64 and r["record_id"] for r in results)
    only = svc.get(
        "/api/search?" + urllib.parse.urlencode({"value": "0470123456", "case": "ANT-2"})
    )
    assert {r["case"] for r in only.json()["results"]} == {"ANT-2"}
    assert svc.get("/api/search?value=x", token=None).status == 401
    assert svc.get("/api/search").status == 422


def test_a_captures_identifiers_name_the_other_captures_that_show_them(captured: Any) -> None:
    svc, requests, captures = captured
    reply = svc.get(f"/api/captures/{requests['nieuw-in-brussel']}/identifiers")
    assert reply.status == 200, reply.body
    phone = next(i for i in reply.json()["identifiers"] if i["value"] == "+32470123456")
    assert [o["capture_id"] for o in phone["others"]] == [captures["iphone-te-koop"]]
    assert phone["others"][0]["request_id"] == requests["iphone-te-koop"]
    assert any(i["kind"] == "image" for i in reply.json()["identifiers"])


def test_the_capture_page_links_each_identifier_to_the_captures_sharing_it(
    captured: Any,
) -> None:
    svc, requests, captures = captured
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(svc.url + "/")
        page.fill("input[name=token]", secret(ALICE))
        page.click("button:text('Sign in')")
        page.goto(f"{svc.url}/captures/{requests['nieuw-in-brussel']}")
        row = page.locator("table.identifiers tr", has_text="+32470123456")
        expect(row).to_contain_text(f"capture {captures['iphone-te-koop']} (ANT-2)")
        row.locator(f"a:text('capture {captures['iphone-te-koop']}')").click()
        expect(page.locator("h1")).to_contain_text(f"Capture request {requests['iphone-te-koop']}")
        page.fill("header input[name=q]", "0032 470 12 34 56")
        page.click("header button:text('Search')")
        # Text, tel: and WhatsApp link in one ad, a Signal link in the other; each in the HTML
        # as served and in the rendered DOM.
        expect(page.locator("table.hits tbody tr")).to_have_count(8)
        expect(page.locator(f"tr[data-capture='{captures['iphone-te-koop']}']")).to_have_count(2)
        page.fill("section input[name=q]", "+33 6 00 00 00 00")
        page.click("section button:text('Search')")
        expect(page.locator("#no-hits")).to_be_visible()
        browser.close()


def test_the_search_page_needs_a_session(captured: Any) -> None:
    svc: Service = captured[0]
    reply = svc.get("/search?q=0470", token=None)
    assert reply.status in (200, 401) and b"token" in reply.body.lower()
