"""`lastseen crawl SEEDS --due`: one scheduled run over a watch list, as cron starts it.

Only what is due is captured; one run at a time per catalog (the second exits at once, exit 0);
everything is logged to a file; the exit code is non-zero only when the run could not work at
all (bad seed file: 2, no browser or catalog: 1, interrupted: 1).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from archive import Archive
from archive.catalog.runlock import RunLock
from archive.derive.alerts import describe as describe_alert
from archive.job import Job
from archive.store.local import LocalStore, open_store
from archive.times import rfc3339, utc_now
from crawler.browser import find_browser
from crawler.cli.common import archive_config, describe, err, marked, out, print_json
from crawler.cli.profile import paused_jobs
from crawler.exceptions import SetupError
from crawler.page.config import CaptureConfig
from crawler.plan.schedule import Schedule
from crawler.plan.seeds import format_every, read_seed_file
from crawler.run import crawl_settings, run_crawl

logger = logging.getLogger("lastseen.crawl")

SUMMARY_KEYS = (
    "captured", "new", "unchanged", "changed", "gone", "failed", "followed", "signed_out",
)  # fmt: skip


def default_log(store: str) -> Path:
    opened = open_store(store)
    if isinstance(opened, LocalStore):
        return opened.root / "logs" / "crawl.log"
    return Path("lastseen-crawl.log").resolve()


def _log_to(path: Path) -> logging.Handler:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"cannot write the log file {path}: {exc.strerror}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
    root = logging.getLogger("lastseen")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False  # Scrapy logs to the same file through its own handler
    return handler


def _describe(summary: dict[str, Any]) -> None:
    describe(summary)
    watch = summary.get("watch")
    if watch:
        verdict = watch["state"] if watch["state"] != "live" else watch["change"]
        extra = f" ({watch['reason']})" if watch.get("reason") else ""
        if watch.get("diff"):
            diff = watch["diff"]
            extra += f", diff +{diff['lines_added']} -{diff['lines_removed']} lines"
        out.print(f"    {verdict}{extra}; next due {watch['next_due_at'] or 'never'}")
    for alert in summary.get("alerts", []):
        out.print(f"    {marked(describe_alert(alert))}", soft_wrap=True)


def run_due(
    ctx: click.Context,
    seeds_file: str,
    *,
    case: str | None,
    timeout: float | None,
    as_json: bool,
    log_file: str | None,
    settings: dict[str, Any],
) -> int:
    """One scheduled run; returns the exit code."""
    seeds = read_seed_file(seeds_file, case=case)  # bad input: exit 2 before anything exists
    find_browser()
    config = archive_config(ctx)
    log_path = Path(log_file).resolve() if log_file else default_log(config.store)
    crawler_settings = crawl_settings(
        {
            "CAPTURE_TIMEOUT": timeout,
            **config.settings(),
            "LOG_FILE": str(log_path),
            "LOG_LEVEL": "INFO",
            **settings,
        }
    )
    CaptureConfig.from_settings(crawler_settings)
    archive = Archive.open(config)
    handler = _log_to(log_path)
    lock = RunLock(archive.catalog)
    started = utc_now()
    totals: dict[str, Any] = {key: 0 for key in SUMMARY_KEYS}
    totals.update(
        {
            "due": 0,
            "skipped": 0,
            "paused": 0,
            "alerts": 0,
            "seeds": len(seeds),
            "started_at": rfc3339(started),
        }  # fmt: skip
    )
    try:
        if not lock.acquire():
            holder = lock.holder()
            message = (
                "another scheduled crawl is running on this catalog"
                + (f" ({holder})" if holder else "")
                + ": nothing done"
            )
            logger.info("%s: %s", seeds_file, message)
            err.print(message)
            if as_json:
                print_json({"summary": {**totals, "locked": True, "log": str(log_path)}})
            return 0
        try:
            return _run(seeds, seeds_file, crawler_settings, archive, started, totals, as_json,
                        log_path)  # fmt: skip
        finally:
            lock.release()
    finally:
        archive.close()
        logging.getLogger("lastseen").removeHandler(handler)
        handler.close()


def _run(
    seeds: list[Job],
    seeds_file: str,
    settings: Any,
    archive: Archive,
    started: Any,
    totals: dict[str, Any],
    as_json: bool,
    log_path: Path,
) -> int:
    schedule = Schedule(archive.catalog, started)
    jobs = schedule.due_jobs(seeds)
    totals["due"] = len(jobs)
    jobs, paused = paused_jobs(archive.config.db, jobs)
    totals["paused"] = len(paused)
    for line in paused:
        logger.warning("%s", line)
        err.print(f"[yellow]paused:[/] {marked(line)}", soft_wrap=True)
    logger.info(
        "run of %s: %d seed(s), %d due: %s",
        seeds_file,
        len(seeds),
        len(jobs),
        ", ".join(f"{j.url} ({format_every(j.every)})" for j in jobs) or "nothing",
    )

    def show(summary: dict[str, Any]) -> None:
        totals["alerts"] += len(summary.get("alerts", []))
        watch = summary.get("watch") or {}
        logger.info(
            "capture %s %s HTTP %s %s %s %s",
            summary["id"],
            summary["outcome"],
            summary["http_status"],
            watch.get("state"),
            watch.get("change") or watch.get("reason") or "",
            summary["url"],
        )
        if as_json:
            print_json(summary)
            sys.stdout.flush()
        else:
            _describe(summary)

    code = 0
    if jobs:
        result = run_crawl(jobs, settings, show, spider="watch", schedule=schedule)
        for problem in result.errors:
            logger.error("%s", problem)
            err.print(f"[red]error:[/] {marked(problem)}", soft_wrap=True)
        tally = schedule.tally
        totals.update({key: getattr(tally, key) for key in SUMMARY_KEYS})
        totals["failed"] += len(result.errors)
        totals["skipped"] = len(tally.skipped)
        if result.interrupted:
            logger.error("interrupted (%s)", result.finish_reason)
            err.print(f"interrupted ({result.finish_reason}): what was sealed is kept")
            code = 1
        elif result.errors and not result.captures:
            code = 1  # nothing could be stored: the run did not work at all
    totals["ended_at"] = rfc3339(utc_now())
    totals["log"] = str(log_path)
    logger.info("done: %s", ", ".join(f"{key} {totals[key]}" for key in (*SUMMARY_KEYS, "skipped")))
    if as_json:
        print_json({"summary": totals})
    else:
        err.print(
            f"{totals['due']} due, {totals['captured']} captured: {totals['new']} new, "
            f"{totals['unchanged']} unchanged, {totals['changed']} changed, "
            f"{totals['gone']} gone, {totals['failed']} failed, {totals['followed']} followed"
            + (f", {totals['alerts']} alert(s)" if totals["alerts"] else "")
            + (f", {totals['signed_out']} login wall(s)" if totals["signed_out"] else "")
            + (f", {totals['paused']} paused (profile signed out)" if totals["paused"] else "")
            + f" (log: {log_path})"
        )
    return code
