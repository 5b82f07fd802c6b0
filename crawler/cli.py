"""The ``lastseen`` command: thin over the crawler and the archive.

Exit codes: 0 done (a 404 or 410 is a stored capture too), 1 something failed on our side,
2 bad input (nothing written), 3 the site could not be reached (the failed attempt is recorded).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from archive import Archive, ArchiveConfig, ArchiveError
from archive.catalog import capture_summary
from archive.custody import entries
from crawler.exceptions import InputError, SetupError

FAILED_OUTCOMES = ("unreachable", "timeout")
EXIT_UNREACHABLE = 3

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class UserError(click.ClickException):
    """Bad input: one clear line on stderr, exit 2, nothing written."""

    exit_code = 2


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our own errors into one-line messages instead of tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise UserError(str(exc)) from None
        except (SetupError, ArchiveError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _archive_config(ctx: click.Context) -> ArchiveConfig:
    opts = ctx.find_root().params
    return ArchiveConfig.from_env(store=opts.get("store"), db=opts.get("db"))


def _open_archive(ctx: click.Context) -> Archive:
    return Archive.open(_archive_config(ctx))


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True))


def _describe(summary: dict[str, Any]) -> None:
    status = summary["http_status"] if summary["http_status"] is not None else "-"
    line = (
        f"[bold]#{summary['id']}[/] {summary['outcome']:<11} HTTP {status:<4} "
        f"{summary['captured_at']}  {summary['url']}"
    )
    out.print(line, soft_wrap=True)
    if summary.get("error"):
        out.print(f"    error: {summary['error']}", soft_wrap=True)
    out.print(f"    WARC {summary['warc']}", soft_wrap=True)
    out.print(f"    SHA-256 {summary['warc_sha256']}", soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar="LASTSEEN_STORE",
    metavar="PATH",
    help="Evidence store: a folder (default ./lastseen-data).",
)
@click.option(
    "--db",
    envvar="LASTSEEN_DB",
    metavar="URL",
    help="Catalog database URL (default: SQLite inside the store; postgresql://... to share).",
)
@click.version_option(package_name="lastseen", prog_name="lastseen")
def main(store: str | None, db: str | None) -> None:
    """Capture ephemeral web pages as evidence: rendered, recorded as WARC, sealed with SHA-256."""


def _crawl(
    ctx: click.Context, seeds: list[Any], timeout: float | None, on_capture: Callable[..., None]
) -> Any:
    from crawler.browser import find_browser
    from crawler.runner import crawl_settings, run_crawl

    find_browser()  # a missing browser is a one-line error before anything is written
    config = _archive_config(ctx)
    settings = crawl_settings(
        {
            "CAPTURE_TIMEOUT": timeout,
            "ARCHIVE_STORE": config.store,
            "ARCHIVE_DB": config.db,
            "ARCHIVE_OPERATOR": config.operator,
        }
    )
    from crawler.config import CaptureConfig

    CaptureConfig.from_settings(settings)  # validate before anything is written
    # Open once here so that an unusable store or catalog fails before the browser starts.
    Archive.open(config).close()
    result = run_crawl(seeds, settings, on_capture)
    if result.errors:
        for problem in result.errors:
            err.print(f"[red]error:[/] {problem}", soft_wrap=True)
    if result.interrupted:
        err.print(
            f"interrupted ({result.finish_reason}): {len(result.captures)} capture(s) sealed; "
            "nothing half-written was kept"
        )
    return result


@main.command()
@click.argument("url")
@click.option(
    "--case", "case", envvar="LASTSEEN_CASE", metavar="ID", help="Case number to file it under."
)
@click.option("--note", metavar="TEXT", help="Why it was captured (kept in the catalog).")
@click.option(
    "--timeout",
    type=float,
    default=None,
    envvar="LASTSEEN_TIMEOUT",
    metavar="S",
    help="Give up waiting on the page after S seconds (default 30); what arrived is kept.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the capture as one JSON object.")
@click.pass_context
@_friendly
def capture(
    ctx: click.Context,
    url: str,
    case: str | None,
    note: str | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Capture one URL now. Exit 0 when stored (a 404 too), 3 when the site was unreachable."""
    from crawler.seeds import Seed, check_url

    seed = Seed(url=check_url(url), case=case, note=note)
    result = _crawl(ctx, [seed], timeout, lambda summary: None)
    if not result.captures:
        raise click.ClickException(
            "the capture was not stored" + (f": {result.errors[0]}" if result.errors else "")
        )
    summary = result.captures[0]
    if as_json:
        _print_json(summary)
    else:
        _describe(summary)
    if summary["outcome"] in FAILED_OUTCOMES:
        ctx.exit(EXIT_UNREACHABLE)


@main.command()
@click.argument("seeds_file", metavar="SEEDS_FILE")
@click.option(
    "--case", "case", envvar="LASTSEEN_CASE", metavar="ID", help="Case number for every seed."
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    envvar="LASTSEEN_TIMEOUT",
    metavar="S",
    help="Per-page time limit in seconds (default 30).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per capture, one per line."
)
@click.pass_context
@_friendly
def crawl(
    ctx: click.Context, seeds_file: str, case: str | None, timeout: float | None, as_json: bool
) -> None:
    """Capture every URL of a seed file (one URL per line, # for comments)."""
    from crawler.seeds import read_seed_file

    seeds = read_seed_file(seeds_file, case=case)

    def show(summary: dict[str, Any]) -> None:
        if as_json:
            _print_json(summary)
            sys.stdout.flush()
        else:
            _describe(summary)

    result = _crawl(ctx, seeds, timeout, show)
    if not as_json:
        failed = sum(1 for c in result.captures if c["outcome"] in FAILED_OUTCOMES)
        err.print(f"{len(result.captures)} of {len(seeds)} seed(s) captured, {failed} unreachable")
    if result.interrupted:
        ctx.exit(1)


@main.command(name="ls")
@click.option("--case", "case", metavar="ID", help="Only the captures of this case.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per capture, one per line.")
@click.pass_context
@_friendly
def list_captures(ctx: click.Context, case: str | None, as_json: bool) -> None:
    """List captures, oldest first."""
    archive = _open_archive(ctx)
    rows = archive.catalog.list(case_id=case)
    if as_json:
        for row in rows:
            _print_json(capture_summary(row))
        return
    table = Table("id", "captured (UTC)", "outcome", "HTTP", "case", "url", box=None)
    for row in rows:
        s = capture_summary(row)
        table.add_row(
            str(s["id"]),
            s["captured_at"],
            s["outcome"],
            str(s["http_status"] or "-"),
            s["case"] or "",
            s["url"],
        )
    out.print(table)


@main.command()
@click.argument("capture_id", metavar="ID", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the capture and its custody log as JSON."
)
@click.pass_context
@_friendly
def show(ctx: click.Context, capture_id: int, as_json: bool) -> None:
    """Show one capture: what was captured, where it is stored, its hashes and custody log."""
    archive = _open_archive(ctx)
    row = archive.catalog.get(capture_id)
    if row is None:
        raise UserError(f"no capture with id {capture_id}")
    summary = capture_summary(row)
    summary["records"] = row.records
    summary["custody"] = [e.as_dict() for e in entries(archive.catalog, [capture_id])]
    if as_json:
        _print_json(summary)
        return
    # Plain lines, never a table: a hash or URL must not be cut to fit a terminal.
    for key in (
        "id",
        "url",
        "final_url",
        "http_status",
        "outcome",
        "error",
        "captured_at",
        "finished_at",
        "case",
        "note",
        "operator",
        "browser",
        "software",
        "exchanges",
        "network_idle",
        "warc",
        "warc_size",
        "warc_sha256",
        "payload_sha256",
        "screenshot_sha256",
        "dom_sha256",
        "pdf_sha256",
    ):
        value = summary.get(key)
        click.echo(f"{key:<18} {'' if value is None else value}")
    click.echo("custody")
    for entry in summary["custody"]:
        click.echo(
            f"  #{entry['seq']} {entry['at']} {entry['action']} by {entry['actor']} "
            f"sha256:{entry['hash']}"
        )
