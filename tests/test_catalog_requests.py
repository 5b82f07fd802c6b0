"""The queue of capture requests in the catalog, on SQLite and PostgreSQL: claims are exclusive,
a dead worker's request is taken again, duplicates share one capture."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive import Archive, ArchiveConfig
from archive.catalog import requests as capture_requests
from archive.catalog.custody import entries
from archive.catalog.requests import RequestRow
from archive.chain import verify_chain


def open_archive(store: Path, db: str | None) -> Archive:
    return Archive.open(ArchiveConfig(store=str(store), db=db, operator="op"))


def test_concurrent_workers_never_claim_the_same_request(store: Path, db_url: str | None):
    archive = open_archive(store, db_url)
    for n in range(12):
        capture_requests.submit(archive.catalog, url=f"http://example.org/{n}", reporter="alice")
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (row := capture_requests.claim(archive.catalog, name, 30)) is not None:
            with lock:
                claimed.append(row.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == list(range(1, 13))
    archive.close()


def test_a_request_whose_worker_died_is_claimed_again_then_given_up(store: Path, db_url: str | None):
    archive = open_archive(store, db_url)
    row = capture_requests.submit(archive.catalog, url="http://example.org/", reporter="alice")
    assert capture_requests.claim(archive.catalog, "dead", 0.2).id == row.id
    assert capture_requests.claim(archive.catalog, "other", 30) is None  # its lease still runs
    time.sleep(0.3)
    for attempt in (2, 3):
        again = capture_requests.claim(archive.catalog, "other", 0.01)
        assert again.id == row.id and again.attempts == attempt
        time.sleep(0.05)
    assert capture_requests.claim(archive.catalog, "other", 30) is None
    given_up = capture_requests.get(archive.catalog, row.id)
    assert given_up.status == "failed" and "gave up after 3 attempts" in given_up.error
    archive.close()


def test_a_renewed_lease_keeps_the_request_and_a_released_one_is_queued_again(
    store: Path, db_url: str | None
):
    archive = open_archive(store, db_url)
    row = capture_requests.submit(archive.catalog, url="http://example.org/", reporter="alice")
    capture_requests.claim(archive.catalog, "w1", 0.3)
    capture_requests.renew(archive.catalog, [row.id], "w1", 30)
    time.sleep(0.4)
    assert capture_requests.claim(archive.catalog, "w2", 30) is None
    capture_requests.release(archive.catalog, [row.id], "w1")
    back = capture_requests.get(archive.catalog, row.id)
    assert back.status == "queued" and back.attempts == 0
    assert capture_requests.claim(archive.catalog, "w2", 30).id == row.id
    archive.close()


def test_duplicates_are_linked_and_completed_together(store: Path, db_url: str | None):
    archive = open_archive(store, db_url)
    cat = archive.catalog
    url = "http://example.org/ad/1"
    first = capture_requests.submit(cat, url=url, reporter="alice", dedup_seconds=60)
    second = capture_requests.submit(cat, url=url, reporter="tipline", dedup_seconds=60)
    other = capture_requests.submit(cat, url=url + "?x", reporter="tipline", dedup_seconds=60)
    assert second.linked_to == first.id and other.linked_to is None
    assert capture_requests.claim(cat, "w", 30).id == first.id  # a linked request is never claimed
    assert capture_requests.get(cat, second.id).status == "running"  # it waits on the same capture
    capture_requests.complete(cat, first.id, capture_id=41)
    assert {capture_requests.get(cat, r.id).capture_id for r in (first, second)} == {41}
    assert capture_requests.get(cat, second.id).status == "stored"
    late = capture_requests.submit(cat, url=url, reporter="bob", dedup_seconds=60)
    assert late.status == "stored" and late.capture_id == 41
    # Outside the window a new request is captured anew.
    with cat.session() as s:
        s.get(RequestRow, first.id).finished_at = datetime.now(UTC) - timedelta(seconds=120)
    fresh = capture_requests.submit(cat, url=url, reporter="bob", dedup_seconds=60)
    assert fresh.linked_to is None and fresh.status == "queued"
    log = entries(cat, [41])
    assert [(e.action, e.actor) for e in log] == [
        ("report", "alice"),
        ("report", "tipline"),
        ("report", "bob"),
    ]
    assert verify_chain(entries(cat)) == []
    archive.close()
