"""What in-page behaviors (browsertrix-behaviors) cost per capture: the same pages captured with
the library (``on``) and without it (``off``: CAPTURE_BEHAVIORS_SCRIPT = ""), one crawl per kind
of page and mode, rounds alternating so that the machine's load falls on both alike.

Kinds: ``ads`` (the demo ad site's ad pages: no site behavior, autoscroll/autofetch/autoplay for
at most CAPTURE_SCROLL_TIMEOUT), ``gallery`` (demo/lazymedia.py: a srcset variant and a lazy
background that only the behaviors fetch), ``telegram`` (demo/telegram.py, a channel of 45 posts
mapped as t.me: the site behavior, at most 20 s). Per capture: seconds from the first request to
sealing (the capture's own times), bytes of WARC, exchanges; CPU of the whole process tree.

    .venv/bin/python bench/behaviors_cost.py [ad pages] [rounds]
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.lazymedia import MediaSite  # noqa: E402
from demo.site import AdSite  # noqa: E402
from demo.telegram import TelegramSite  # noqa: E402

CHILD = r"""
import json, sys
from archive.job import Job
from crawler.run import crawl_settings, run_crawl

mode, store, hosts, urls = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
settings = {"ARCHIVE_STORE": store, "ARCHIVE_OPERATOR": "bench", "CAPTURE_SITE_HOSTS": hosts,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 4}
if mode == "off":
    settings["CAPTURE_BEHAVIORS_SCRIPT"] = ""
result = run_crawl([Job(url=u) for u in urls], crawl_settings(settings))
print(json.dumps([{k: c[k] for k in ("outcome", "captured_at", "finished_at", "warc_size",
                                     "exchanges")} for c in result.captures]))
"""


def _seconds(capture: dict[str, str]) -> float:
    start = datetime.fromisoformat(capture["captured_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(capture["finished_at"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    ads, media = AdSite(ads=pages).start(), MediaSite().start()
    telegram = TelegramSite({"smugglers_ads": 45}).start()
    kinds = {
        "ads": [ads.url(f"/ad/{n}") for n in range(1, pages + 1)],
        "gallery": [media.url("/gallery")],
        "telegram": [telegram.url("/s/smugglers_ads")],
    }
    hosts = f"127.0.0.1:{telegram.port}=telegram"
    rows: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    try:
        for _ in range(rounds):
            for kind, urls in kinds.items():
                for mode in ("off", "on"):
                    store = tempfile.mkdtemp(prefix="behaviors-cost-")
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    start = time.monotonic()
                    proc = subprocess.run(
                        [sys.executable, "-c", CHILD, mode, store, hosts, json.dumps(urls)],
                        capture_output=True,
                        text=True,
                        cwd=ROOT,
                    )
                    wall = time.monotonic() - start
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    shutil.rmtree(store, ignore_errors=True)
                    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                    captures = json.loads(proc.stdout.strip().splitlines()[-1])
                    if [c["outcome"] for c in captures].count("ok") != len(urls):
                        raise SystemExit(f"{kind} {mode}: {captures} {proc.stderr[-2000:]}")
                    n = len(captures)
                    row = (
                        sum(_seconds(c) for c in captures) / n,
                        sum(c["warc_size"] for c in captures) / n,
                        sum(c["exchanges"] for c in captures) / n,
                        cpu / n,
                    )
                    rows.setdefault((kind, mode), []).append(row)
                    print(f"{kind:9} {mode:3} wall {wall:5.1f} s  per capture: "
                          f"{row[0]:5.2f} s  {row[1] / 1000:7.1f} kB  {row[2]:4.1f} exchanges  "
                          f"cpu {row[3]:5.2f} s", flush=True)  # fmt: skip
    finally:
        ads.stop()
        media.stop()
        telegram.stop()
    print("\nper capture, mean of the rounds: seconds, WARC bytes, exchanges, CPU seconds")
    for kind in kinds:
        off, on = (
            [sum(col) / len(col) for col in zip(*rows[(kind, mode)], strict=True)]
            for mode in ("off", "on")
        )
        print(
            f"{kind:9} off {off[0]:5.2f} s {off[1] / 1000:7.1f} kB {off[2]:4.1f} ex {off[3]:5.2f} cpu"
            f" | on {on[0]:5.2f} s {on[1] / 1000:7.1f} kB {on[2]:4.1f} ex {on[3]:5.2f} cpu"
            f" | +{on[0] - off[0]:.2f} s, +{(on[1] - off[1]) / 1000:.1f} kB,"
            f" +{on[3] - off[3]:.2f} cpu s"
        )


if __name__ == "__main__":
    main()
