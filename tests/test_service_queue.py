"""The service's queue is durable: killing `lastseen serve` with capture requests queued loses
none."""

from __future__ import annotations

import json
from pathlib import Path

from demo.site import AdSite
from tests.conftest import run_cli
from tests.service_fixtures import start_service


def test_a_service_killed_with_capture_requests_queued_captures_them_all_after_a_restart(
    site: AdSite, store: Path, db_url: str | None
):
    first = start_service(store, db_url, LASTSEEN_ALLOW_PRIVATE="1")
    urls = [site.url(f"/ad/{n % 3 + 1}?restart={n}") for n in range(6)]
    ids = [first.report(url, case="RESTART")["id"] for url in urls]
    statuses = [first.get(f"/api/captures/{i}").json()["status"] for i in ids]
    first.kill()  # SIGKILL: no chance to clean up; its worker is told to stop by the kernel
    assert "queued" in statuses, statuses  # the test only proves something if some waited

    second = start_service(store, db_url, LASTSEEN_ALLOW_PRIVATE="1")
    try:
        # A request whose capture was cut short is taken again when its lease runs out (20 s).
        done = [second.wait(i, timeout=120) for i in ids]
    finally:
        assert second.stop() == 0
    assert [d["status"] for d in done] == ["stored"] * len(ids)
    assert [d["capture"]["url"] for d in done] == urls
    captured = [
        json.loads(line)["url"]
        for line in run_cli("ls", "--json", store=store, db=db_url).stdout.splitlines()
    ]
    assert sorted(captured) == sorted(urls), "each request captured exactly once"
