"""The fleet's job queue in PostgreSQL: one pending job per URL, on-demand first, politeness
across workers, leases that outlive a dead worker, and a job that seals once however often it
runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from archive import Archive, ArchiveConfig
from archive.catalog import custody, queue
from archive.catalog import requests as capture_requests
from archive.catalog.db import CaptureRow
from archive.catalog.hosts import HostRow, Politeness
from archive.catalog.queue import JobRow
from archive.catalog.workers import beat, fleet_status
from archive.job import DUE, FOUND, REQUESTED, Job
from archive.seal.archive import DUPLICATE
from tests.fleet_fixtures import wait_for
from tests.s3_fixtures import sample_capture


@pytest.fixture
def archive(fleet_db: str, tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(ArchiveConfig(store=str(tmp_path / "store"), db=fleet_db, operator="op"))
    yield opened
    opened.close()


def test_one_pending_job_per_url_and_a_report_moves_it_forward(archive: Archive):
    catalog = archive.catalog
    scheduled = Job(url="http://a.example/1", reason=DUE)
    assert len(queue.enqueue(catalog, [scheduled, scheduled])) == 1
    assert queue.enqueue(catalog, [Job(url="http://a.example/1", reason=REQUESTED)]) == []
    with catalog.session() as s:
        rows = list(s.scalars(select(JobRow)))
    assert [(r.kind, r.priority) for r in rows] == [(DUE, queue.PRIORITY[REQUESTED])]
    row = queue.claim(catalog, "w1", 30, Politeness())
    assert row is not None
    assert queue.enqueue(catalog, [scheduled]) == []  # running counts as pending
    capture = archive.seal(sample_capture("http://a.example/1", None))
    queue.complete(catalog, row.id, capture.id)
    assert len(queue.enqueue(catalog, [scheduled])) == 1  # done: the next one may be queued


def test_on_demand_first_then_found_links_then_scheduled(archive: Archive):
    catalog = archive.catalog
    queue.enqueue(catalog, [Job(url=f"http://s{n}.example/", reason=DUE) for n in range(3)])
    queue.enqueue(catalog, [Job(url="http://f.example/", reason=FOUND)])
    queue.enqueue(catalog, [Job(url="http://r.example/", reason=REQUESTED)])
    order = []
    while (row := queue.claim(catalog, "w", 30, Politeness(per_host=0))) is not None:
        order.append(row.url)
    assert order == [
        "http://r.example/",
        "http://f.example/",
        "http://s0.example/",
        "http://s1.example/",
        "http://s2.example/",
    ]


def test_claims_of_many_workers_keep_the_per_host_limit_and_never_share_a_job(archive: Archive):
    catalog = archive.catalog
    urls = [f"http://{host}.example/{n}" for host in ("a", "b") for n in range(10)]
    queue.enqueue(catalog, [Job(url=u, reason=DUE) for u in urls])
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        for _ in range(10):
            row = queue.claim(catalog, name, 30, Politeness(per_host=2))
            if row is not None:
                with lock:
                    claimed.append(row.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 4  # two places on each of the two sites
    with catalog.session() as s:
        running = (
            s.execute(select(JobRow.host).where(JobRow.status == queue.RUNNING)).scalars().all()
        )
    assert sorted(running) == ["a.example", "a.example", "b.example", "b.example"]


def test_the_delay_holds_for_the_fleet_and_a_refusing_site_is_backed_off(archive: Archive):
    catalog = archive.catalog
    queue.enqueue(catalog, [Job(url=f"http://slow.example/{n}", reason=DUE) for n in range(3)])
    polite = Politeness(per_host=5, delay=60)
    first = queue.claim(catalog, "w1", 120, polite)
    assert first is not None
    assert queue.claim(catalog, "w2", 30, polite) is None  # the next page waits for the delay
    wake = queue.next_wake(catalog)
    assert wake is not None and wake > queue.now() + timedelta(seconds=50)
    refused = sample_capture("http://slow.example/0", None)
    refused.http_status = 429
    sealed = archive.seal(refused)
    queue.complete(catalog, first.id, sealed.id)
    with catalog.session() as s:
        site = s.get(HostRow, "slow.example")
        assert site is not None and site.reason == "HTTP 429" and site.refusals == 1
        s.execute(update(HostRow).values(next_at=None))
    assert queue.claim(catalog, "w2", 30, polite) is None  # backed off, whoever asks
    assert "slow.example" in fleet_status(catalog)["backed_off"]


def test_a_dead_workers_job_is_taken_again_after_its_lease_then_given_up(archive: Archive):
    catalog = archive.catalog
    (job_id,) = queue.enqueue(catalog, [Job(url="http://a.example/x", reason=DUE)])
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        row = queue.claim(catalog, f"w{attempt}", 30, Politeness())
        assert row is not None and row.id == job_id and row.attempts == attempt
        assert queue.claim(catalog, "other", 30, Politeness()) is None  # leased
        with catalog.session() as s:  # the worker died: its lease runs out, its backoff too
            s.execute(update(JobRow).values(lease_until=queue.now() - timedelta(seconds=1)))
        queue.claim(catalog, "reaper", 30, Politeness())
        with catalog.session() as s:
            s.execute(update(JobRow).values(run_after=queue.now()))
    with catalog.session() as s:
        row = s.get(JobRow, job_id)
    assert row is not None and row.status == queue.FAILED
    assert row.error is not None and "gave up after 3 attempts" in row.error
    assert f"worker w{queue.MAX_ATTEMPTS} stopped" in row.error


def test_a_job_sealed_twice_yields_one_capture(archive: Archive):
    catalog = archive.catalog
    (job_id,) = queue.enqueue(catalog, [Job(url="http://a.example/y", reason=REQUESTED)])
    first = sample_capture("http://a.example/y", None)
    first.job_id = job_id
    again = sample_capture("http://a.example/y", None)
    again.job_id = job_id
    one, two = archive.seal(first), archive.seal(again)
    assert one.id == two.id
    with catalog.session() as s:
        assert s.scalars(select(CaptureRow.id).where(CaptureRow.job_id == job_id)).all() == [one.id]


def test_a_report_shows_what_its_job_does_running_queued_again_then_failed(archive: Archive):
    catalog = archive.catalog
    url = "http://r.example/reported"
    first = capture_requests.submit(catalog, url=url, reporter="analyst")
    again = capture_requests.submit(catalog, url=url, reporter="other", dedup_seconds=60)
    assert again.linked_to == first.id

    def shown() -> list[str]:
        rows = [capture_requests.get(catalog, r.id) for r in (first, again)]
        return [r.status for r in rows if r is not None]

    def take(worker: str) -> JobRow:
        with catalog.session() as s:  # no backoff to wait for in a test
            s.execute(update(JobRow).values(run_after=queue.now()))
        row = queue.claim(catalog, worker, 30, Politeness())
        assert row is not None and row.report_id == first.id
        assert shown() == ["running", "running"]
        return row

    assert shown() == ["queued", "queued"]
    row = take("w1")
    assert getattr(capture_requests.get(catalog, first.id), "worker", None) == "w1"
    queue.release(catalog, [row.id], "w1")  # a stopping worker hands it back
    assert shown() == ["queued", "queued"]
    row = take("w2")
    queue.fail(catalog, row.id, "the capture failed: boom")
    assert shown() == ["queued", "queued"]
    take("w3")
    with catalog.session() as s:  # w3 died: its lease runs out and the next claim reaps it
        s.execute(update(JobRow).values(lease_until=queue.now() - timedelta(seconds=1)))
    assert queue.claim(catalog, "reaper", 30, Politeness()) is None
    assert shown() == ["queued", "queued"]
    row = take("w4")
    queue.fail(catalog, row.id, "the capture failed: boom")  # its last attempt
    assert shown() == ["failed", "failed"]
    failed = capture_requests.get(catalog, first.id)
    assert failed is not None and failed.error is not None
    assert "gave up after 3 attempts" in failed.error and "boom" in failed.error


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_workers_sealing_one_job_at_once_store_one_warc(
    fleet_db: str, tmp_path: Path, request: pytest.FixtureRequest, where: str
):
    """A job that ran twice (its first worker sealed, then died before saying so; the lease ran
    out) is sealed by both workers at the same instant: the store holds one WARC, the one the
    catalog books, and the custody log records the other capture as a duplicate of it."""
    bucket = seaweed = None
    if where == "s3":
        seaweed = request.getfixturevalue("seaweed")
        request.getfixturevalue("aws_env")
        bucket = seaweed.new_bucket()

    def worker(n: int) -> Archive:
        spool = tmp_path / f"spool-{n}"  # an S3 worker's own spool, as on its own machine
        store = f"s3://{bucket}/lastseen" if bucket else str(tmp_path / "store")
        config = ArchiveConfig(
            store=store, db=fleet_db, operator=f"w{n}", spool=str(spool), retention="1d"
        )
        return Archive.open(config)

    workers = [worker(1), worker(2)]
    catalog = workers[0].catalog
    url = "http://a.example/twice"
    (job_id,) = queue.enqueue(catalog, [Job(url=url, reason=DUE)])
    sealed: dict[int, int] = {}

    def seal(n: int) -> None:
        capture = sample_capture(url, None)
        capture.job_id = job_id
        sealed[n] = workers[n].seal(capture).id

    waiting = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    threads = [threading.Thread(target=seal, args=(n,)) for n in range(2)]
    try:
        # The custody log held: each seal goes as far as it may before booking its capture.
        with catalog.session() as held:
            catalog.lock_custody(held)
            for t in threads:
                t.start()

            def both_stopped() -> bool:
                with catalog.engine.connect() as conn:
                    return conn.execute(waiting).scalar_one() == 2

            wait_for(both_stopped, 30, "both seals to wait on a lock")
        for t in threads:
            t.join(60)
        assert len(sealed) == 2 and sealed[0] == sealed[1]

        # Every WARC anywhere: the store, or the spools and the bucket.
        folders = (
            [tmp_path / "store"]
            if seaweed is None
            else [tmp_path / "spool-1", tmp_path / "spool-2"]
        )
        stored = [p.name for f in folders for p in f.rglob("*") if p.is_file() and "warc" in p.name]
        if seaweed is not None:
            listed = seaweed.client().list_object_versions(Bucket=bucket)
            stored += [v["Key"].rsplit("/", 1)[1] for v in listed.get("Versions", [])]
        with catalog.session() as s:
            rows = s.scalars(select(CaptureRow).where(CaptureRow.job_id == job_id)).all()
            assert s.scalar(select(func.count()).select_from(CaptureRow)) == 1
        assert [r.id for r in rows] == [sealed[0]]
        assert set(stored) == {rows[0].warc_name.rsplit("/", 1)[1]}, stored
        assert len(stored) == 1 if seaweed is None else len(stored) <= 2  # spooled, uploaded
        entries = custody.entries(catalog, [rows[0].id])
        seals = [e for e in entries if e.action in (custody.CAPTURE, DUPLICATE)]
        assert [e.action for e in seals] == [custody.CAPTURE, DUPLICATE]
        assert seals[1].details["job"] == job_id and "warc" not in seals[1].details
    finally:
        for archive in workers:
            archive.close()


def test_a_report_is_answered_as_its_job_is_booked_once_however_often(archive: Archive):
    catalog = archive.catalog
    url = "http://r.example/answered"
    report = capture_requests.submit(catalog, url=url, reporter="analyst")
    row = queue.claim(catalog, "w1", 30, Politeness())
    assert row is not None and row.report_id == report.id
    capture = sample_capture(url, None)
    capture.job_id = row.id
    sealed = archive.seal(capture)
    for _ in range(2):  # the job ran twice: booked twice
        queue.complete(catalog, row.id, sealed.id)
        answered = capture_requests.get(catalog, report.id)
        assert answered is not None and answered.status == "stored"
        assert answered.capture_id == sealed.id
    links = [e for e in custody.entries(catalog, [sealed.id]) if e.action == capture_requests.LINK]
    assert [e.details["report"] for e in links] == [report.id]


def test_a_report_of_a_url_whose_job_answers_another_report_is_answered_by_it_too(
    archive: Archive,
):
    # Without deduplication (LASTSEEN_DEDUP_SECONDS=0) the second report is not linked when it
    # arrives as a duplicate; its URL has one pending job, which answers the first report. It
    # used to stay queued for ever; it is answered by that job's capture, linked to the first.
    catalog = archive.catalog
    url = "http://r.example/twice"
    first = capture_requests.submit(catalog, url=url, reporter="analyst", case_id="C-1")
    second = capture_requests.submit(catalog, url=url, reporter="other", case_id="C-2")
    assert second.linked_to == first.id and second.status == "queued"
    with catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(JobRow)) == 1
    row = queue.claim(catalog, "w1", 30, Politeness())
    assert row is not None and row.report_id == first.id
    shown = [capture_requests.get(catalog, r.id) for r in (first, second)]
    assert [r.status for r in shown if r is not None] == ["running", "running"]
    capture = sample_capture(url, None)
    capture.job_id = row.id
    sealed = archive.seal(capture)
    queue.complete(catalog, row.id, sealed.id)
    for report in (first, second):
        answered = capture_requests.get(catalog, report.id)
        assert answered is not None and answered.status == "stored"
        assert answered.capture_id == sealed.id
    requested = [e for e in custody.entries(catalog) if e.action == capture_requests.REQUEST]
    assert [e.details.get("linked_to") for e in requested] == [None, first.id]
    links = [e for e in custody.entries(catalog, [sealed.id]) if e.action == capture_requests.LINK]
    assert sorted(e.details["report"] for e in links) == [first.id, second.id]


def test_a_report_with_a_profile_gets_a_job_of_its_own_beside_the_scheduled_one(
    archive: Archive,
):
    # The scheduled job of a URL captures it signed out; a report asking for a profile must not
    # be answered by it (it was, before: captured signed out).
    catalog = archive.catalog
    url = "http://social.example/u/dealer"
    (scheduled,) = queue.enqueue(catalog, [Job(url=url, reason=DUE)])
    report = capture_requests.submit(catalog, url=url, reporter="analyst", profile="undercover")
    assert report.linked_to is None and report.status == "queued"
    again = capture_requests.submit(catalog, url=url, reporter="other", profile="undercover")
    assert again.linked_to == report.id  # the same profile: the same capture answers both
    with catalog.session() as s:
        rows = {r.id: r for r in s.scalars(select(JobRow))}
    assert len(rows) == 2 and rows[scheduled].report_id is None
    (signed_in,) = [r for r in rows.values() if r.id != scheduled]
    assert signed_in.report_id == report.id and signed_in.to_job().profile == "undercover"
    assert signed_in.priority < rows[scheduled].priority


def test_status_counts_the_queue_and_the_workers_alive(archive: Archive):
    catalog = archive.catalog
    queue.enqueue(catalog, [Job(url=f"http://a.example/{n}", reason=DUE) for n in range(3)])
    queue.enqueue(catalog, [Job(url="http://r.example/", reason=REQUESTED)])
    row = queue.claim(catalog, "host1:7:abc", 30, Politeness())
    assert row is not None
    beat(catalog, "host1:7:abc", host="host1", pid=7, browser="chromium", current=[row.id],
         captures=0)  # fmt: skip
    status = fleet_status(catalog)
    assert status["queue"][DUE] == {"queued": 3, "running": 0}
    assert status["queue"][REQUESTED] == {"queued": 0, "running": 1}
    assert [(w["host"], w["pid"], w["current"]) for w in status["workers"]] == [
        ("host1", 7, [row.id])
    ]


def test_a_closed_page_frees_its_sites_place_while_its_capture_is_sealed(archive: Archive):
    catalog = archive.catalog
    queue.enqueue(catalog, [Job(url=f"http://one.example/{n}", reason=DUE) for n in range(3)])
    polite = Politeness(per_host=1)
    first = queue.claim(catalog, "w1", 30, polite)
    assert first is not None
    assert queue.claim(catalog, "w2", 30, polite) is None
    queue.page_closed(catalog, first.id)
    second = queue.claim(catalog, "w2", 30, polite)
    assert second is not None and second.id != first.id
