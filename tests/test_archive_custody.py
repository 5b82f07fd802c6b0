"""The custody log: append-only, hash-chained, one linear chain even with concurrent writers."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from archive.catalog import custody
from archive.catalog.db import Catalog, CustodyRow
from archive.chain import verify_chain


def open_catalog(store, db_url) -> Catalog:
    store.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(db_url or f"sqlite:///{store / 'catalog.sqlite'}")
    catalog.migrate()
    return catalog


def append(catalog: Catalog, n: int, actor: str = "op") -> None:
    for i in range(n):
        with catalog.session() as s:
            custody.append(catalog, s, actor=actor, action="access", capture_id=i, details={"i": i})


def test_an_intact_log_verifies_and_each_entry_names_the_previous_hash(store, db_url):
    catalog = open_catalog(store, db_url)
    append(catalog, 5)
    chain = custody.entries(catalog)
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert verify_chain(chain) == []


def test_changing_an_entry_in_the_database_is_detected(store, db_url):
    catalog = open_catalog(store, db_url)
    append(catalog, 4)
    with catalog.session() as s:
        s.execute(update(CustodyRow).where(CustodyRow.seq == 2).values(actor="someone else"))
    problems = verify_chain(custody.entries(catalog))
    assert problems == ["entry 2: content does not match its hash"]


def test_removing_an_entry_is_detected(store, db_url):
    catalog = open_catalog(store, db_url)
    append(catalog, 4)
    chain = [e for e in custody.entries(catalog) if e.seq != 3]
    problems = verify_chain(chain)
    assert "entry 4: expected sequence number 3" in problems
    assert "entry 4: does not follow the entry before it" in problems


def test_times_are_utc_with_microseconds(store, db_url):
    catalog = open_catalog(store, db_url)
    when = datetime(2026, 11, 29, 5, 32, 36, 123456, tzinfo=UTC)
    with catalog.session() as s:
        entry = custody.append(catalog, s, actor="op", action="capture", at=when)
    assert entry.at == "2026-11-29T05:32:36.123456Z"
    assert custody.entries(catalog)[0].at == entry.at


def _worker(url: str, actor: str) -> None:
    append(Catalog(url), 15, actor)


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_from_several_processes_keep_one_linear_chain(store, db_url, writers):
    catalog = open_catalog(store, db_url)
    url = catalog.url
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(url, f"worker-{i}")) for i in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    chain = custody.entries(catalog)
    assert len(chain) == writers * 15
    assert verify_chain(chain) == []
