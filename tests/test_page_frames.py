"""Every frame and worker of a page is recorded, and no seed is lost to its length.

Two loopback addresses are two sites (127.0.0.3 and 127.0.0.4: the host differs), so Chromium's
site isolation puts the embedded frame in a renderer of its own, a target the page's CDP session
does not see; the test checks that it really was a separate target.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.service_fixtures import Recorder, html
from tests.warcs import read_warc

JS = [("Content-Type", "text/javascript")]


@pytest.fixture(scope="module")
def embedded():
    pages = {
        "/post": html(
            '<p>embedded post</p><img src="/photo.png">'
            '<script>fetch("/likes"); new Worker("/worker.js");</script>'
        ),
        "/photo.png": (200, [("Content-Type", "image/png")], b"\x89PNG fake"),
        "/likes": (200, [("Content-Type", "application/json")], b'{"likes": 7}'),
        "/worker.js": (200, JS, b'fetch("/from-worker");'),
        "/from-worker": (200, [("Content-Type", "text/plain")], b"worker was here"),
    }
    server = Recorder("127.0.0.4", pages)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page_site(embedded: Recorder):
    pages = {
        "/ad": html(f'<h1>ad</h1><iframe src="{embedded.url("/post")}"></iframe>'),
        "/plain": html("<h1>plain</h1>"),
    }
    server = Recorder("127.0.0.3", pages)
    yield server
    server.stop()


def test_a_cross_site_frame_and_its_worker_are_recorded_in_the_capture(
    store: Path, page_site: Recorder, embedded: Recorder
):
    proc = run_cli("capture", page_site.url("/ad"), "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    records = read_warc(summary["warc"])
    responses = {r.target: r for r in records if r.type == "response"}
    for path, body in [
        ("/post", b"embedded post"),
        ("/photo.png", b"\x89PNG fake"),
        ("/likes", b'{"likes": 7}'),
        ("/from-worker", b"worker was here"),
    ]:
        assert embedded.url(path) in responses, f"{path} of the frame is not in the WARC"
        assert body in responses[embedded.url(path)].payload
    meta = next(r for r in records if r.type == "metadata").json()
    kinds = [t["type"] for t in meta["frames_and_workers"]]
    assert "iframe" in kinds, "the frame was not a target of its own: nothing was proved"
    assert "worker" in kinds
    assert summary["final_url"] == page_site.url("/ad")


def test_a_long_url_is_captured(store: Path, page_site: Recorder):
    url = page_site.url("/plain") + "?q=" + "x" * 5000
    proc = run_cli("capture", url, "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["outcome"] == "ok" and summary["url"] == url


def test_a_long_url_in_a_seed_file_is_crawled(store: Path, page_site: Recorder, tmp_path: Path):
    long_url = page_site.url("/plain") + "?q=" + "y" * 3000
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{page_site.url('/plain')}\n{long_url}\n")
    proc = run_cli("crawl", str(seeds), "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    captured = [json.loads(line)["url"] for line in proc.stdout.splitlines()]
    assert sorted(captured) == sorted([page_site.url("/plain"), long_url])


def test_a_url_longer_than_a_browser_accepts_is_refused_with_a_reason(store: Path, tmp_path: Path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.3/?q=" + "z" * (2 * 1024 * 1024) + "\n")
    proc = run_cli("crawl", str(seeds), store=store)
    assert proc.returncode == 2
    assert "line 1" in proc.stderr and "longer than a browser accepts" in proc.stderr
    assert len(proc.stderr) < 1000  # the reason, not the URL
