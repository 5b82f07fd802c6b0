"""A seed's `alert: [phone, image, ...]`: its captures alert on identifiers of those kinds seen in
another case (crawl output and webhook), and on no other kind; --alert-known adds to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.site import AdSite
from tests.conftest import invoke, run_cli
from tests.test_cli_indicators import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _watch_file(site: AdSite, path: Path) -> Path:
    path.write_text(
        f"""\
# case ANT-2: a phone for sale, and an ad in Arabic
- url: {site.url("/classified/iphone-te-koop")}
  case: ANT-2
  alert: [telegram]
- url: {site.url("/classified/amal-bruxelles")}
  case: ANT-2
  alert: [image, phone]
"""
    )
    return path


def test_a_seed_alerts_only_on_the_kinds_it_names(
    site: AdSite, store: Path, db_url: str | None, receiver: Receiver
) -> None:
    def crawl(*args: str) -> Any:
        result = run_cli("crawl", *args, store=store, db=db_url, LASTSEEN_ALERT_URL=receiver.url)
        assert result.returncode == 0, result.stderr
        return result

    # Case BXL-1 shows +32470123456 and +32487654321 and the photo; nobody asked for alerts.
    seeds = store.parent / "bxl.txt"
    seeds.write_text(
        site.url("/classified/nieuw-in-brussel") + "\n" + site.url("/classified/lisa-bxl") + "\n"
    )
    crawl(str(seeds), "--case", "BXL-1")
    assert receiver.bodies == []

    # Case ANT-2, a scheduled run of the watch file: the Arabic ad (alert: image, phone) shows
    # +32487654321 and a copy of the photo; the phone ad (alert: telegram) shows +32470123456,
    # a phone number, which it did not ask for.
    watch = _watch_file(site, store.parent / "watch.yaml")
    run = crawl(str(watch), "--due")
    assert sorted((b["alert"], b["kind"]) for b in receiver.bodies) == [
        ("seen-in-another-case", "image"),
        ("seen-in-another-case", "phone"),
    ]
    phone = next(b for b in receiver.bodies if b["kind"] == "phone")
    assert phone["value"] == "+32487654321"
    for body in receiver.bodies:
        assert body["capture"]["case"] == "ANT-2"
        assert body["capture"]["url"].endswith("/amal-bruxelles")
        assert {s["case"] for s in body["seen_in"]} == {"BXL-1"}
    lines = [line.strip() for line in run.stdout.splitlines() if "alert:" in line]
    assert len(lines) == 2 and any("phone +32487654321 in capture" in ln for ln in lines)
    assert all("seen in another case: capture" in ln and "(case BXL-1)" in ln for ln in lines)
    assert "+32470123456" not in run.stdout
    assert "0 followed, 2 alert(s)" in " ".join(run.stderr.split())

    # The same file crawled at once with --alert-known phone: now the phone ad's number alerts
    # too; what the Arabic ad raised in this case is not raised again.
    again = crawl(str(watch), "--alert-known", "phone", "--json")
    alerts = [a for c in map(json.loads, again.stdout.splitlines()) for a in c.get("alerts", [])]
    assert [(a["kind"], a["value"]) for a in alerts] == [("phone", "+32470123456")]
    assert [(b["kind"], b["value"]) for b in receiver.bodies[2:]] == [("phone", "+32470123456")]
    assert alerts[0]["capture"]["url"].endswith("/iphone-te-koop")


@pytest.mark.parametrize(
    "alert, message",
    [
        ("[phone, whatsap]", "line 3: alert: unknown alert kind(s) whatsap; known: be-reference"),
        ("[[phone]]", "line 3: each entry of alert must be a single value"),
    ],
)
def test_a_bad_alert_kind_is_one_line_and_writes_nothing(
    tmp_path: Path, alert: str, message: str
) -> None:
    seeds = tmp_path / "watch.yaml"
    seeds.write_text(f"- url: https://ads.example/1\n  case: ANT-2\n  alert: {alert}\n")
    fresh = tmp_path / "never-created"
    for extra in ((), ("--due",)):
        result = invoke("crawl", str(seeds), *extra, store=fresh)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert message in result.stderr
        assert not fresh.exists()
