"""Odd input to a real `lastseen serve` (no workers) gets a clear 4xx, never a 500; case ids
cannot hide characters; crawl and worker processes run no remote-control extension."""

from __future__ import annotations

import secrets

import pytest

from archive import Archive, ArchiveConfig
from archive.catalog.custody import entries
from crawler.run import crawl_settings
from crawler.service.worker import worker_settings
from tests.service_fixtures import ALICE, TIPLINE, Service, start_service


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    service = start_service(tmp_path_factory.mktemp("odd") / "evidence", None, "--workers", "0")
    yield service
    assert service.stop() == 0


@pytest.mark.parametrize("request_id", [2**63, 2**63 - 1, 2**64, 10**30])
def test_ids_too_large_for_the_catalog_are_404(svc: Service, request_id: int):
    for path in ("", "/warc", "/dom", "/screenshot", "/identifiers"):
        reply = svc.get(f"/api/captures/{request_id}{path}")
        assert reply.status == 404, (path, reply.body)


def test_a_lone_surrogate_in_a_json_body_is_422(svc: Service):
    for field in ("url", "case", "note"):
        fields = {"url": "http://example.org/", field: "http://example.org/\\ud800"}
        body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items()) + "}"
        reply = svc.request(
            "POST", "/api/captures", body.encode(), headers={"Content-Type": "application/json"}
        )
        assert reply.status == 422, (field, reply.body)
        # Pydantic refuses it; the answer echoes it as an ASCII JSON escape.
        assert reply.json()["detail"][0]["type"] == "string_unicode"


@pytest.mark.parametrize("hidden", ["\r", "\u202e", "\u2028", "\u200b", "\t", "\u00a0"])
def test_case_ids_that_would_look_like_another_are_refused(svc: Service, hidden: str):
    reply = svc.post("/api/captures", {"url": "http://example.org/", "case": f"BXL-{hidden}1"})
    assert reply.status == 422, reply.body
    assert f"U+{ord(hidden):04X}" in reply.json()["detail"][0]["msg"]
    assert svc.get("/api/captures?case=BXL-1").json() == {"captures": []}


@pytest.mark.parametrize("hidden", ["\x1b]0;pwned\x07", "\x9b", "\x7f", "\u202e"])
def test_a_url_with_terminal_escapes_is_refused(svc: Service, hidden: str):
    reply = svc.post("/api/captures", {"url": f"http://example.org/ad{hidden}"})
    assert reply.status == 422, reply.body
    assert f"U+{ord(hidden[0]):04X}" in reply.json()["detail"][0]["msg"]


def test_no_crawl_or_worker_process_runs_telnet_or_remote_control():
    for settings in (crawl_settings({}), worker_settings({})):
        enabled = {k for k, v in settings.getwithbase("EXTENSIONS").items() if v is not None}
        assert enabled == {
            "scrapy.extensions.corestats.CoreStats",
            "scrapy.extensions.logcount.LogCount",
            "scrapy.extensions.throttle.AutoThrottle",
        }
        assert not settings.getbool("REMOTE_CONTROL_ENABLED")
        assert not settings.getbool("TELNETCONSOLE_ENABLED")


def test_a_token_that_reports_too_fast_gets_429_with_retry_after(tmp_path):
    service = start_service(
        tmp_path / "evidence", None, "--workers", "0", LASTSEEN_REPORTS_PER_MINUTE="3"
    )
    try:
        for n in range(3):
            service.report(f"http://example.org/burst/{n}")
        reply = service.post("/api/captures", {"url": "http://example.org/burst/3"})
        assert reply.status == 429, reply.body
        assert 1 <= int(reply.headers["retry-after"]) <= 20
        assert "more than 3 URLs a minute" in reply.json()["detail"]
        # Nothing was queued for it, and another token is not slowed down.
        assert len(service.get("/api/captures").json()["captures"]) == 3
        service.report("http://example.org/other", token=TIPLINE)
    finally:
        assert service.stop() == 0


BXL = "bxl:" + secrets.token_hex(16)


def test_a_token_limited_to_cases_sees_reports_into_and_downloads_only_those(tmp_path):
    """Need-to-know: `name:secret:cases=BXL-2026-*`; every refusal is in the custody log."""
    service = start_service(
        tmp_path / "evidence",
        None,
        "--workers",
        "0",
        LASTSEEN_API_TOKEN=f"{ALICE},{BXL}:cases=BXL-2026-*",
    )
    try:
        other = service.report("http://example.org/antwerp", case="ANT-1")["id"]
        own = service.report("http://example.org/brussels", token=BXL, case="BXL-2026-0412")["id"]
        for case in ("ANT-1", None):
            reply = service.post(
                "/api/captures", {"url": "http://example.org/x", "case": case}, BXL
            )
            assert reply.status == 403, reply.body
        listed = service.get("/api/captures", token=BXL).json()["captures"]
        assert [r["id"] for r in listed] == [own]
        assert service.get("/api/captures?case=ANT-1", token=BXL).json() == {"captures": []}
        for path in ("", "/warc", "/dom"):
            assert service.get(f"/api/captures/{other}{path}", token=BXL).status == 404
        assert service.get(f"/api/captures/{own}", token=BXL).status == 200
        # Identifiers link captures of every case: not for a token limited to some.
        assert service.get(f"/api/captures/{own}/identifiers", token=BXL).status == 403
        assert service.get("/api/search?value=32470123456", token=BXL).status == 403
        # A token without limits sees both.
        assert len(service.get("/api/captures").json()["captures"]) == 2
    finally:
        assert service.stop() == 0
    archive = Archive.open(ArchiveConfig(store=str(tmp_path / "evidence"), operator="x"))
    denied = [e.details for e in entries(archive.catalog) if e.action == "deny"]
    archive.close()
    assert all(e["via"] == "service" for e in denied)
    assert [(d["what"], d["case"]) for d in denied] == [
        ("report", "ANT-1"),
        ("report", None),
        ("list", "ANT-1"),
        ("see", "ANT-1"),
        ("download", "ANT-1"),
        ("download", "ANT-1"),
        ("search", None),
        ("search", None),
    ]


def test_a_token_with_its_quota_of_waiting_requests_gets_429(tmp_path):
    service = start_service(
        tmp_path / "evidence", None, "--workers", "0", LASTSEEN_QUEUED_PER_TOKEN="2"
    )
    try:
        for n in range(2):
            service.report(f"http://example.org/queued/{n}")
        reply = service.post("/api/captures", {"url": "http://example.org/queued/2"})
        assert reply.status == 429, reply.body
        assert reply.headers["retry-after"] == "10"
        assert "has 2 capture requests waiting (at most 2)" in reply.json()["detail"]
        service.report("http://example.org/queued/other", token=TIPLINE)
        assert len(service.get("/api/captures").json()["captures"]) == 3
    finally:
        assert service.stop() == 0
