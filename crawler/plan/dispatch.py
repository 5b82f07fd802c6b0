"""Turn the due entries of a watch list into jobs of the fleet's queue (``lastseen scheduler``,
``crawl --due --enqueue``).

However many schedulers run at once, an entry is queued once: enqueueing holds the schedule's
lock, as does a worker booking a capture on the watch list, and a URL has at most one job
queued or running (``archive.catalog.queue``).
"""

from __future__ import annotations

from datetime import datetime

from archive.catalog import queue, watchlist
from archive.catalog.db import Catalog
from archive.job import DUE, Job
from crawler.plan.schedule import Schedule


def signed_out(catalog: Catalog, seeds: list[Job]) -> set[str]:
    """The seeds' profiles that met a login wall and were not signed in again since: their
    scheduled captures wait (the links a seed's rules found carry its profile)."""
    names = {seed.profile for seed in seeds if seed.profile}
    if not names:
        return set()
    from crawler.profiles.store import open_profiles

    store = open_profiles(catalog.url)
    return {n for n in names if (p := store.find(n)) is not None and p.signed_out_since}


def enqueue_due(catalog: Catalog, seeds: list[Job], now: datetime) -> tuple[int, int]:
    """Apply the seed file to the watch list and queue what is due: (due, newly queued). An
    entry whose profile is signed out stays due, unqueued, until it is signed in again."""
    schedule = Schedule(catalog, now)
    queued = 0
    paused = signed_out(catalog, seeds)
    with catalog.session() as s:
        queue.lock_schedule(catalog, s)
        watchlist.sync_seeds(s, seeds, now)
        rows = watchlist.due(s, [seed.url for seed in seeds], now)
        for row in rows:
            if row.profile in paused:
                continue
            job = schedule._job(s, row, reason=DUE)
            if queue.add(catalog, s, job, due_at=row.next_due_at) is not None:
                queued += 1
    return len(rows), queued
