"""Scheduled crawls end to end: the real `lastseen crawl --due` over a fixture site that changes.

One scenario per catalog (SQLite, PostgreSQL), run once per module: a listing watched every
second whose ads are followed, plus a page watched daily. Run 1 captures everything; run 2 finds
nothing changed; between runs 2 and 3 an ad is edited, one removed (410) and one added.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from archive.catalog.db import Catalog
from archive.catalog.payloads import PayloadRow
from archive.catalog.runlock import RunLock
from demo.site import AdSite
from tests.conftest import BIN, LASTSEEN, _pg_database, cli_env, invoke, run_cli
from tests.warcs import read_warc

SEEDS = """\
# the fixture site, watched
- url: {listing}
  every: 1s
  case: SCHED-1
  follow: ["/ad/*"]
- url: {daily}
  every: 1d
  case: SCHED-1
"""


def crawl_due(seeds: Path, store: Path, db: str | None, *args: str) -> dict[str, Any]:
    proc = run_cli("crawl", str(seeds), "--due", "--json", "--timeout", "10", *args,
                   store=store, db=db)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "summary" in lines[-1], proc.stdout
    captures = {c["url"]: c for c in lines[:-1]}
    return {"summary": lines[-1]["summary"], "captures": captures, "stderr": proc.stderr}


def warc_files(store: Path) -> set[Path]:
    return set(store.rglob("*.warc.gz"))


def store_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in warc_files(store))


def payload_bytes(files: set[Path]) -> int:
    """Bytes of response and resource payloads stored in full in these WARC files."""
    return sum(
        len(rec.payload)
        for path in files
        for rec in read_warc(path)
        if rec.type in ("response", "resource")
    )


def count_payloads(store: Path, db: str | None) -> int:
    engine = create_engine(db or f"sqlite:///{store / 'catalog.sqlite'}")
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(PayloadRow.__table__)))
    finally:
        engine.dispose()


def wait_until_due(seconds: float = 1.2) -> None:
    time.sleep(seconds)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    site = AdSite(ads=2).start()  # a site of its own: this scenario edits and removes ads
    db_gen = _pg_database() if request.param == "postgresql" else None
    db = next(db_gen) if db_gen else None
    root = tmp_path_factory.mktemp(f"schedule-{request.param}")
    store = root / "evidence"
    seeds = root / "watch.yaml"
    seeds.write_text(SEEDS.format(listing=site.url("/"), daily=site.url("/cp1252")))
    s: dict[str, Any] = {"site": site, "store": store, "db": db, "seeds": seeds}
    try:
        s["run1"] = crawl_due(seeds, store, db)
        s["files1"], s["bytes1"] = warc_files(store), store_bytes(store)
        s["payloads1"] = count_payloads(store, db)
        wait_until_due()
        s["run2"] = crawl_due(seeds, store, db)
        s["files2"] = warc_files(store) - s["files1"]
        s["bytes2"] = store_bytes(store) - s["bytes1"]
        s["payloads2"] = count_payloads(store, db)
        site.edit(1, price=999, text="Crossing tonight only. Call +32 470 99 99 99.")
        site.remove(2)
        site.add(3)
        wait_until_due()
        s["run3"] = crawl_due(seeds, store, db)
        s["files3"] = warc_files(store) - s["files1"] - s["files2"]
        yield s
    finally:
        site.stop()
        if db_gen:
            db_gen.close()


def url(s: dict[str, Any], path: str) -> str:
    return s["site"].url(path)


def test_the_first_run_captures_the_seeds_and_every_ad_the_listing_links(scenario):
    run = scenario["run1"]
    assert sorted(run["captures"]) == sorted(
        url(scenario, p) for p in ("/", "/cp1252", "/ad/1", "/ad/2")
    )
    summary = run["summary"]
    assert (summary["captured"], summary["new"], summary["followed"]) == (4, 4, 2)
    assert (summary["unchanged"], summary["changed"], summary["gone"], summary["failed"]) == (
        0, 0, 0, 0,
    )  # fmt: skip
    ad = run["captures"][url(scenario, "/ad/1")]
    assert ad["case"] == "SCHED-1", "a followed ad inherits its seed's case"
    (meta,) = [r for r in read_warc(ad["warc"]) if r.type == "metadata"]
    provenance = meta.json()
    assert provenance["schedule"]["found_on"] == url(scenario, "/")
    assert provenance["schedule"]["rule"] == "/ad/*"
    assert provenance["schedule"]["every_s"] == 1
    robots = provenance["robots"]
    assert robots["obey_robots"] is False
    assert robots["robots_txt"]["url"] == url(scenario, "/robots.txt")
    assert robots["robots_txt"]["status"] == 404
    assert robots["decision"]


def test_only_what_is_due_is_captured(scenario):
    for run in ("run2", "run3"):
        captured = scenario[run]["captures"]
        assert url(scenario, "/cp1252") not in captured, "watched daily: not due again yet"
        assert url(scenario, "/") in captured


def test_an_unchanged_recapture_stores_only_its_own_page_again_and_revisits_the_rest(scenario):
    run = scenario["run2"]
    assert run["summary"]["captured"] == 3
    assert run["summary"]["unchanged"] == 3
    assert {c["watch"]["change"] for c in run["captures"].values()} == {"unchanged"}
    files = scenario["files2"]
    assert len(files) == 3
    assert scenario["payloads2"] == scenario["payloads1"], "no new payload was indexed"
    records = [rec for path in files for rec in read_warc(path)]
    # Each capture's main document is stored in full, dated by its own capture, so that it
    # replays with its own time; everything else is a revisit. An empty body (the browser's
    # own favicon request, answered 404) has nothing to deduplicate.
    mains = {rec.json()["records"]["main_response"] for rec in records if rec.type == "metadata"}
    full = [rec for rec in records if rec.type in ("response", "resource") and rec.payload]
    assert {rec.header("WARC-Record-ID") for rec in full} == mains
    assert {rec.target for rec in full} == set(run["captures"])
    first_dates = {
        rec.header("WARC-Date") for path in scenario["files1"] for rec in read_warc(path)
    }
    assert not {rec.header("WARC-Date") for rec in full} & first_dates
    assert payload_bytes(files) == sum(len(rec.payload) for rec in full)
    assert {rec.type for rec in records} <= {"warcinfo", "request", "response", "revisit", "metadata"}
    # What run 2 added to the store is headers, pages and provenance: a small part of run 1.
    assert scenario["bytes2"] < scenario["bytes1"] / 3, (scenario["bytes2"], scenario["bytes1"])


def test_an_unchanged_page_is_not_printed_to_pdf_again(scenario):
    ad = scenario["run2"]["captures"][url(scenario, "/ad/1")]
    first = scenario["run1"]["captures"][url(scenario, "/ad/1")]
    assert ad["pdf_sha256"] is None and first["pdf_sha256"]
    (meta,) = [r for r in read_warc(ad["warc"]) if r.type == "metadata"]
    assert f"capture {first['id']}" in meta.json()["pdf_not_printed"]


def test_the_print_standing_for_an_unchanged_page_is_stated_as_a_fact_not_only_in_words(scenario):
    ad = scenario["run2"]["captures"][url(scenario, "/ad/1")]
    first = scenario["run1"]["captures"][url(scenario, "/ad/1")]
    (meta,) = [r for r in read_warc(ad["warc"]) if r.type == "metadata"]
    assert meta.json()["pdf_print_of"] == {
        "capture_id": first["id"],
        "dom_sha256": first["dom_sha256"],
    }


def test_revisits_point_to_the_stored_original(scenario):
    ad = scenario["run2"]["captures"][url(scenario, "/ad/1")]
    # The first copy of each payload, wherever run 1 stored it (site.css: in whichever page
    # was sealed first).
    originals = {
        r.header("WARC-Record-ID"): r
        for path in scenario["files1"]
        for r in read_warc(path)
        if r.type in ("response", "resource")
    }
    revisits = [r for r in read_warc(ad["warc"]) if r.type == "revisit"]
    assert revisits
    for rec in revisits:
        original = originals[rec.header("WARC-Refers-To")]
        assert rec.header("WARC-Refers-To-Target-URI") == original.target
        assert rec.header("WARC-Refers-To-Date") == original.header("WARC-Date")
        assert rec.header("WARC-Payload-Digest") == original.header("WARC-Payload-Digest")
    check = subprocess.run(
        [str(BIN / "warcio"), "check", *map(str, warc_files(scenario["store"]))],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout


def test_an_edited_ad_gets_a_new_capture_linked_to_the_previous_with_a_diff(scenario):
    edited = scenario["run3"]["captures"][url(scenario, "/ad/1")]
    before = scenario["run2"]["captures"][url(scenario, "/ad/1")]
    assert edited["watch"]["change"] == "changed"
    assert edited["watch"]["previous_capture_id"] == before["id"]
    recs = read_warc(edited["warc"])
    (diff,) = [r for r in recs if r.target == f"urn:diff:{url(scenario, '/ad/1')}"]
    text = diff.payload.decode()
    assert "-Price: 450 EUR" in text and "+Price: 999 EUR" in text
    assert "+Crossing tonight only. Call +32 470 99 99 99." in text
    assert edited["watch"]["diff"]["record_id"] == diff.header("WARC-Record-ID")
    (main,) = [r for r in recs if r.target == url(scenario, "/ad/1") and r.type != "request"]
    assert main.type == "response", "the changed page is stored in full"


def test_a_new_ad_on_the_listing_is_captured_in_the_same_run(scenario):
    run = scenario["run3"]
    assert url(scenario, "/ad/3") in run["captures"]
    assert run["captures"][url(scenario, "/ad/3")]["watch"]["change"] == "new"
    assert run["summary"]["followed"] == 1


def test_a_removed_ad_shows_as_gone_with_its_last_live_capture_kept(scenario):
    store, db = scenario["store"], scenario["db"]
    gone_url = url(scenario, "/ad/2")
    gone = scenario["run3"]["captures"][gone_url]
    last_live = scenario["run2"]["captures"][gone_url]
    assert gone["http_status"] == 410 and gone["watch"]["state"] == "gone"
    assert gone["watch"]["next_due_at"] is None, "a vanished followed ad is not recaptured"
    proc = invoke("history", gone_url, "--json", store=store, db=db)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["state"] == "gone"
    assert line["gone_since"]["capture_id"] == gone["id"]
    assert line["gone_since"]["reason"] == "http-410"
    assert line["last_seen_live"]["capture_id"] == last_live["id"]
    assert line["first_seen"]["capture_id"] == scenario["run1"]["captures"][gone_url]["id"]
    assert [o["state"] for o in line["observations"]] == ["live", "live", "gone"]
    # The last live capture is still there, and reads back as the page that was live.
    shown = invoke("show", str(last_live["id"]), "--json", store=store, db=db)
    assert shown.returncode == 0
    assert Path(json.loads(shown.stdout)["warc"]).is_file()
    text = invoke("history", gone_url, store=store, db=db).stdout
    assert f"capture {gone['id']}  (HTTP 410)" in text
    assert "gone since" in text and "last seen live" in text


def test_ls_gone_lists_vanished_ads_with_their_last_good_capture(scenario):
    store, db = scenario["store"], scenario["db"]
    proc = invoke("ls", "--gone", "--json", store=store, db=db)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["url"] for line in lines] == [url(scenario, "/ad/2")]
    assert (
        lines[0]["last_seen_live"]["capture_id"]
        == (scenario["run2"]["captures"][url(scenario, "/ad/2")]["id"])
    )
    assert lines[0]["case"] == "SCHED-1"
    text = invoke("ls", "--gone", store=store, db=db).stdout
    assert url(scenario, "/ad/2") in text and "HTTP 410" in text


def test_the_run_is_logged_to_a_file(scenario):
    log = Path(scenario["run3"]["summary"]["log"])
    assert log == scenario["store"] / "logs" / "crawl.log"
    text = log.read_text()
    assert text.count("run of ") == 3
    assert "done: captured" in text


# -- one run at a time, bad input --------------------------------------------------------------


def _seeds(tmp_path: Path, site: AdSite, pages: list[str]) -> Path:
    path = tmp_path / "watch.yaml"
    path.write_text("".join(f"- url: {site.url(p)}\n  every: 1s\n" for p in pages))
    return path


def test_a_second_concurrent_run_exits_at_once_doing_nothing(site, store, db_url, tmp_path):
    seeds = _seeds(tmp_path, site, ["/never-idle", "/ad/1"])
    first = subprocess.Popen(
        [LASTSEEN, "crawl", str(seeds), "--due", "--timeout", "8"],
        env=cli_env(store, db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        log = store / "logs" / "crawl.log"
        deadline = time.monotonic() + 60
        while not (log.exists() and "run of" in log.read_text()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        started = time.monotonic()
        second = invoke("crawl", str(seeds), "--due", "--json", store=store, db=db_url)
        took = time.monotonic() - started
        assert second.returncode == 0, second.stderr
        assert "another scheduled crawl is running" in second.stderr
        summary = json.loads(second.stdout.splitlines()[-1])["summary"]
        assert summary["locked"] is True and summary["captured"] == 0
        assert took < 15, f"the second run waited {took:.1f} s"
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    listed = invoke("ls", "--json", store=store, db=db_url).stdout.splitlines()
    assert len(listed) == 2, "only the first run captured"


def test_the_lock_is_the_catalogs_and_is_released_when_a_run_ends(store, db_url, tmp_path, site):
    seeds = _seeds(tmp_path, site, ["/ad/1"])
    assert run_cli("crawl", str(seeds), "--due", store=store, db=db_url).returncode == 0
    catalog = Catalog(db_url or f"sqlite:///{store / 'catalog.sqlite'}")
    lock = RunLock(catalog)
    try:
        assert lock.acquire(), "the finished run released its lock"
        other = RunLock(catalog)
        assert not other.acquire()
        proc = invoke("crawl", str(seeds), "--due", store=store, db=db_url)
        assert proc.returncode == 0 and "nothing done" in proc.stderr
    finally:
        lock.release()
        catalog.dispose()


def test_an_invalid_seed_file_changes_nothing(site, store, tmp_path):
    seeds = tmp_path / "watch.yaml"
    seeds.write_text(f"- url: {site.url('/ad/1')}\n  every: 1s\n")
    assert run_cli("crawl", str(seeds), "--due", store=store).returncode == 0
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*")}
    seeds.write_text(
        f"- url: {site.url('/ad/1')}\n  every: 1s\n- url: {site.url('/ad/2')}\n  every: soon\n"
    )
    time.sleep(1.1)
    proc = invoke("crawl", str(seeds), "--due", store=store)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "line 4: every must look like 30s, 15m, 6h or 1d, not 'soon'"
    )
    assert len(proc.stderr.strip().splitlines()) == 1
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*")} == before
    fresh = tmp_path / "never-created"
    assert invoke("crawl", str(seeds), "--due", store=fresh).returncode == 2
    assert not fresh.exists()


def test_sigterm_mid_run_stops_cleanly(site, store, tmp_path):
    seeds = _seeds(tmp_path, site, ["/never-idle"])
    polls = site.requests.count("/poll")
    proc = subprocess.Popen(
        [LASTSEEN, "crawl", str(seeds), "--due", "--timeout", "20"],
        env=cli_env(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    # Mid-capture: the page is open in the browser and polling the site.
    while site.requests.count("/poll") <= polls:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    # The lock went with the process: the next run works.
    again = run_cli("crawl", str(seeds), "--due", "--timeout", "8", store=store)
    assert again.returncode == 0, again.stderr
    assert "nothing done" not in again.stderr


def test_every_scheduling_option_is_documented():
    import click

    from crawler.cli import main

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in ("crawl", "history", "ls"):
        command = main.get_command(click.Context(main), name)
        assert command is not None, name
        for param in command.params:
            if not getattr(param, "help", None) and param.param_type_name == "option":
                pytest.fail(f"{name} {param.opts[0]} has no help")
            if param.param_type_name != "option":
                continue
            envvar = param.envvar
            if envvar and envvar not in readme:
                pytest.fail(f"{envvar} ({name} {param.opts[0]}) is not in the README")
    for option in ("--due", "--log", "--per-host", "--delay", "--autothrottle", "--gone"):
        assert option in readme, option


def test_robots_txt_is_recorded_and_obeyed_only_when_the_seed_says_so(store, tmp_path):
    site = AdSite(ads=2).start()
    site.robots_txt = "User-agent: *\nDisallow: /ad/\n"
    try:
        seeds = tmp_path / "watch.yaml"
        seeds.write_text(
            f"- url: {site.url('/ad/1')}\n  obey_robots: true\n"
            f"- url: {site.url('/ad/2')}\n  obey_robots: false\n"
        )
        run = crawl_due(seeds, store, None)
    finally:
        site.stop()
    assert list(run["captures"]) == [site.url("/ad/2")]
    assert run["summary"]["skipped"] == 1
    recs = read_warc(run["captures"][site.url("/ad/2")]["warc"])
    (meta,) = [r for r in recs if r.type == "metadata"]
    robots = meta.json()["robots"]
    assert robots["allowed"] is False and robots["obey_robots"] is False
    assert "captured as evidence" in robots["decision"]
    text = b"User-agent: *\nDisallow: /ad/\n"
    assert robots["robots_txt"]["sha256"] == hashlib.sha256(text).hexdigest()
    (stored,) = [r for r in recs if r.target == f"urn:robots-txt:{site.url('/ad/2')}"]
    assert stored.type == "resource" and stored.payload == text
    assert site.requests.count("/robots.txt") == 1, "robots.txt is fetched once per site and run"
    assert "not captured, robots.txt disallows it" in (store / "logs" / "crawl.log").read_text()


def test_per_host_limits_the_pages_of_one_site_being_captured_until_each_page_is_closed(
    store, tmp_path, site: AdSite
):
    """--per-host 1: never two pages of a site at once, though the browser starts on a page as
    soon as its navigation commits; another site is captured meanwhile."""
    other = site.url("/").replace("127.0.0.1", "localhost")  # the same server, another host
    urls = [site.url(f"/ad/{n}?polite") for n in (1, 2, 3)]
    urls += [f"{other}ad/{n}?polite" for n in (1, 2, 3)]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(urls) + "\n")
    proc = run_cli("crawl", str(seeds), "--per-host", "1", "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    captures = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(c["url"] for c in captures) == sorted(urls)
    assert all(c["outcome"] == "ok" for c in captures)

    def spans(host: str) -> list[tuple[datetime, datetime]]:
        at = datetime.fromisoformat
        return sorted(
            (at(c["captured_at"]), at(c["finished_at"])) for c in captures if host in c["url"]
        )

    for host in ("127.0.0.1", "localhost"):
        times = spans(host)
        for (_, end), (start, _) in zip(times, times[1:], strict=False):
            assert start > end, f"two pages of {host} were captured at once: {times}"
    # Per site, not one page at a time overall: the two sites' captures overlap.
    assert any(
        a_start < b_end and b_start < a_end
        for a_start, a_end in spans("127.0.0.1")
        for b_start, b_end in spans("localhost")
    )
