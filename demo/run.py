"""`make run`: serve the demo ad site on localhost and capture it into ./lastseen-data."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demo.site import AdSite

PAGES = ["/", "/ad/1", "/ad/2", "/ad/3", "/redirect/1", "/cp1252", "/gone"]


def main() -> int:
    site = AdSite(ads=3).start()
    store = Path(os.environ.get("LASTSEEN_STORE", "lastseen-data")).resolve()
    env = dict(os.environ, LASTSEEN_STORE=str(store))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as seeds:
        seeds.write("# the demo ad site, served on localhost for this run\n")
        seeds.write("\n".join(site.url(p) for p in PAGES) + "\n")
    print(f"demo ad site on {site.url('/')}; capturing {len(PAGES)} pages into {store}")
    lastseen = str(Path(sys.executable).parent / "lastseen")
    started = time.monotonic()
    try:
        proc = subprocess.run([lastseen, "crawl", seeds.name, "--case", "DEMO-1"], env=env)
    finally:
        site.stop()
        os.unlink(seeds.name)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        return proc.returncode
    print(
        f"\n{len(PAGES)} pages in {elapsed:.1f} s ({len(PAGES) / elapsed * 60:.0f} captures/min, "
        "browser start included)"
    )
    print(f"evidence: {store}/warcs/   catalog: {store}/catalog.sqlite")
    print("next: .venv/bin/lastseen ls   |   .venv/bin/lastseen show 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
