"""Capacity of a fleet worker, measured: captures per minute, CPU seconds per capture (the whole
process tree: Python, the Playwright driver, Chromium), and the catalog's load per capture
(PostgreSQL transactions and rows written, from pg_stat_database of a database of its own).

    .venv/bin/python bench/fleet.py --workers 1 --pages 60 --page-delay 0

Starts the stand-in sites (demo/slowsite.py) on loopback, real `lastseen worker` processes with
a local store, queues the pages with `lastseen scheduler --once`, and waits until every job is
done. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.catalog.db import CaptureRow, Catalog  # noqa: E402
from archive.catalog.queue import DONE, JobRow  # noqa: E402
from demo.slowsite import SlowSites  # noqa: E402

LASTSEEN = str(Path(sys.executable).parent / "lastseen")
ADMIN = os.environ.get("LASTSEEN_TEST_PG", "postgresql://root@127.0.0.1:5432/test")


def tree_cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def stats(admin: object, name: str) -> dict[str, int]:
    with admin.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            text(
                "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted "
                "FROM pg_stat_database WHERE datname = :n"
            ),
            {"n": name},
        ).one()
    return dict(zip(("commits", "inserted", "updated", "deleted"), row, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--page-delay", type=float, default=0.0)
    ap.add_argument("--per-host", type=int, default=4)
    ap.add_argument("--hosts", type=int, default=6)
    args = ap.parse_args()

    name = f"fleet_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = ADMIN.rsplit("/", 1)[0] + "/" + name
    sites = SlowSites(hosts=args.hosts, delay=args.page_delay).start()
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTSEEN_")}
    env.update(LASTSEEN_DB=db, LASTSEEN_STORE=str(tmp / "store"), LASTSEEN_ALLOW_PRIVATE="1",
               LASTSEEN_OPERATOR="bench")  # fmt: skip
    catalog = Catalog(db)
    catalog.migrate()
    procs = []
    try:
        for n in range(args.workers):
            log = open(tmp / f"worker-{n}.log", "wb")  # noqa: SIM115
            procs.append(subprocess.Popen(
                [LASTSEEN, "worker", "--per-host", str(args.per_host)],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
            ))  # fmt: skip
        time.sleep(3)
        # Warm-up: one page per worker, so that browser start is not counted.
        bases = sites.bases
        warm = tmp / "warm.yaml"
        warm.write_text("".join(f"- url: {bases[0]}/page/warm{n}\n" for n in range(args.workers)))
        subprocess.run([LASTSEEN, "scheduler", str(warm), "--once"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        while _done(catalog) < args.workers:
            time.sleep(0.2)
        handles = [psutil.Process(p.pid) for p in procs]
        cpu0, db0, t0 = tree_cpu(handles), stats(admin, name), time.monotonic()
        seeds = tmp / "watch.yaml"
        seeds.write_text("".join(
            f"- url: {bases[n % len(bases)]}/page/p{n}\n  every: 1h\n" for n in range(args.pages)
        ))  # fmt: skip
        subprocess.run([LASTSEEN, "scheduler", str(seeds), "--once"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        while _done(catalog) < args.workers + args.pages:
            time.sleep(0.2)
        seconds = time.monotonic() - t0
        cpu = tree_cpu(handles) - cpu0
        time.sleep(1.5)  # the server publishes its statistics about once a second
        db1 = stats(admin, name)
        with catalog.session() as s:
            warc = s.execute(select(func.avg(CaptureRow.warc_size))).scalar_one()
            # Where a job's time goes: its page open in the browser, then sealing and booking.
            spans = s.execute(
                select(JobRow.started_at, JobRow.page_closed_at, JobRow.finished_at).where(
                    JobRow.status == DONE, JobRow.page_closed_at.is_not(None)
                )
            ).all()
        page = [(c - a).total_seconds() for a, c, _ in spans]
        seal = [(f - c).total_seconds() for _, c, f in spans]
        load = {k: round((db1[k] - db0[k]) / args.pages, 1) for k in db0}
        print(
            json.dumps(
                {
                    "workers": args.workers,
                    "pages": args.pages,
                    "page_delay_s": args.page_delay,
                    "seconds": round(seconds, 1),
                    "captures_per_min": round(args.pages / seconds * 60, 1),
                    "captures_per_min_per_worker": round(
                        args.pages / seconds * 60 / args.workers, 1
                    ),
                    "cpu_s_per_capture": round(cpu / args.pages, 2),
                    "catalog_per_capture": load,
                    "warc_bytes_avg": int(warc or 0),
                    "job_page_open_s_avg": round(sum(page) / len(page), 2) if page else None,
                    "job_sealing_s_avg": round(sum(seal) / len(seal), 2) if seal else None,
                    "load_avg": os.getloadavg(),
                }
            )
        )
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=45)
            except subprocess.TimeoutExpired:
                p.kill()
        catalog.dispose()
        sites.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _done(catalog: Catalog) -> int:
    with catalog.session() as s:
        return int(s.execute(select(func.count()).where(JobRow.status == DONE)).scalar_one())


if __name__ == "__main__":
    main()
