"""`lastseen capture` and `lastseen crawl`: capture now, one URL or a seed file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from archive import Archive
from archive.derive.alerts import describe as describe_alert
from archive.derive.alerts import parse_kinds
from archive.job import Job
from crawler.browser import find_browser
from crawler.cli.common import (
    EXIT_UNREACHABLE,
    FAILED_OUTCOMES,
    archive_config,
    describe,
    err,
    marked,
    out,
    print_json,
)
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import case_option, json_option, timeout_option
from crawler.cli.profile import EXIT_LOGIN_WALL, check_profiles, report_login_walls
from crawler.page.config import MEDIA_CHOICES, CaptureConfig
from crawler.plan.seeds import check_url, read_seed_file
from crawler.run import crawl_settings, run_crawl


def media_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Video (issue 13): how much of a page's video is kept, and within which limits."""
    for option in reversed(
        [
            click.option(
                "--media",
                type=click.Choice(MEDIA_CHOICES),
                envvar="LASTSEEN_MEDIA",
                help="Video: auto (default) completes what the player fetched and copies with "
                "yt-dlp where a video was seen; on copies even where none was; all also keeps "
                "every rendition of a stream; off keeps what the browser fetched, no more.",
            ),
            click.option(
                "--media-max-bytes",
                type=click.IntRange(1),
                envvar="LASTSEEN_MEDIA_MAX_BYTES",
                metavar="N",
                help="Keep at most N bytes of one video copy (default 4 GB); a cut is stated.",
            ),
            click.option(
                "--media-live-seconds",
                type=click.FloatRange(1, 86400),
                envvar="LASTSEEN_MEDIA_LIVE_SECONDS",
                metavar="S",
                help="Record a live stream for at most S seconds (default 60); said partial.",
            ),
        ]
    ):
        command = option(command)
    return command


def _media_settings(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "CAPTURE_MEDIA": params.pop("media", None),
        "CAPTURE_MEDIA_MAX_BYTES": params.pop("media_max_bytes", None),
        "CAPTURE_MEDIA_LIVE_SECONDS": params.pop("media_live_seconds", None),
    }


def _crawl(
    ctx: click.Context,
    seeds: list[Any],
    timeout: float | None,
    on_capture: Callable[..., None],
    extra: dict[str, Any] | None = None,
) -> Any:
    find_browser()  # a missing browser is a one-line error before anything is written
    config = archive_config(ctx)
    settings = crawl_settings(
        {
            "CAPTURE_TIMEOUT": timeout,
            **config.settings(),
            **(extra or {}),
        }
    )
    CaptureConfig.from_settings(settings)  # validate before anything is written
    # Open once here so that an unusable store or catalog fails before the browser starts.
    Archive.open(config).close()
    result = run_crawl(seeds, settings, on_capture)
    if result.errors:
        for problem in result.errors:
            err.print(f"[red]error:[/] {marked(problem)}", soft_wrap=True)
    if result.interrupted:
        err.print(
            f"interrupted ({result.finish_reason}): {len(result.captures)} capture(s) sealed; "
            "nothing half-written was kept"
        )
    return result


@click.command()
@click.argument("url")
@case_option("Case number to file it under.", from_env=True)
@click.option("--note", metavar="TEXT", help="Why it was captured (kept in the catalog).")
@timeout_option("Give up waiting on the page after S seconds (default 30); what arrived is kept.")
@click.option(
    "--profile",
    metavar="NAME",
    help="Capture signed in with this browser profile (lastseen profile); its session is "
    "redacted from the evidence.",
)
@json_option("Print the capture as one JSON object.")
@media_options
@click.pass_context
@friendly
def capture(
    ctx: click.Context,
    url: str,
    case: str | None,
    note: str | None,
    timeout: float | None,
    profile: str | None,
    as_json: bool,
    **media: Any,
) -> None:
    """Capture one URL now. Exit 0 when stored (a 404 too), 3 when the site was unreachable,
    5 when a profile's capture met a login wall."""
    seed = Job(url=check_url(url), case=case, note=note, profile=profile)
    check_profiles(ctx, [seed])
    result = _crawl(ctx, [seed], timeout, lambda summary: None, _media_settings(media))
    if not result.captures:
        raise click.ClickException(
            "the capture was not stored" + (f": {result.errors[0]}" if result.errors else "")
        )
    summary = result.captures[0]
    if as_json:
        print_json(summary)
    else:
        describe(summary)
        report_login_walls(ctx, [seed], result.captures)
    if summary["outcome"] in FAILED_OUTCOMES:
        ctx.exit(EXIT_UNREACHABLE)
    if summary["outcome"] == "login-wall":
        ctx.exit(EXIT_LOGIN_WALL)


@click.command()
@click.argument("seeds_file", metavar="SEEDS_FILE")
@case_option("Case number for every seed.", from_env=True)
@timeout_option("Per-page time limit in seconds (default 30).")
@json_option("Print one JSON object per capture, one per line (with --due, a summary line last).")
@click.option(
    "--due",
    is_flag=True,
    help="Scheduled run (cron): capture only the seeds and followed links whose interval has "
    "passed, store unchanged payloads as revisits; one run at a time per catalog.",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="With --due: queue what is due as jobs for `lastseen worker`s instead of capturing it "
    "here (PostgreSQL catalog; as `lastseen scheduler --once`).",
)
@click.option(
    "--log",
    "log_file",
    envvar="LASTSEEN_LOG",
    metavar="FILE",
    help="With --due: append the run's log to FILE (default: logs/crawl.log in the store).",
)
@click.option(
    "--per-host",
    type=click.IntRange(1, 64),
    envvar="LASTSEEN_PER_HOST",
    metavar="N",
    help="At most N pages of one site at a time (default 2).",
)
@click.option(
    "--delay",
    type=click.FloatRange(0, 3600),
    envvar="LASTSEEN_DELAY",
    metavar="S",
    help="Wait S seconds between two pages of one site (default 0).",
)
@click.option(
    "--autothrottle/--no-autothrottle",
    default=None,
    envvar="LASTSEEN_AUTOTHROTTLE",
    help="Adapt the delay to each site's response times (Scrapy's AutoThrottle; default off).",
)
@click.option(
    "--alert-known",
    envvar="LASTSEEN_ALERT_KNOWN",
    metavar="KINDS",
    help="Alert when a capture shows an identifier of these kinds (comma-separated: phone, "
    "telegram, image, email, iban, ...) already seen in another case.",
)
@media_options
@click.pass_context
@friendly
def crawl(
    ctx: click.Context,
    seeds_file: str,
    case: str | None,
    timeout: float | None,
    as_json: bool,
    due: bool,
    enqueue: bool,
    log_file: str | None,
    per_host: int | None,
    delay: float | None,
    autothrottle: bool | None,
    alert_known: str | None,
    **media: Any,
) -> None:
    """Capture every URL of a seed file: one URL per line (# for comments) or YAML seeds.

    With --due, capture only what is due (YAML seeds say `every: 15m`; seeds without it are due
    on every run) and follow the seeds' `follow` rules. See README, "Scheduled crawls".
    """
    parse_kinds(alert_known)  # an unknown kind is bad input, before anything is captured
    politeness = {
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": autothrottle,
        "ALERT_KNOWN": alert_known,
        **_media_settings(media),
    }
    if enqueue:
        if not due:
            raise UserError("--enqueue is for scheduled runs: add --due")
        from crawler.cli.fleet import enqueue_due_once

        enqueue_due_once(ctx, seeds_file, case, as_json)
        return
    if due:
        from crawler.cli.due import run_due

        code = run_due(
            ctx,
            seeds_file,
            case=case,
            timeout=timeout,
            as_json=as_json,
            log_file=log_file,
            settings=politeness,
        )
        ctx.exit(code)
    if log_file:
        raise UserError("--log is for scheduled runs: add --due")
    seeds = read_seed_file(seeds_file, case=case)
    check_profiles(ctx, seeds)

    def show(summary: dict[str, Any]) -> None:
        if as_json:
            print_json(summary)
            sys.stdout.flush()
        else:
            describe(summary)
            for alert in summary.get("alerts", []):
                out.print(f"    {marked(describe_alert(alert))}", soft_wrap=True)

    result = _crawl(ctx, seeds, timeout, show, politeness)
    if not as_json:
        failed = sum(1 for c in result.captures if c["outcome"] in FAILED_OUTCOMES)
        alerts = sum(len(c.get("alerts", [])) for c in result.captures)
        err.print(
            f"{len(result.captures)} of {len(seeds)} seed(s) captured, {failed} unreachable"
            + (f", {alerts} alert(s)" if alerts else "")
        )
        report_login_walls(ctx, seeds, result.captures)
    if result.interrupted:
        ctx.exit(1)


COMMANDS = [capture, crawl]
