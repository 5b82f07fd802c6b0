"""`lastseen search`, `links`, `indicators`, `watchlist` and alerts, run as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from demo.photos import photo
from demo.site import AdSite
from tests.conftest import run_cli

# One crawl of five ads: two share a phone number (as text and as a Signal link), two more
# share another one, three show copies of one photo; the last shares nothing.
SLUGS = (
    "nieuw-in-brussel",
    "iphone-te-koop",
    "lisa-bxl",
    "amal-bruxelles",
    "sweet-girls-antwerp",
)


@pytest.fixture(scope="module")
def crawled(site: AdSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("indicators") / "evidence"
    seeds = store.parent / "seeds.txt"
    seeds.write_text("".join(site.url(f"/classified/{s}") + "\n" for s in SLUGS))
    result = run_cli("crawl", str(seeds), "--case", "BXL-1", "--json", store=store)
    assert result.returncode == 0, result.stderr
    ids = {}
    for line in result.stdout.splitlines():
        capture = json.loads(line)
        ids[capture["url"].rsplit("/", 1)[1]] = capture["id"]
    return {"store": store, "ids": ids}


def slugs_of(hits: list[dict[str, Any]]) -> set[str]:
    return {h["url"].rsplit("/", 1)[1] for h in hits}


def cli_json(store: Path, *args: str) -> Any:
    result = run_cli(*args, "--json", store=store)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_number_in_any_written_form_finds_every_ad_that_shows_it(
    crawled: dict[str, Any],
) -> None:
    store = crawled["store"]
    for typed in ("0470 12 34 56", "+32470123456", "0032 470-12-34-56", "wa.me/32470123456"):
        hits = cli_json(store, "search", typed)
        assert slugs_of(hits) == {"nieuw-in-brussel", "iphone-te-koop"}, typed
        for h in hits:
            assert h["record_id"].startswith("<urn:uuid:") and len(h["record_sha256"]) == 64
    spelled = cli_json(store, "search", "nul vier acht zeven 65 43 21")
    assert slugs_of(spelled) == {"lisa-bxl", "amal-bruxelles"}
    assert cli_json(store, "search", "0470 12 34 56", "--case", "OTHER") == []
    text = run_cli("search", "+32 470 12 34 56", store=store)
    assert (
        text.returncode == 0
        and "iphone-te-koop" in text.stdout
        and "record <urn:uuid:" in text.stdout
    )


def test_a_reposted_photo_is_found_by_like_and_by_image_and_an_unrelated_one_is_not(
    crawled: dict[str, Any], tmp_path: Path
) -> None:
    store, ids = crawled["store"], crawled["ids"]
    alike = cli_json(store, "search", "--like", str(ids["nieuw-in-brussel"]))
    assert slugs_of(alike) == {"lisa-bxl", "amal-bruxelles"}
    assert all(h["distance"] <= 31 for h in alike)
    assert cli_json(store, "search", "--like", str(ids["sweet-girls-antwerp"])) == []
    reposted = tmp_path / "reposted.jpg"
    reposted.write_bytes(photo("amira-reposted"))
    by_image = cli_json(store, "search", "--image", str(reposted))
    assert slugs_of(by_image) == {"nieuw-in-brussel", "lisa-bxl", "amal-bruxelles"}
    strict = cli_json(store, "search", "--image", str(reposted), "--distance", "4")
    assert slugs_of(strict) == {"nieuw-in-brussel"}


def test_links_number_the_connected_groups_in_csv_graphml_and_json(
    crawled: dict[str, Any],
) -> None:
    store, ids = crawled["store"], crawled["ids"]
    graph = json.loads(run_cli("links", "--case", "BXL-1", "--format", "json", store=store).stdout)
    groups = {g["group"]: {c["capture_id"] for c in g["captures"]} for g in graph["groups"]}
    linked = {ids[s] for s in SLUGS[:4]}
    assert groups[1] == linked and groups[2] == {ids["sweet-girls-antwerp"]}
    shared = {
        (i["kind"], i["value"]) for i in graph["groups"][0]["identifiers"] if len(i["captures"]) > 1
    }
    assert ("phone", "+32470123456") in shared and ("phone", "+32487654321") in shared
    assert any(kind == "image" for kind, _ in shared)
    rows = list(
        csv.DictReader(io.StringIO(run_cli("links", "--case", "BXL-1", store=store).stdout))
    )
    assert {r["group"] for r in rows if int(r["capture_id"]) in linked} == {"1"}
    assert all(r["record_id"] and len(r["record_sha256"]) == 64 for r in rows)
    xml = run_cli("links", "--case", "BXL-1", "--format", "graphml", store=store).stdout
    root = ET.fromstring(xml)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) > 5 and root.findall(".//g:edge", ns)


def test_indicators_lists_a_capture_and_rebuild_derives_the_same_again(
    crawled: dict[str, Any],
) -> None:
    store, ids = crawled["store"], crawled["ids"]
    one = cli_json(store, "indicators", str(ids["nieuw-in-brussel"]))
    kinds = {(f["kind"], f["value"]) for f in one["findings"]}
    assert ("whatsapp", "+32470123456") in kinds and one["derived"]
    assert len(one["photos"]) == 1 and one["photos"][0]["width"] == 640
    rebuilt = cli_json(store, "indicators", "--rebuild", "--case", "BXL-1")
    assert rebuilt["rebuilt"]["captures"] == 5
    again = cli_json(store, "indicators", str(ids["nieuw-in-brussel"]))
    strip = lambda d: sorted(json.dumps({**f, "capture_id": 0}, sort_keys=True) for f in d)  # noqa: E731
    assert strip(again["findings"]) == strip(one["findings"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("search",), "give one of"),
        (("search", "x", "--like", "1"), "give one of"),
        (("search", "--like", "999"), "no capture 999"),
        (("search", "--image", "seeds.txt"), "not an image"),
        (("search", "--image", "seeds.txt", "--distance", "40"), "--distance"),
        (("links", "--case", "NOPE"), "no captures of case NOPE"),
        (("links", "--case", "BXL-1", "--format", "pdf"), "--format"),
        (("indicators",), "give a CAPTURE_ID"),
        (("indicators", "999"), "no capture 999"),
        (("watchlist", "rm", "+32 499 99 99 99"), "not on the watch list"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    crawled: dict[str, Any], args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args, store=crawled["store"])
    assert result.returncode == 2, result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


class Receiver:
    """A webhook on a loopback port that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_an_alert_fires_once_per_new_finding(
    site: AdSite, store: Path, db_url: str | None, receiver: Receiver
) -> None:
    added = run_cli("watchlist", "add", "0470/12.34.56", "--note", "tip 17", store=store, db=db_url)
    assert added.returncode == 0 and "+32470123456" in added.stdout
    listed = json.loads(run_cli("watchlist", "ls", "--json", store=store, db=db_url).stdout)
    assert [(w["value"], w["note"]) for w in listed] == [("+32470123456", "tip 17")]
    seeds = store.parent / "seeds.txt"

    def crawl(case: str, *slugs: str, **env: str) -> dict[str, dict[str, Any]]:
        seeds.write_text("".join(site.url(f"/classified/{s}") + "\n" for s in slugs))
        result = run_cli(
            "crawl", str(seeds), "--case", case, "--json", store=store, db=db_url,
            LASTSEEN_ALERT_URL=receiver.url, **env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        captures = [json.loads(line) for line in result.stdout.splitlines()]
        return {c["url"].rsplit("/", 1)[1]: c for c in captures}

    first = crawl("BXL-1", "nieuw-in-brussel", "lisa-bxl")
    # Shown as text and as a WhatsApp link: one finding, one alert.
    assert [(b["alert"], b["kind"], b["value"]) for b in receiver.bodies] == [
        ("watch-list", "phone", "+32470123456"),
    ]
    assert [a["value"] for a in first["nieuw-in-brussel"]["alerts"]] == ["+32470123456"]
    assert "alerts" not in first["lisa-bxl"]
    # The same ad again, and another that shows the number: no new finding, no new alert.
    crawl("BXL-1", "nieuw-in-brussel", "iphone-te-koop")
    assert len(receiver.bodies) == 1
    # Another case: the watched number alerts once there too; with known-alerts for phones,
    # a number of case BXL-1 seen again in case ANT-2 alerts, once.
    crawl("ANT-2", "amal-bruxelles", "iphone-te-koop", LASTSEEN_ALERT_KNOWN="phone")
    new = [(b["alert"], b["kind"], b["value"]) for b in receiver.bodies[1:]]
    assert sorted(new) == [
        ("seen-in-another-case", "phone", "+32487654321"),
        ("watch-list", "phone", "+32470123456"),
    ]
    known = next(b for b in receiver.bodies if b["alert"] == "seen-in-another-case")
    assert known["capture"]["case"] == "ANT-2" and known["seen_in"][0]["case"] == "BXL-1"
    removed = run_cli("watchlist", "rm", "+32470123456", store=store, db=db_url)
    assert removed.returncode == 0
    assert json.loads(run_cli("watchlist", "ls", "--json", store=store, db=db_url).stdout) == []
