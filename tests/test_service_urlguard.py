"""The URL guard refuses private-network addresses at submission and inside the browser.

Every test address is on loopback (127.0.0.0/8), and nothing is ever sent to a refused one: a
refused literal such as 10.0.0.1 or 169.254.169.254 is refused before any connection is tried.

The redirect and sub-request cases need a site the guard lets through, yet everything here is on
loopback. So the service allows exactly one address, 127.0.0.3 (``LASTSEEN_ALLOW_NETWORKS``),
where the "public" site runs, and an "internal" server listens on 127.0.0.2, which stays refused
like any loopback address. The public site redirects to the internal one and embeds an image
from it; the internal server counts every request it gets, so a guard that let one through
fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.middlewares.urlguard import UrlGuard, kind_of, parse_networks
from tests.conftest import run_cli
from tests.service_fixtures import Recorder, Service, html, start_service
from tests.warcs import read_warc


@pytest.fixture(scope="module")
def internal():
    server = Recorder("127.0.0.2", {"/secret": html("internal admin page"), "/pixel.png": html("")})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def public(internal: Recorder):
    pages = {
        "/to-internal": (302, [("Location", internal.url("/secret"))], b"moved"),
        "/embeds-internal": html(f'<h1>ad</h1><img src="{internal.url("/pixel.png")}">'),
        "/ad": html("<h1>an ordinary ad</h1>"),
    }
    server = Recorder("127.0.0.3", pages)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory):
    store = tmp_path_factory.mktemp("guarded") / "evidence"
    service = start_service(store, None, LASTSEEN_ALLOW_NETWORKS="127.0.0.3/32")
    yield service
    assert service.stop() == 0


@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://localhost:9/", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://127.0.0.2:9/", "127.0.0.2, a loopback address"),
        ("http://2130706433:9/", "resolves to 127.0.0.1, a loopback address"),
        ("http://[::1]:9/", "::1, a loopback address"),
        ("http://[::ffff:127.0.0.1]:9/", "a loopback address"),
        ("http://10.0.0.1/", "10.0.0.1, a private address"),
        ("http://192.168.1.1/admin", "192.168.1.1, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://100.100.100.200/", "a cloud metadata address"),
        ("http://0.0.0.0:9/", "an unspecified address"),
    ],
)
def test_a_url_into_a_private_network_is_refused_at_submission_and_recorded(
    guarded: Service, url: str, reason: str
):
    reply = guarded.post("/api/captures", {"url": url, "case": "SSRF"})
    assert reply.status == 422
    body = reply.json()
    assert body["status"] == "refused" and reason in body["detail"]
    stored = guarded.get(f"/api/captures/{body['id']}").json()
    assert stored["status"] == "refused" and reason in stored["error"]
    assert stored["capture"] is None


def test_a_refusal_is_in_the_custody_log(guarded: Service):
    reply = guarded.post("/api/captures", {"url": "http://10.9.8.7/", "case": "SSRF-LOG"})
    refused = reply.json()["id"]
    from archive import Archive, ArchiveConfig
    from archive.catalog.custody import entries

    archive = Archive.open(ArchiveConfig(store=str(guarded.store), operator="x"))
    log = [e for e in entries(archive.catalog) if e.details.get("report") == refused]
    archive.close()
    assert [(e.action, e.actor) for e in log] == [("refuse", "alice")]
    assert "10.9.8.7, a private address" in log[0].details["reason"]


def test_a_redirect_into_a_private_network_is_refused_in_the_browser(
    guarded: Service, public: Recorder, internal: Recorder
):
    before = list(internal.hits)
    accepted = guarded.report(public.url("/to-internal"), case="SSRF-REDIRECT")
    done = guarded.wait(accepted["id"])
    assert internal.hits == before, "the browser followed the redirect into the private network"
    assert done["status"] == "stored"  # the refused attempt is evidence too
    capture = done["capture"]
    assert capture["outcome"] == "refused"
    assert "127.0.0.2, a loopback address" in capture["error"]
    records = read_warc(guarded.store / capture["warc"])
    redirect = [r for r in records if r.type == "response" and r.target.endswith("/to-internal")]
    assert redirect[0].http_status == 302
    assert redirect[0].http_header("Location") == [internal.url("/secret")]
    meta = next(r for r in records if r.type == "metadata").json()
    assert meta["outcome"] == "refused"
    assert any("refused by the URL guard" in f["error"] for f in meta["failed_or_blocked"])


def test_a_sub_request_into_a_private_network_is_refused_and_the_page_still_captured(
    guarded: Service, public: Recorder, internal: Recorder
):
    before = list(internal.hits)
    done = guarded.wait(guarded.report(public.url("/embeds-internal"))["id"])
    assert internal.hits == before
    capture = done["capture"]
    assert capture["outcome"] == "ok" and capture["http_status"] == 200
    meta = next(
        r for r in read_warc(guarded.store / capture["warc"]) if r.type == "metadata"
    ).json()
    refused = [f for f in meta["failed_or_blocked"] if f["url"] == internal.url("/pixel.png")]
    assert refused and "127.0.0.2, a loopback address" in refused[0]["error"]


def test_an_allowed_network_is_captured(guarded: Service, public: Recorder):
    done = guarded.wait(guarded.report(public.url("/ad"))["id"])
    assert done["capture"]["outcome"] == "ok"


def test_the_command_line_capture_is_not_guarded(store: Path, public: Recorder):
    """The guard protects the service from its reporters; an operator's own `lastseen capture`
    of an intranet page is not refused."""
    proc = run_cli("capture", public.url("/ad"), "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "ok"


def test_the_guard_classifies_addresses():
    import ipaddress

    ip = ipaddress.ip_address
    assert kind_of(ip("8.8.8.8")) is None
    assert kind_of(ip("2001:4860:4860::8888")) is None
    assert kind_of(ip("100.64.0.1")) == "non-global"
    assert kind_of(ip("fe80::1")) == "link-local"
    assert kind_of(ip("fd00:ec2::254")) == "cloud metadata"
    guard = UrlGuard(allowed_networks=parse_networks("10.1.0.0/16"))
    assert guard.refuses(ip("10.1.2.3")) is None
    assert guard.refuses(ip("10.2.0.1")) == "private"
    assert UrlGuard(allow_private=True).refuses(ip("127.0.0.1")) is None
