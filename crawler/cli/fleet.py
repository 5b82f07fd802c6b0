"""`lastseen worker`, `lastseen scheduler`, `lastseen status`: a fleet of capture workers sharing
one PostgreSQL catalog and one store (issue 15).

With a SQLite catalog, `lastseen worker` takes the capture service's reports as before, and
scheduled runs stay `crawl --due`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from archive import Archive
from crawler.browser import find_browser
from crawler.cli.common import archive_config, err, marked, out, print_json
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import case_option, json_option, timeout_option
from crawler.page.config import CaptureConfig
from crawler.service.config import guard_from_env, guard_settings
from crawler.service.worker import run_worker, worker_settings

F = TypeVar("F", bound=Callable[..., Any])


def politeness_options(func: F) -> F:
    func = click.option(
        "--delay",
        type=click.FloatRange(0, 3600),
        envvar="LASTSEEN_DELAY",
        metavar="S",
        help="Wait S seconds between two pages of one site, across all workers (default 0).",
    )(func)
    return click.option(
        "--per-host",
        type=click.IntRange(1, 64),
        envvar="LASTSEEN_PER_HOST",
        metavar="N",
        help="At most N pages of one site at a time, across all workers (default 2).",
    )(func)


def _fleet_archive(ctx: click.Context, what: str) -> Archive:
    config = archive_config(ctx)
    if not (config.db or "").startswith("postgresql"):  # checked before anything is created
        raise UserError(f"{what} needs a PostgreSQL catalog (LASTSEEN_DB=postgresql://...)")
    return Archive.open(config)


@click.command()
@timeout_option("Per-capture time limit in seconds (default 30).")
@politeness_options
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    envvar="LASTSEEN_CONCURRENCY",
    metavar="N",
    help="Pages this worker captures at once (default 4).",
)
@click.option(
    "--lease",
    type=click.FloatRange(2, 3600),
    default=30.0,
    show_default=True,
    envvar="LASTSEEN_LEASE",
    metavar="S",
    help="How long a job stays this worker's without a heartbeat (PostgreSQL catalog).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.05, 60),
    default=0.2,
    show_default=True,
    envvar="LASTSEEN_POLL_INTERVAL",
    metavar="S",
    help="SQLite catalog: how often an idle worker looks for new reports, in seconds.",
)
@click.pass_context
@friendly
def worker(
    ctx: click.Context,
    timeout: float | None,
    per_host: int | None,
    delay: float | None,
    concurrency: int | None,
    lease: float,
    poll_interval: float,
) -> None:
    """Capture jobs from the catalog's queue until stopped (more workers: run more)."""
    find_browser()
    config = archive_config(ctx)
    guard = guard_from_env()
    overrides = {
        "CAPTURE_TIMEOUT": timeout,
        **config.settings(),
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
        "DOWNLOAD_DELAY": delay,
        "QUEUE_POLL_INTERVAL": poll_interval,
        "FLEET_LEASE": lease,
        **guard_settings(guard),
    }
    CaptureConfig.from_settings(worker_settings(overrides))  # bad settings: exit 2 now
    archive = Archive.open(config)  # an unusable store or catalog fails before the browser
    fleet = archive.catalog.is_postgresql
    archive.close()
    run_worker(overrides, spider="fleet" if fleet else "queue")


@click.command()
@click.argument("seeds_file", metavar="SEEDS_FILE")
@case_option("Case number for every seed.", from_env=True)
@click.option(
    "--every",
    "tick",
    type=click.FloatRange(1, 3600),
    default=15.0,
    show_default=True,
    envvar="LASTSEEN_SCHEDULER_TICK",
    metavar="S",
    help="Look for due entries every S seconds.",
)
@click.option("--once", is_flag=True, help="Queue what is due now, then exit (for cron).")
@json_option("Print one JSON object per look: due and newly queued entries.")
@click.pass_context
@friendly
def scheduler(
    ctx: click.Context, seeds_file: str, case: str | None, tick: float, once: bool, as_json: bool
) -> None:
    """Queue the due entries of a watch list as jobs for the workers, once however many run."""
    from crawler.plan.seeds import read_seed_file

    read_seed_file(seeds_file, case=case)  # bad input: exit 2 before anything is written
    archive = _fleet_archive(ctx, "lastseen scheduler")
    try:
        while True:
            enqueue_once(archive, seeds_file, case, as_json)
            if once:
                return
            time.sleep(tick)
    except KeyboardInterrupt:
        return
    finally:
        archive.close()


def enqueue_due_once(ctx: click.Context, seeds_file: str, case: str | None, as_json: bool) -> None:
    """`crawl --due --enqueue`: one look, from cron."""
    from crawler.plan.seeds import read_seed_file

    read_seed_file(seeds_file, case=case)
    archive = _fleet_archive(ctx, "--enqueue")
    try:
        enqueue_once(archive, seeds_file, case, as_json)
    finally:
        archive.close()


def enqueue_once(archive: Archive, seeds_file: str, case: str | None, as_json: bool) -> None:
    """One look at the watch list (the seed file is read again: edits apply at once)."""
    from archive.times import rfc3339, utc_now
    from crawler.plan.dispatch import enqueue_due
    from crawler.plan.seeds import read_seed_file

    now = utc_now()
    due, queued = enqueue_due(archive.catalog, read_seed_file(seeds_file, case=case), now)
    if as_json:
        print_json({"at": rfc3339(now), "due": due, "queued": queued})
    else:
        err.print(f"{rfc3339(now)}: {due} due, {queued} queued")


@click.command()
@json_option("Print the fleet's state as one JSON object.")
@click.pass_context
@friendly
def status(ctx: click.Context, as_json: bool) -> None:
    """The fleet: queue depth by kind, workers alive, lag of scheduled captures, failures."""
    from archive.catalog.workers import fleet_status

    archive = _fleet_archive(ctx, "lastseen status")
    try:
        state = fleet_status(archive.catalog)
    finally:
        archive.close()
    if as_json:
        print_json(state)
        return
    for kind, counts in state["queue"].items():
        out.print(f"{kind:<10} {counts['queued']:>6} queued {counts['running']:>4} running")
    lag = state["lag_s"]
    out.print(
        f"scheduled captures started behind their due time (last hour, {lag['captures']}): "
        f"p50 {lag['p50'] if lag['p50'] is not None else '-'} s, "
        f"p95 {lag['p95'] if lag['p95'] is not None else '-'} s"
    )
    out.print(f"{len(state['workers'])} worker(s) alive")
    for w in state["workers"]:
        jobs = ", ".join(f"#{j['id']} {marked(j['url'])}" for j in w["current"]) or "idle"
        out.print(
            f"  {marked(w['host'])} pid {w['pid']} {w['browser'] or '-'}: "
            f"{w['captures_per_min']}/min; {jobs}",
            soft_wrap=True,
        )
    for host, count in sorted(state["failures"].items()):
        out.print(f"failed (24 h) {marked(host)}: {count}")
    for host, off in sorted(state["backed_off"].items()):
        out.print(f"backed off {marked(host)} until {off['until']} ({off['reason']})")


COMMANDS = [worker, scheduler, status]
