"""What the URL guard costs per capture: the same N pages of the demo site, one crawl each, with
the guard off, with the per-request check alone (the guard before the egress gate), and with the
per-request check and the egress gate (the guard now). Rounds alternate, so that the machine's
load falls on the three alike; CPU is of the whole process tree (Python, Playwright's driver,
Chromium), from the children's rusage.

    .venv/bin/python bench/guard_cost.py [pages] [rounds]
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.site import AdSite  # noqa: E402

MODES = ("off", "request-check", "request-check+gate")

CHILD = r"""
import json, sys
from archive.job import Job
from crawler.middlewares.urlguard import UrlGuardMiddleware
from crawler.page.recorder import GUARD_META_KEY
from crawler.run import crawl_settings, run_crawl

mode, store, urls = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


class RequestCheckOnly(UrlGuardMiddleware):
    async def process_request(self, request, spider=None):
        await self.guard.refusal(request.url)
        request.meta[GUARD_META_KEY] = self.guard


settings = {"ARCHIVE_STORE": store, "ARCHIVE_OPERATOR": "bench", "CONCURRENT_REQUESTS_PER_DOMAIN": 4}
if mode != "off":
    settings.update({"URLGUARD_ENABLED": True, "URLGUARD_ALLOWED_NETWORKS": ["127.0.0.1/32"]})
if mode == "request-check":
    settings["DOWNLOADER_MIDDLEWARES"] = {
        "__main__.RequestCheckOnly": 50,
        "crawler.middlewares.perhost.PerHostLimit": 60,
    }
result = run_crawl([Job(url=u) for u in urls], crawl_settings(settings))
print(json.dumps([c["outcome"] for c in result.captures]))
"""


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    site = AdSite(ads=pages).start()
    urls = [site.url(f"/ad/{n}") for n in range(1, pages + 1)]
    totals: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    try:
        for _ in range(rounds):
            for mode in MODES:
                store = tempfile.mkdtemp(prefix="guard-cost-")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, store, json.dumps(urls)],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                wall = time.monotonic() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                shutil.rmtree(store, ignore_errors=True)
                cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
                if outcomes.count("ok") != pages:
                    raise SystemExit(f"{mode}: {outcomes} {proc.stderr[-2000:]}")
                totals[mode].append((wall, cpu))
                print(f"{mode:20} wall {wall:6.1f} s  cpu {cpu:6.1f} s", flush=True)
    finally:
        site.stop()
    for mode, runs in totals.items():
        wall = sum(r[0] for r in runs) / len(runs) / pages
        cpu = sum(r[1] for r in runs) / len(runs) / pages
        print(f"{mode:20} per capture: wall {wall:.3f} s, cpu {cpu:.3f} s")


if __name__ == "__main__":
    main()
