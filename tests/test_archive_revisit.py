"""Deduplication and change records in the archive (no browser): revisits, diffs, time-line.

Captures are built by hand and sealed into a real store and real catalogs (SQLite, PostgreSQL);
the WARC files are read back with warcio and checked by ``warcio check`` and pywb.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import Archive, ArchiveConfig
from archive.capture import Capture, Exchange, HttpRequest, HttpResponse, Resource
from archive.catalog.payloads import PayloadRow
from archive.catalog.timeline import ObservationRow, classify
from archive.warc.writer import REVISIT_PROFILE
from tests.conftest import BIN, ROOT
from tests.warcs import read_warc

URL = "http://ads.example/ad/7"
OTHER = "http://ads.example/ad/8"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
SHOT = b"\x89PNG\r\n\x1a\nscreenshot" + bytes(500)
T0 = datetime(2026, 11, 29, 9, 0, 0, 123456, tzinfo=UTC)


def page(title: str, price: int) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>Crossing every week.</p><p>Price: {price} EUR</p><script>var x=1</script>"
        '<img src="/img/7.png" alt="boat"></body></html>'
    ).encode()


def capture(url: str, body: bytes, when: datetime, status: int = 200) -> Capture:
    def exchange(target: str, ctype: str, data: bytes, kind: str, code: int = 200) -> Exchange:
        return Exchange(
            request=HttpRequest("GET", target, [("Host", "ads.example"), ("Accept", "*/*")]),
            response=HttpResponse(
                code, "OK" if code == 200 else "Gone", [("Content-Type", ctype)], data
            ),
            resource_type=kind,
            remote_ip="192.0.2.7",
        )

    return Capture(
        requested_url=url,
        started_at=when,
        ended_at=when + timedelta(seconds=2),
        outcome="ok" if status < 400 else "http-error",
        final_url=url,
        http_status=status,
        exchanges=[
            exchange(url, "text/html; charset=utf-8", body, "Document", status),
            exchange("http://ads.example/img/7.png", "image/png", IMAGE, "Image"),
        ],
        main_index=0,
        resources=[
            Resource("screenshot", "image/png", SHOT),
            Resource("dom", "text/html; charset=utf-8", body),
        ],
        provenance={"outlinks": []},
        environment={"operator": "test-operator", "software": "lastseen test"},
    )


def open_archive(store: Path, db: str | None, dedup: bool = True) -> Archive:
    return Archive.open(
        ArchiveConfig(store=str(store), db=db, operator="test-operator", dedup=dedup)
    )


def by_target(path: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for rec in read_warc(path):
        out.setdefault(rec.target, []).append(rec)
    return out


def test_an_identical_recapture_is_written_as_revisits_of_the_first_copy_but_its_page(
    store, db_url
):
    archive = open_archive(store, db_url)
    first = archive.seal(capture(URL, page("Boat", 450), T0))
    second = archive.seal(capture(URL, page("Boat", 450), T0 + timedelta(hours=1)))
    originals = by_target(first.warc_location)
    again = by_target(second.warc_location)
    body = page("Boat", 450)
    (orig,) = [r for r in originals[URL] if r.type == "response"]
    (own,) = [r for r in again[URL] if r.type != "request"]
    # The page's own response is stored again in full, so that it replays with its own time.
    assert own.type == "response"
    assert own.header("WARC-Date") != orig.header("WARC-Date")
    assert own.header("WARC-Date") == T0.replace(hour=10).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert own.payload == body
    for target, kind in [
        ("http://ads.example/img/7.png", "response"),
        (f"urn:dom:{URL}", "resource"),
        (f"urn:screenshot:{URL}", "resource"),
    ]:
        (orig,) = [r for r in originals[target] if r.type != "request"]
        (rec,) = [r for r in again[target] if r.type != "request"]
        assert orig.type == kind
        assert rec.type == "revisit", target
        assert rec.header("WARC-Profile") == REVISIT_PROFILE
        assert rec.header("WARC-Refers-To") == orig.header("WARC-Record-ID")
        assert rec.header("WARC-Refers-To-Target-URI") == target
        assert rec.header("WARC-Refers-To-Date") == orig.header("WARC-Date")
        assert rec.header("WARC-Payload-Digest") == orig.header("WARC-Payload-Digest")
        assert rec.header("WARC-Payload-Digest").startswith("sha256:")
        assert rec.header("WARC-Block-Digest").startswith("sha256:")
        assert rec.payload == b"", "a revisit stores no payload"
    (image_revisit,) = [r for r in again["http://ads.example/img/7.png"] if r.type == "revisit"]
    assert image_revisit.http_header("Content-Type") == ["image/png"], (
        "the revisit keeps the response's own headers"
    )
    assert second.payload_sha256 == hashlib.sha256(body).hexdigest()
    # Reading the revisited capture gives the original bytes back.
    assert archive.read_record(second, "main") == body
    assert archive.read_record(second, "dom") == body
    assert "refers_to" not in second.records["main"]
    assert second.records["dom"]["refers_to"]["warc"] == first.warc_name
    check = subprocess.run(
        [str(BIN / "warcio"), "check", first.warc_location, second.warc_location],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    with archive.catalog.session() as s:
        obs = s.get(ObservationRow, second.id)
        assert (obs.state, obs.change, obs.previous_capture_id) == ("live", "unchanged", first.id)
        assert s.scalar(select(func.count()).select_from(PayloadRow)) == 4
    archive.close()


def test_an_image_shown_in_another_ad_is_stored_once(store, db_url):
    archive = open_archive(store, db_url)
    first = archive.seal(capture(URL, page("Boat", 450), T0))
    other = archive.seal(capture(OTHER, page("Truck", 300), T0 + timedelta(minutes=5)))
    image = [
        r for r in read_warc(other.warc_location) if r.target == "http://ads.example/img/7.png"
    ]
    revisit = next(r for r in image if r.type != "request")
    assert revisit.type == "revisit"
    assert revisit.header("WARC-Refers-To-Date") == by_target(first.warc_location)[
        "http://ads.example/img/7.png"
    ][0].header("WARC-Date")
    main = [r for r in read_warc(other.warc_location) if r.target == OTHER and r.type != "request"]
    assert main[0].type == "response", "a different page is stored in full"
    archive.close()


def test_a_changed_page_is_a_full_capture_with_a_text_diff_against_the_last_live_one(store, db_url):
    archive = open_archive(store, db_url)
    first = archive.seal(capture(URL, page("Boat", 450), T0))
    gone = archive.seal(capture(URL, b"<h1>Gone</h1>", T0 + timedelta(hours=1), status=410))
    changed = archive.seal(capture(URL, page("Boat", 300), T0 + timedelta(hours=2)))
    recs = by_target(changed.warc_location)
    assert [r.type for r in recs[URL] if r.type != "request"] == ["response"]
    (diff,) = recs[f"urn:diff:{URL}"]
    assert diff.type == "metadata"
    assert diff.header("Content-Type").startswith("text/x-diff")
    assert diff.header("WARC-Refers-To") == by_target(first.warc_location)[f"urn:dom:{URL}"][
        0
    ].header("WARC-Record-ID")
    text = diff.payload.decode()
    assert f"--- capture {first.id} " in text
    assert "-Price: 450 EUR" in text and "+Price: 300 EUR" in text
    assert "var x" not in text, "scripts are not page text"
    with archive.catalog.session() as s:
        obs = s.get(ObservationRow, changed.id)
        assert obs.change == "changed"
        assert obs.previous_capture_id == gone.id
        assert obs.baseline_capture_id == first.id
        assert obs.diff["record_id"] == diff.header("WARC-Record-ID")
        assert (obs.diff["lines_added"], obs.diff["lines_removed"]) == (1, 1)
    assert changed.records["diff"]["offset"] == diff.offset
    archive.close()


def test_on_demand_captures_stay_self_contained(store):
    archive = open_archive(store, None, dedup=False)
    archive.seal(capture(URL, page("Boat", 450), T0))
    again = archive.seal(capture(URL, page("Boat", 450), T0 + timedelta(hours=1)))
    types = {r.type for r in read_warc(again.warc_location)}
    assert "revisit" not in types and "response" in types
    with archive.catalog.session() as s:
        assert s.get(ObservationRow, again.id).change == "unchanged"
    archive.close()


@pytest.mark.parametrize(
    "status, error, final, state, reason",
    [
        (200, None, URL, "live", None),
        (410, None, URL, "gone", "http-410"),
        (404, None, URL, "gone", "http-404"),
        (500, None, URL, "error", "http-500"),
        (200, None, "http://ads.example/", "gone", "redirect-home"),
        (200, None, "http://ads.example/login?next=/ad/7", "gone", "redirect-login"),
        (200, None, "http://ads.example/ad/7?lang=en", "live", None),
        (None, "net::ERR_NAME_NOT_RESOLVED", None, "gone", "dns-failure"),
        (None, "net::ERR_CONNECTION_REFUSED", None, "gone", "unreachable"),
        (None, "net::ERR_CONNECTION_RESET", None, "error", "network-error"),
    ],
)
def test_liveness_is_read_from_what_the_capture_recorded(status, error, final, state, reason):
    cap = capture(URL, b"x", T0, status=status or 200)
    cap.http_status, cap.error, cap.final_url = status, error, final
    if status is None:
        cap.outcome = "unreachable"
    verdict = classify(cap)
    assert (verdict.state, verdict.reason) == (state, reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dated(url: str, when: datetime) -> Capture:
    """An unchanged page whose server says when it made it (HTTP ``Last-Modified``)."""
    recapture = capture(url, page("Boat", 450), when)
    main = recapture.exchanges[0].response
    assert main is not None
    main.headers.append(("Last-Modified", format_datetime(when, usegmt=True)))
    return recapture


@pytest.mark.pywb
def test_pywb_replays_a_revisit_with_the_original_payload_and_a_recapture_as_itself(
    store, tmp_path
):
    pywb = ROOT / ".venv-pywb" / "bin"
    if not (pywb / "wayback").exists():
        pytest.skip("pywb is not installed (make pywb)")
    archive = open_archive(store, None)
    first = archive.seal(dated(URL, T0))
    second = archive.seal(dated(URL, T0 + timedelta(days=1)))
    archive.close()
    assert any(r.type == "revisit" for r in read_warc(second.warc_location))
    root = tmp_path / "pywb"
    root.mkdir()
    subprocess.run([str(pywb / "wb-manager"), "init", "ev"], cwd=root, check=True)
    subprocess.run(
        [str(pywb / "wb-manager"), "add", "ev", first.warc_location, second.warc_location],
        cwd=root,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [str(pywb / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    day2 = T0 + timedelta(days=1)
    stamp = day2.strftime("%Y%m%d%H%M%S")

    def replay(url: str) -> tuple[bytes, Any]:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ev/{stamp}id_/{url}") as r:
                    return r.read(), r.headers
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    try:
        body, headers = replay("http://ads.example/img/7.png")
        assert body == IMAGE
        # The replayed memento is the revisit (day 2), served with the original's payload.
        assert day2.strftime("%d %b %Y") in headers["Memento-Datetime"]
        # The page of day 2 replays as day 2's own record. (pywb showed a revisit with its own
        # headers too; ReplayWeb.page shows the original's, hence the full record: see the test
        # above for the WARC.)
        body, headers = replay(URL)
        assert body == page("Boat", 450)
        assert headers["X-Archive-Orig-Last-Modified"] == format_datetime(day2, usegmt=True)
        assert day2.strftime("%d %b %Y") in headers["Memento-Datetime"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_capture_whose_print_stands_for_another_is_read_from_the_fact_or_the_old_sentence():
    from archive.warc.revisits import print_of

    assert print_of({"pdf_print_of": {"capture_id": 12, "dom_sha256": "ab"}}) == 12
    # Captures sealed before the fact had a field of its own said it in a sentence only.
    said = "rendered DOM identical (sha256:ab) to capture 7, whose PDF print stands for this one too"
    assert print_of({"pdf_not_printed": said}) == 7
    assert print_of({}) is None
