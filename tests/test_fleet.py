"""A fleet of workers on one PostgreSQL queue (issue 15): real worker processes with their
browsers, the real S3 server, slow stand-in sites that count the pages they serve at once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from archive.catalog import queue
from archive.catalog.db import CaptureRow
from archive.catalog.queue import JobRow
from demo.slowsite import SlowSites
from tests.conftest import invoke, run_cli
from tests.fleet_fixtures import Fleet, wait_for, watch_file
from tests.service_fixtures import start_service
from tests.test_store_cli import s3_env

PER_HOST = "2"


@pytest.fixture(scope="module")
def sites() -> Iterator[SlowSites]:
    server = SlowSites(hosts=6, delay=4.0).start()
    yield server
    server.stop()


@pytest.fixture
def s3(seaweed, tmp_path: Path) -> dict[str, str]:
    bucket = seaweed.new_bucket()
    env = s3_env(seaweed.env(), bucket, tmp_path / "spool", LASTSEEN_ALLOW_PRIVATE="1")
    return env


@pytest.fixture
def fleet(tmp_path: Path, fleet_db: str, s3: dict[str, str]) -> Iterator[Fleet]:
    made = Fleet(tmp_path, fleet_db, s3)
    yield made
    made.stop()


def urls(sites: SlowSites, prefix: str, count: int, hosts: int = 6) -> list[str]:
    return [f"{sites.bases[n % hosts]}/page/{prefix}{n}" for n in range(count)]


def schedule(fleet: Fleet, path: Path, listed: list[str]) -> None:
    seeds = watch_file(path, listed)
    done = invoke("scheduler", str(seeds), "--once", "--json", store=fleet.tmp, db=fleet.db,
                  **fleet.env)  # fmt: skip
    assert done.returncode == 0, done.stderr


def captured(fleet: Fleet) -> Counter[str]:
    with fleet.catalog.session() as s:
        return Counter(s.scalars(select(CaptureRow.url)))


def test_a_worker_captures_due_entries_once_each(fleet: Fleet, sites: SlowSites, tmp_path: Path):
    fleet.start(1, "--per-host", PER_HOST, "--lease", "8")
    listed = urls(sites, "smoke", 6)
    schedule(fleet, tmp_path / "watch.yaml", listed)
    wait_for(lambda: fleet.jobs(queue.DONE) == 6, 60, "6 captures", every=0.5)
    assert captured(fleet) == Counter({url: 1 for url in listed}), fleet.log()


def test_three_workers_take_at_most_45_percent_of_one_workers_time_politely(
    fleet: Fleet, sites: SlowSites, tmp_path: Path
):
    # Two pages at once per worker on three sites of two places each: the three workers fill
    # every place. A capture costs about a CPU second: more pages at once would measure the
    # cores, not the fleet.
    args = ("--per-host", PER_HOST, "--concurrency", "2", "--lease", "10")
    fleet.start(1, *args)
    # The clock measures the fleet's work, not how long processes take to start: the entries
    # fall due once the workers are there.
    wait_for(lambda: len(fleet.alive()) == 1, 60, "the worker up")
    sites.most.clear()
    one = urls(sites, "one", 90, hosts=3)
    started = time.monotonic()
    schedule(fleet, tmp_path / "one.yaml", one)
    wait_for(lambda: fleet.jobs(queue.DONE) == 90, 400, "one worker's 90 captures", every=0.5)
    alone = time.monotonic() - started

    fleet.start(2, *args)
    wait_for(lambda: len(fleet.alive()) == 3, 60, "the three workers up")
    three = urls(sites, "three", 90, hosts=3)
    started = time.monotonic()
    schedule(fleet, tmp_path / "three.yaml", three)
    wait_for(lambda: fleet.jobs(queue.DONE) == 180, 400, "three workers' captures", every=0.5)
    together = time.monotonic() - started
    print(f"one worker {alone:.1f} s, three workers {together:.1f} s")

    assert together <= 0.45 * alone, (alone, together)
    assert captured(fleet) == Counter({url: 1 for url in one + three})
    assert all(sites.served[url] == 1 for url in one + three)
    assert max(sites.most.values()) <= int(PER_HOST), sites.most
    with fleet.catalog.session() as s:
        by_worker = Counter(s.scalars(select(JobRow.worker).where(JobRow.url.in_(three))))
    assert len(by_worker) == 3  # every worker took its share


def test_a_worker_killed_mid_capture_loses_and_duplicates_nothing(
    fleet: Fleet, sites: SlowSites, tmp_path: Path
):
    victim, _ = fleet.start(2, "--per-host", PER_HOST, "--lease", "6")
    listed = urls(sites, "kill", 8)
    schedule(fleet, tmp_path / "watch.yaml", listed)

    def victim_busy() -> bool:
        return any(w["pid"] == victim.pid and w["current"] for w in fleet.alive())

    wait_for(victim_busy, 60, "the victim to take a job")
    time.sleep(1.0)  # its pages are loading
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    wait_for(lambda: fleet.jobs(queue.DONE) == 8, 120, "every job done", every=0.5)
    assert captured(fleet) == Counter({url: 1 for url in listed}), fleet.log()
    with fleet.catalog.session() as s:
        retried = s.scalars(select(JobRow).where(JobRow.attempts > 1)).all()
    assert retried and all(j.status == queue.DONE for j in retried)


def test_every_worker_survives_its_catalog_connections_cut_by_the_server(
    fleet: Fleet, sites: SlowSites, tmp_path: Path
):
    workers = fleet.start(2, "--per-host", PER_HOST, "--lease", "8")
    first = urls(sites, "cut", 6)
    schedule(fleet, tmp_path / "one.yaml", first)
    wait_for(lambda: fleet.jobs(queue.RUNNING) > 0, 60, "captures under way")
    admin = create_engine(fleet.db, isolation_level="AUTOCOMMIT")
    cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with admin.connect() as conn:
        for n in range(3):
            # Each time once the workers hold connections again (they open them as they need).
            wait_for(lambda: conn.execute(text(cut)).rowcount > 0, 30, f"connections to cut ({n})")
            time.sleep(1.0)
    wait_for(lambda: fleet.jobs(queue.DONE) == 6, 120, "the first jobs done", every=0.5)
    # Still listening and claiming: new jobs are taken after the cut.
    second = urls(sites, "after", 4)
    schedule(fleet, tmp_path / "two.yaml", second)
    wait_for(lambda: fleet.jobs(queue.DONE) == 10, 60, "the later jobs done", every=0.5)
    admin.dispose()
    assert all(proc.poll() is None for proc in workers)
    shown = invoke("status", "--json", store=tmp_path, db=fleet.db, **fleet.env)
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert sorted(w["pid"] for w in state["workers"]) == sorted(p.pid for p in workers)
    assert state["queue"]["due"] == {"queued": 0, "running": 0}
    assert state["lag_s"]["captures"] == 10 and state["lag_s"]["p95"] is not None
    assert captured(fleet) == Counter({url: 1 for url in first + second}), fleet.log()


def test_an_on_demand_report_overtakes_a_long_scheduled_backlog(
    fleet: Fleet, sites: SlowSites, tmp_path: Path
):
    fleet.start(1, "--per-host", "4", "--concurrency", "2", "--lease", "10")
    backlog = urls(sites, "backlog", 30)
    schedule(fleet, tmp_path / "watch.yaml", backlog)
    wait_for(lambda: fleet.jobs(queue.RUNNING) > 0, 60, "the backlog under way")
    # The service takes no captures itself: its report is a job of the fleet's queue.
    svc = start_service(tmp_path / "svc", fleet.db, "--workers", "0", **fleet.env)
    try:
        asked = svc.report(f"{sites.bases[0]}/page/reported")
        shown = []

        def answered_() -> dict[str, Any] | None:
            data = svc.get(f"/api/captures/{asked['id']}").json()
            shown.append(data["status"])
            return data if data["status"] not in ("queued", "running") else None

        answered = wait_for(answered_, 60, "the report answered", every=0.1)
        assert answered["status"] == "stored", answered
        # Running while a worker captures it (its page takes 4 s), as on the service's own queue.
        steps = [status for status, _ in groupby(shown)]
        assert steps in (["queued", "running", "stored"], ["running", "stored"]), steps
        assert fleet.jobs(queue.QUEUED) >= 20  # it did not wait for the backlog
        metrics = svc.get("/metrics")
        assert metrics.status == 200
        text_ = metrics.body.decode()
        assert "lastseen_workers_alive 1" in text_
        assert 'lastseen_jobs{kind="due",status="queued"}' in text_
        assert 'lastseen_jobs{kind="requested",status="running"} 0' in text_
        assert svc.get("/metrics", token=None).status == 401
    finally:
        svc.stop()


def test_the_scheduler_queues_a_due_entry_once_however_many_run(fleet: Fleet, tmp_path: Path):
    listed = [f"http://127.0.0.1:9/page/{n}" for n in range(40)]
    seeds = watch_file(tmp_path / "watch.yaml", listed)
    env = {**fleet.env}
    results = []
    # `lastseen scheduler --once` and its cron form `crawl --due --enqueue`, at the same time.
    looks = [("scheduler", str(seeds), "--once"), ("crawl", str(seeds), "--due", "--enqueue")]

    def run(n: int = 0) -> None:
        results.append(run_cli(*looks[n % 2], store=tmp_path, db=fleet.db, **env))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    run()  # and again later: still queued, not queued twice
    with fleet.catalog.session() as s:
        queued = Counter(s.scalars(select(JobRow.url)))
    assert queued == Counter({url: 1 for url in listed})


def test_fleet_commands_need_postgresql(tmp_path: Path):
    seeds = watch_file(tmp_path / "watch.yaml", ["http://127.0.0.1:9/page/x"])
    for args in (("status",), ("scheduler", str(seeds), "--once"),
                 ("crawl", str(seeds), "--due", "--enqueue")):  # fmt: skip
        done = invoke(*args, store=tmp_path / "store")
        assert done.returncode == 2
        assert "needs a PostgreSQL catalog" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists()  # nothing written
