"""The capture core, end to end: the real CLI drives real Chromium against the fixture site.

One crawl of the fixture pages (session fixture) is read back with warcio by many tests; the
command-line contract (exit codes, JSON) is tested with separate runs, bad input in-process.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from demo.site import CP1252_PAGE, AdSite, png
from tests.conftest import BIN, invoke, run_cli
from tests.warcs import Rec, read_warc, responses

SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
WARC_NAME = r"^lastseen-\d{{20}}-\d{{5}}-{host}\.warc\.gz$"


@pytest.fixture(scope="session")
def crawl(
    site: AdSite, tls_site: tuple[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`lastseen crawl --json` over the fixture pages and the TLS site's ad; results keyed by
    requested path (the TLS ad by its URL)."""
    store = tmp_path_factory.mktemp("crawl") / "evidence"
    paths = ["/redirect/1", "/ad/2", "/", "/cp1252", "/never-idle", "/missing", "/gone", "/broken"]
    seeds = store.parent / "seeds.txt"
    urls = [site.url(p) for p in paths] + [tls_site[0]]
    seeds.write_text("# fixture pages\n\n" + "\n".join(urls) + "\n")
    proc = run_cli("crawl", str(seeds), "--json", "--case", "FIX-1", "--timeout", "8", store=store)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_path = {line["url"].replace(site.url(""), ""): line for line in lines}
    assert sorted(by_path) == sorted(paths + [tls_site[0]])
    return {"store": store, "captures": by_path, "site": site}


def records_of(crawl: dict[str, Any], path: str) -> list[Rec]:
    return read_warc(crawl["captures"][path]["warc"])


def provenance(records: list[Rec]) -> dict[str, Any]:
    (meta,) = [r for r in records if r.type == "metadata"]
    return meta.json()


def test_every_exchange_of_the_page_is_recorded_with_request_and_response(crawl):
    site = crawl["site"]
    recs = records_of(crawl, "/redirect/1")
    for path in [
        "/redirect/1",
        "/ad/1",
        "/static/site.css",
        "/static/ad.js",
        "/api/ad/1/price",
        "/img/1.png",
        "/img/1-lazy.png",
        "/static/adfont.woff2",
    ]:
        url = site.url(path)
        assert len(responses(recs, url)) == 1, f"no response record for {path}"
        assert [r for r in recs if r.type == "request" and r.target == url], (
            f"no request for {path}"
        )
    redirect = responses(recs, site.url("/redirect/1"))[0]
    assert redirect.http_status == 302
    assert redirect.http_header("Location") == ["/ad/1"]


def test_payloads_are_the_bytes_the_server_sent_with_encoding_undone(crawl):
    site = crawl["site"]
    recs = records_of(crawl, "/redirect/1")
    price = responses(recs, site.url("/api/ad/1/price"))[0]
    assert price.payload == b'{"price": 450}'
    assert price.http_header("X-Archive-Orig-Content-Encoding") == ["gzip"]
    assert price.http_header("Content-Encoding") == []
    image = responses(recs, site.url("/img/1-lazy.png"))[0]
    assert image.payload == png(32, 20, (30, 144, 255))
    page = responses(recs, site.url("/ad/1"))[0]
    status, body = site.ad_page(1)
    assert page.payload == body


def test_decoded_bodies_are_declared_in_the_metadata_record(crawl):
    site = crawl["site"]
    meta = provenance(records_of(crawl, "/redirect/1"))
    noted = {n["url"]: n for n in meta["stored_payloads"]}
    assert "X-Archive-Orig-Content-Encoding" in noted[site.url("/ad/1")]["renamed_headers"]


def test_a_windows_1252_page_keeps_its_bytes(crawl):
    recs = records_of(crawl, "/cp1252")
    page = responses(recs, crawl["site"].url("/cp1252"))[0]
    assert page.payload == CP1252_PAGE
    assert b"\x80" in page.payload  # the euro sign, as windows-1252 encodes it


def test_raw_response_headers_are_kept_as_sent_including_repeated_ones(crawl):
    page = responses(records_of(crawl, "/ad/2"), crawl["site"].url("/ad/2"))[0]
    assert page.http_header("Set-Cookie") == ["visitor=1; Path=/", "lang=en; Path=/"]
    assert page.http_header("Server") == [page.http_header("Server")[0]]
    assert page.http_header("Server")[0].startswith("AdSite/1.0")


def test_server_ip_and_protocol_are_on_every_response(crawl):
    for rec in records_of(crawl, "/ad/2"):
        if rec.type == "response":
            assert rec.header("WARC-IP-Address") == "127.0.0.1"
            assert rec.headers["warc-protocol"] == ["http/1.1"]


def test_every_record_has_sha256_digests_and_one_shared_date(crawl):
    for path in crawl["captures"]:
        recs = records_of(crawl, path)
        dates = {r.header("WARC-Date") for r in recs}
        assert len(dates) == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", dates.pop())
        for rec in recs:
            assert SHA256.match(rec.header("WARC-Block-Digest")), rec.type
            if rec.type in ("response", "resource", "request"):
                assert SHA256.match(rec.header("WARC-Payload-Digest")), rec.type


def test_warcio_check_passes_on_every_file(crawl):
    files = sorted(Path(crawl["store"]).rglob("*.warc.gz"))
    assert len(files) == len(crawl["captures"])
    proc = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", *map(str, files)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout
    assert "digest failed" not in proc.stdout
    assert proc.stdout.count("digest pass") > 20


def test_files_are_named_and_hashed_as_promised(crawl):
    import hashlib

    for capture in crawl["captures"].values():
        path = Path(capture["warc"])
        host = re.escape(urlsplit(capture["url"]).hostname or "")
        assert path.is_absolute() and re.match(WARC_NAME.format(host=host), path.name), path.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == capture["warc_sha256"]
        assert path.stat().st_mode & 0o222 == 0, "a sealed evidence file must be read-only"


def test_warcinfo_says_who_captured_with_what(crawl):
    info = records_of(crawl, "/ad/2")[0]
    assert info.type == "warcinfo"
    text = info.payload.decode()
    for field in (
        "software: lastseen",
        "browser: Chromium",
        "operator: test-operator",
        "hostname:",
        "user-agent: Mozilla/5.0",
        "viewport: 1280x900",
        "settings:",
    ):
        assert field in text, field


def test_screenshot_dom_and_pdf_are_resources_tied_to_the_page(crawl):
    site = crawl["site"]
    recs = records_of(crawl, "/redirect/1")
    main = responses(recs, site.url("/ad/1"))[0]
    resources = {r.target.split(":")[1]: r for r in recs if r.type == "resource"}
    assert set(resources) >= {"screenshot", "dom", "pdf"}
    for kind, rec in resources.items():
        assert rec.target == f"urn:{kind}:{site.url('/ad/1')}"
        assert rec.header("WARC-Concurrent-To") == main.header("WARC-Record-ID")
    assert resources["screenshot"].payload.startswith(b"\x89PNG")
    assert resources["pdf"].payload.startswith(b"%PDF")
    dom = resources["dom"].payload.decode()
    # Only JavaScript puts the price there, from the XHR response: the page rendered while both
    # Playwright's routing and our Fetch interception were active.
    assert "Price: 450 EUR" in dom


def test_the_screenshot_shows_the_whole_scrolled_page(crawl):
    import struct

    recs = records_of(crawl, "/redirect/1")
    shot = next(r for r in recs if r.target.startswith("urn:screenshot:")).payload
    width, height = struct.unpack(">II", shot[16:24])
    assert width == 1280 and height > 2600  # the spacer pushes the lazy image far below


def test_provenance_tells_the_story_of_the_capture(crawl):
    site = crawl["site"]
    meta = provenance(records_of(crawl, "/redirect/1"))
    assert meta["requested_url"] == site.url("/redirect/1")
    assert meta["final_url"] == site.url("/ad/1")
    assert [hop["status"] for hop in meta["redirect_chain"]] == [302, 200]
    assert meta["http_status"] == 200
    assert meta["case"] == "FIX-1"
    assert site.url("/") in meta["outlinks"]
    assert meta["network_idle"] is True and meta["load_event"] is True
    assert meta["scroll"]["reached_end"] is True
    started = datetime.fromisoformat(meta["started_at"])
    ended = datetime.fromisoformat(meta["ended_at"])
    assert started < ended
    assert meta["software"].startswith("lastseen ")
    assert meta["failed_or_blocked"] == []


def test_what_failed_to_load_is_recorded(crawl):
    recs = records_of(crawl, "/broken")
    failed = provenance(recs)["failed_or_blocked"]
    assert [f["url"] for f in failed] == ["http://127.0.0.1:1/photo.jpg"]
    assert failed[0]["error"].startswith("net::ERR_")
    assert [r for r in recs if r.type == "request" and r.target == "http://127.0.0.1:1/photo.jpg"]


def test_a_page_that_never_goes_idle_is_captured_within_the_time_limit(crawl):
    capture = crawl["captures"]["/never-idle"]
    assert capture["outcome"] == "ok"
    assert capture["network_idle"] is False
    meta = provenance(read_warc(capture["warc"]))
    assert meta["network_idle"] is False
    elapsed = datetime.fromisoformat(meta["ended_at"]) - datetime.fromisoformat(meta["started_at"])
    assert elapsed.total_seconds() < 8 + 5
    polls = [r for r in read_warc(capture["warc"]) if r.type == "response" and "/poll" in r.target]
    assert polls, "the long-polling exchanges that did complete are recorded"


@pytest.mark.parametrize("path,status", [("/missing", 404), ("/gone", 410)])
def test_an_error_page_is_evidence_too(crawl, path, status):
    capture = crawl["captures"][path]
    assert capture["outcome"] == "http-error"
    assert capture["http_status"] == status
    page = responses(read_warc(capture["warc"]), crawl["site"].url(path))[0]
    assert page.http_status == status


def test_catalog_lists_and_shows_what_was_captured(crawl):
    store = crawl["store"]
    proc = invoke("ls", "--case", "FIX-1", "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    listed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {c["id"] for c in listed} == {c["id"] for c in crawl["captures"].values()}
    capture = crawl["captures"]["/ad/2"]
    shown = json.loads(invoke("show", str(capture["id"]), "--json", store=store).stdout)
    assert shown["warc_sha256"] == capture["warc_sha256"]
    assert shown["custody"][0]["action"] == "capture"
    assert shown["custody"][0]["details"]["warc_sha256"] == capture["warc_sha256"]
    human = invoke("show", str(capture["id"]), store=store)
    assert capture["warc_sha256"] in human.stdout


def test_stored_payload_hashes_in_the_catalog_match_the_records(crawl):
    capture = crawl["captures"]["/redirect/1"]
    recs = read_warc(capture["warc"])
    shot = next(r for r in recs if r.target.startswith("urn:screenshot:"))
    dom = next(r for r in recs if r.target.startswith("urn:dom:"))
    assert shot.header("WARC-Payload-Digest") == "sha256:" + capture["screenshot_sha256"]
    assert dom.header("WARC-Payload-Digest") == "sha256:" + capture["dom_sha256"]
    main = responses(recs, crawl["site"].url("/ad/1"))[0]
    assert main.header("WARC-Payload-Digest") == "sha256:" + capture["payload_sha256"]


# -- the command line contract, one run each ---------------------------------------------------


def test_capture_json_has_the_promised_fields_on_both_catalogs(site, store, db_url):
    proc = run_cli(
        "capture",
        site.url("/ad/3"),
        "--json",
        "--case",
        "C-9",
        "--note",
        "tip 17",
        store=store,
        db=db_url,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in (
        "id",
        "url",
        "final_url",
        "http_status",
        "captured_at",
        "warc",
        "warc_sha256",
        "screenshot_sha256",
        "dom_sha256",
        "outcome",
    ):
        assert key in out, key
    assert out["outcome"] == "ok" and out["http_status"] == 200
    assert out["case"] == "C-9" and out["note"] == "tip 17"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", out["captured_at"])
    assert Path(out["warc"]).is_file()
    listed = invoke("ls", "--json", store=store, db=db_url)
    assert json.loads(listed.stdout.splitlines()[0])["warc_sha256"] == out["warc_sha256"]


def test_an_unreachable_site_is_recorded_and_exits_3(store):
    import socket

    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ad/1"
    proc = run_cli("capture", url, "--json", store=store)
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert out["outcome"] == "unreachable"
    assert "ERR_CONNECTION_REFUSED" in out["error"]
    recs = read_warc(out["warc"])
    assert [r.type for r in recs] == ["warcinfo", "request", "metadata"]
    assert provenance(recs)["failed_or_blocked"][0]["error"] == "net::ERR_CONNECTION_REFUSED"


def test_a_server_that_never_answers_is_recorded_as_a_timeout(site, store):
    proc = run_cli("capture", site.url("/hang"), "--json", "--timeout", "3", store=store)
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert out["outcome"] == "timeout"
    recs = read_warc(out["warc"])
    assert [r.type for r in recs] == ["warcinfo", "request", "metadata"]
    meta = provenance(recs)
    elapsed = datetime.fromisoformat(meta["ended_at"]) - datetime.fromisoformat(meta["started_at"])
    assert 3 <= elapsed.total_seconds() < 10


@pytest.mark.parametrize(
    "args,message",
    [
        (["capture", "not a url"], "not a URL"),
        (["capture", "ftp://example.org/file"], "only http and https"),
        (["capture", "javascript:alert(1)"], "only http and https"),
        (["capture", "http://"], "no host name"),
        (["crawl", "no-such-seeds.txt"], "seed file not found"),
        (["capture", "http://127.0.0.1/", "--timeout", "0"], "timeout must be between"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(store, args, message):
    proc = invoke(*args, store=store)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stdout == ""
    assert not store.exists()


def test_a_bad_line_in_a_seed_file_is_named_and_nothing_is_captured(store, site):
    seeds = store.parent / "seeds.txt"
    seeds.write_text(f"{site.url('/ad/1')}\n# fine\nwww.example.org/no-scheme\n")
    proc = invoke("crawl", str(seeds), store=store)
    assert proc.returncode == 2
    assert "line 3" in proc.stderr and "not a URL" in proc.stderr
    assert not store.exists()


def test_a_missing_browser_is_a_clear_error(store, site):
    proc = invoke("capture", site.url("/ad/1"), store=store, LASTSEEN_BROWSER="/nonexistent/chrome")
    assert proc.returncode == 1
    assert "LASTSEEN_BROWSER=/nonexistent/chrome is not an executable file" in proc.stderr
    assert not store.exists()


def test_https_pages_record_tls_protocol_and_certificate_chain(crawl, tls_site):
    url, cert_pem = tls_site
    recs = read_warc(crawl["captures"][url]["warc"])
    page = responses(recs, url)[0]
    protocols = page.headers["warc-protocol"]
    assert "http/1.1" in protocols and any(p.startswith("tls/1.") for p in protocols)
    chain = next(r for r in recs if r.target.startswith("urn:tls-chain:"))
    der = base64.b64decode("".join(cert_pem.decode().strip().splitlines()[1:-1]))
    assert der in base64.b64decode("".join(chain.payload.decode().strip().splitlines()[1:-1]))
    tls = provenance(recs)["tls"]
    assert tls["subject"] == "localhost" and tls["protocol"].startswith("TLS")


def test_gzip_listing_is_stored_decoded(crawl):
    page = responses(records_of(crawl, "/"), crawl["site"].url("/"))[0]
    assert page.payload == crawl["site"].listing()
    assert not page.payload.startswith(b"\x1f\x8b")
