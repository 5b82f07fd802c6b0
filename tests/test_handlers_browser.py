"""lastseen's browser download handler (crawler/handlers/browser.py), through the real CLI and
Chromium: each capture in a new browser context of its own, prepared before its request arrives;
a link that downloads instead of showing a page is still captured."""

from __future__ import annotations

import json
from typing import Any

from demo.site import DOWNLOAD_BODY, AdSite
from tests.conftest import run_cli
from tests.warcs import read_warc


def _crawl(site: AdSite, store: Any, paths: list[str], *args: str) -> dict[str, dict[str, Any]]:
    seeds = store.parent / "seeds.txt"
    seeds.write_text("\n".join(site.url(p) for p in paths) + "\n")
    proc = run_cli("crawl", str(seeds), "--json", *args, store=store)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return {line["url"].replace(site.url(""), ""): line for line in lines}


def _provenance(warc: str) -> dict[str, Any]:
    (meta,) = [r for r in read_warc(warc) if r.type == "metadata"]
    return meta.json()


def test_each_capture_has_a_new_context_made_before_its_request_and_shares_nothing(site, store):
    # One page of the site at a time: each capture takes the context prepared while the one
    # before it was captured. Each ad page sets cookies; none may reach the next capture.
    paths = ["/ad/1", "/ad/2", "/ad/3"]
    captures = _crawl(site, store, paths, "--per-host", "1")
    assert sorted(captures) == paths
    for path in paths:
        warc = captures[path]["warc"]
        assert _provenance(warc)["browser_context"] == {"new": True, "made_before_request": True}
        records = read_warc(warc)
        (document,) = [r for r in records if r.type == "request" and r.target == site.url(path)]
        assert not document.http_header("Cookie"), path
        (answer,) = [r for r in records if r.type == "response" and r.target == site.url(path)]
        assert answer.http_header("Set-Cookie")


def test_a_link_that_downloads_a_file_is_captured_with_its_bytes(site, store):
    captures = _crawl(site, store, ["/price-list.csv"])
    line = captures["/price-list.csv"]
    assert line["outcome"] == "ok", line
    assert line["http_status"] == 200
    (record,) = [r for r in read_warc(line["warc"]) if r.type == "response"]
    assert record.target == site.url("/price-list.csv")
    assert record.payload == DOWNLOAD_BODY
    assert record.http_header("Content-Disposition") == ['attachment; filename="price-list.csv"']


def test_a_crawl_runs_one_browser_for_http_and_https(store):
    """Scrapy makes one download handler per scheme; they share the crawl's browser (before, each
    launched its own and kept a spare page in it: a second browser idle in every crawl)."""
    import subprocess
    import time

    import psutil

    from demo.slowsite import SlowSites
    from tests.conftest import LASTSEEN, cli_env

    sites = SlowSites(hosts=1, delay=3.0).start()
    try:
        seeds = store.parent / "seeds.txt"
        seeds.write_text(f"{sites.bases[0]}/page/a\n{sites.bases[0]}/page/b\n")
        proc = subprocess.Popen(
            [LASTSEEN, "crawl", str(seeds), "--json"],
            env=cli_env(store, LASTSEEN_ALLOW_PRIVATE="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=store.parent,
        )
        browsers: set[int] = set()
        while proc.poll() is None:
            try:
                children = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                break
            for child in children:
                try:
                    cmdline = child.cmdline()
                except psutil.Error:
                    continue
                if (
                    cmdline
                    and "chrom" in cmdline[0]
                    and not any(a.startswith("--type=") for a in cmdline)
                ):
                    browsers.add(child.pid)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=60)
    finally:
        sites.stop()
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 2
    assert len(browsers) == 1, browsers
