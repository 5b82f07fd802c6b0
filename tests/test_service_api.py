"""The capture service's API over a real `lastseen serve` (uvicorn on a free port, a real worker
with Chromium, the real catalogs): report a URL, get it stored, download it, see who did what."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from archive.chain import verify_chain
from demo.site import AdSite
from tests.conftest import run_cli
from tests.service_fixtures import ALICE, TIPLINE, Service, secret, start_service


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    """One service for the module: SQLite catalog, the fixture site allowed (it is on loopback)."""
    store = tmp_path_factory.mktemp("service") / "evidence"
    service = start_service(store, None, LASTSEEN_ALLOW_PRIVATE="1")
    yield service
    assert service.stop() == 0


def custody_of(store: Path, db: str | None, capture_id: int) -> list[dict[str, Any]]:
    proc = run_cli("show", str(capture_id), "--json", store=store, db=db)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["custody"]


def test_the_health_check_needs_no_token(svc: Service):
    reply = svc.get("/healthz", token=None)
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/captures"),
        ("GET", "/api/captures/1"),
        ("POST", "/api/captures"),
        ("GET", "/api/captures/1/screenshot"),
        ("GET", "/api/captures/1/warc"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    ],
)
def test_every_endpoint_but_health_needs_a_valid_token(svc: Service, method, path):
    body = json.dumps({"url": "http://example.org/"}).encode() if method == "POST" else None
    headers = {"Content-Type": "application/json"}
    for auth in (None, "Bearer wrong-token-wrong-token", f"Basic {secret(ALICE)}", "Bearer "):
        if auth:
            headers["Authorization"] = auth
        reply = svc.request(method, path, body, token=None, headers=headers)
        assert reply.status == 401, (auth, reply.body)
        assert reply.headers.get("www-authenticate", "").startswith("Bearer")
    assert svc.get("/api/captures?case=nothing-was-stored").json() == {"captures": []}


def test_the_web_pages_send_a_visitor_without_token_to_the_login_form(svc: Service):
    for path in ("/", "/captures/1"):
        reply = svc.request("GET", path, token=None)
        assert reply.status == 200  # urllib followed the redirect
        assert b'name="token"' in reply.body


def test_openapi_describes_the_capture_endpoints(svc: Service):
    spec = svc.get("/openapi.json").json()
    assert {"/api/captures", "/api/captures/{report_id}", "/api/captures/{report_id}/warc"} <= set(
        spec["paths"]
    )
    assert svc.get("/docs").status == 200


def test_a_reported_url_is_stored_with_the_fields_of_lastseen_capture(
    site: AdSite, store: Path, db_url: str | None
):
    """Both catalogs: PostgreSQL is what a shared service runs on."""
    service = start_service(store, db_url, LASTSEEN_ALLOW_PRIVATE="1")
    try:
        started = time.monotonic()
        accepted = service.report(site.url("/ad/2"), case="BXL-7", note="tip 17")
        assert set(accepted) == {"id", "status"} and accepted["status"] == "queued"
        done = service.wait(accepted["id"])
        elapsed = time.monotonic() - started
        assert done["status"] == "stored", done
        capture = done["capture"]
        cli = json.loads(run_cli("ls", "--json", store=store, db=db_url).stdout.splitlines()[0])
        # The same fields as `lastseen capture --json` prints; the WARC by its key in the store,
        # not by the server's path to it.
        assert capture["warc"] == Path(cli["warc"]).relative_to(store).as_posix()
        assert {**capture, "warc": cli["warc"]} == cli
        assert capture["http_status"] == 200 and capture["outcome"] == "ok"
        assert capture["case"] == "BXL-7" and capture["note"] == "tip 17"
        assert done["reporter"] == "alice" and done["capture_id"] == capture["id"]
        assert elapsed < 30

        shot = service.get(f"/api/captures/{accepted['id']}/screenshot")
        assert shot.status == 200 and shot.headers["content-type"] == "image/png"
        assert hashlib.sha256(shot.body).hexdigest() == capture["screenshot_sha256"]
        warc = service.get(f"/api/captures/{accepted['id']}/warc")
        assert warc.status == 200
        assert hashlib.sha256(warc.body).hexdigest() == capture["warc_sha256"]
        assert warc.headers["repr-digest"] == "sha-256=:{}:".format(
            base64.b64encode(bytes.fromhex(capture["warc_sha256"])).decode()
        )
        assert warc.body == (store / capture["warc"]).read_bytes()

        log = custody_of(store, db_url, capture["id"])
        actions = [(e["action"], e["actor"]) for e in log]
        assert actions == [
            ("capture", "test-operator"),
            ("report", "alice"),
            ("access", "alice"),
            ("access", "alice"),
        ]
        assert [e["details"]["file"] for e in log if e["action"] == "access"] == [
            "screenshot",
            "warc",
        ]
        proc = run_cli("show", str(capture["id"]), "--json", store=store, db=db_url)
        assert json.loads(proc.stdout)["custody"] == log
    finally:
        assert service.stop() == 0
    # The whole log (the accepted request included, before there was a capture) is intact.
    from archive import Archive, ArchiveConfig
    from archive.catalog.custody import entries

    archive = Archive.open(ArchiveConfig(store=str(store), db=db_url, operator="x"))
    chain = entries(archive.catalog)
    archive.close()
    assert verify_chain(chain) == []
    assert chain[0].action == "request" and chain[0].actor == "alice"


def test_capture_requests_are_listed_by_case_newest_first(svc: Service, site: AdSite):
    first = svc.report(site.url("/ad/1"), case="LIST-1")
    second = svc.report(site.url("/ad/3"), case="LIST-1")
    svc.report(site.url("/ad/3"), case="LIST-2")
    listed = svc.get("/api/captures?case=LIST-1").json()["captures"]
    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    assert {r["case"] for r in listed} == {"LIST-1"}
    for r in listed:
        svc.wait(r["id"])


def test_a_url_reported_twice_is_captured_once_and_both_reporters_are_in_its_custody_log(
    svc: Service, site: AdSite
):
    url = site.url("/ad/1?dedup")
    first = svc.report(url, case="DUP-1", token=ALICE)
    second = svc.report(url, case="DUP-1", note="again", token=TIPLINE)
    a, b = svc.wait(first["id"]), svc.wait(second["id"])
    assert a["status"] == b["status"] == "stored"
    assert b["linked_to"] == first["id"]
    assert a["capture_id"] == b["capture_id"] is not None
    # Reported again after it was stored (within LASTSEEN_DEDUP_SECONDS): linked at once.
    third = svc.report(url, token=TIPLINE)
    assert third["status"] == "stored"
    assert svc.get(f"/api/captures/{third['id']}").json()["capture_id"] == a["capture_id"]
    log = custody_of(svc.store, None, a["capture_id"])
    reports = [(e["actor"], e["details"]["report"]) for e in log if e["action"] == "report"]
    assert reports == [("alice", first["id"]), ("tipline", second["id"]), ("tipline", third["id"])]
    proc = run_cli("ls", "--json", store=svc.store)
    assert [json.loads(line)["url"] for line in proc.stdout.splitlines()].count(url) == 1


def test_an_unknown_id_is_404(svc: Service):
    assert svc.get("/api/captures/999999").status == 404
    assert svc.get("/api/captures/999999/warc").status == 404
    assert svc.get("/api/captures/not-a-number").status == 422


@pytest.mark.parametrize(
    "body,why",
    [
        (b"{not json", "JSON"),
        (b"[]", "dictionary"),
        (json.dumps({"case": "X"}).encode(), "url"),
        (json.dumps({"url": "ftp://example.org/x"}).encode(), "only http and https"),
        (json.dumps({"url": "example.org/ad"}).encode(), "not a URL"),
        (json.dumps({"url": "http://example.org/", "extra": 1}).encode(), "Extra"),
        (json.dumps({"url": "http://example.org/", "case": "x" * 201}).encode(), "200"),
        (json.dumps({"url": "http://example.org/", "case": "a\nb"}).encode(), "one line"),
        (json.dumps({"url": "http://example.org/" + "a" * 2100}).encode(), "2048"),
    ],
)
def test_malformed_capture_requests_are_refused_with_a_clear_422_and_nothing_is_queued(
    svc: Service, body: bytes, why: str
):
    before = svc.get("/api/captures").json()["captures"]
    reply = svc.request("POST", "/api/captures", body, headers={"Content-Type": "application/json"})
    assert reply.status == 422
    assert why in reply.body.decode()
    assert svc.get("/api/captures").json()["captures"] == before


def test_oversized_bodies_are_refused_with_413_whether_or_not_they_say_their_size(svc: Service):
    before = svc.get("/api/captures").json()["captures"]
    big = json.dumps({"url": "http://example.org/", "note": "x" * 20_000}).encode()
    reply = svc.request("POST", "/api/captures", big, headers={"Content-Type": "application/json"})
    assert reply.status == 413 and b"too large" in reply.body
    assert svc.chunked_post("/api/captures", big).status == 413
    assert svc.get("/api/captures").json()["captures"] == before


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        todo += children
    return found


def test_the_workers_browser_sees_no_secret_of_the_environment(svc: Service, site: AdSite):
    assert svc.wait(svc.report(site.url("/ad/1?env"))["id"])["status"] == "stored"
    assert svc.proc is not None
    environs = {}
    for pid in _descendants(svc.proc.pid):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                environs[pid] = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
    assert environs, "the worker's browser is running"
    for environ in environs.values():
        assert not any(secret(ALICE).encode() in entry for entry in environ)
        assert not [e for e in environ if e.startswith((b"LASTSEEN_", b"AWS_"))], environ
