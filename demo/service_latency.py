"""Measure the capture service end to end on this machine: report -> stored -> screenshot shown.

Starts the demo ad site and `lastseen serve` (one worker, warm browser) on free ports, reports
the site's listing page (a simple page) N times through the API, one after the other, and prints
how long each took from the POST until the API said ``stored`` and the screenshot was served.
``python -m demo.service_latency [N]``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from demo.site import AdSite


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    token = secrets.token_hex(16)
    site = AdSite(ads=3).start()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            LASTSEEN_STORE=str(Path(tmp) / "evidence"),
            LASTSEEN_API_TOKEN=f"bench:{token}",
            LASTSEEN_ALLOW_PRIVATE="1",  # the demo site is on 127.0.0.1
        )
        lastseen = str(Path(sys.executable).parent / "lastseen")
        proc = subprocess.Popen(
            [lastseen, "serve", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"http://[0-9.]+:\d+", line)
        if not found:
            print(line + proc.stderr.read(), file=sys.stderr)
            return 1
        base = found.group(0)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def call(method: str, path: str, body: object = None) -> bytes:
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
            with urllib.request.urlopen(req, timeout=60) as resp:
                return bytes(resp.read())

        time.sleep(3)  # let the worker launch its browser, as a running service has
        times = []
        try:
            for n in range(-1, rounds):  # n = -1: a first report, not counted (warm-up)
                started = time.monotonic()
                report = json.loads(call("POST", "/api/captures", {"url": site.url(f"/?n={n}")}))
                while json.loads(call("GET", f"/api/captures/{report['id']}"))["status"] in (
                    "queued",
                    "running",
                ):
                    time.sleep(0.05)
                call("GET", f"/api/captures/{report['id']}/screenshot")
                took = time.monotonic() - started
                if n < 0:
                    print(f"first report after start (not counted): {took:.2f} s")
                    continue
                times.append(took)
                print(f"report {n + 1}: stored and screenshot served in {took:.2f} s")
        finally:
            proc.terminate()
            proc.wait(60)
            site.stop()
    print(
        f"{rounds} reports: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
