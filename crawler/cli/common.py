"""What every ``lastseen`` command shares: output, and the archive its options name."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from crawler.invisible import escaped, escaped_json

if TYPE_CHECKING:
    from archive.seal.archive import Archive, ArchiveConfig

FAILED_OUTCOMES = ("unreachable", "timeout")
EXIT_UNREACHABLE = 3

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def archive_config(ctx: click.Context) -> ArchiveConfig:
    # Imported here: `lastseen verify` never opens an archive and must not pay for SQLAlchemy.
    from archive.seal.archive import ArchiveConfig

    opts = ctx.find_root().params
    return ArchiveConfig.from_env(store=opts.get("store"), db=opts.get("db"))


def open_archive(ctx: click.Context, create: bool = True) -> Archive:
    from archive.seal.archive import Archive

    return Archive.open(archive_config(ctx), create=create)


def print_json(obj: Any) -> None:
    click.echo(escaped_json(json.dumps(obj, ensure_ascii=False, sort_keys=True)))


def shown(value: object) -> str:
    """A value that came from outside (a URL, case, note, title, error, a page's text) as it may
    be printed: a catalog written before URLs were checked can hold ``ESC ] 0;``, which a
    terminal would act on."""
    return escaped(str(value))


def marked(value: object) -> str:
    """``shown``, for a line printed through rich: a ``[`` in a URL is text, not a style."""
    return escape(shown(value))


def describe(summary: dict[str, Any]) -> None:
    status = summary["http_status"] if summary["http_status"] is not None else "-"
    line = (
        f"[bold]#{summary['id']}[/] {summary['outcome']:<11} HTTP {status:<4} "
        f"{summary['captured_at']}  {marked(summary['url'])}"
    )
    out.print(line, soft_wrap=True)
    if summary.get("error"):
        out.print(f"    error: {marked(summary['error'])}", soft_wrap=True)
    out.print(f"    WARC {summary['warc']}", soft_wrap=True)
    out.print(f"    SHA-256 {summary['warc_sha256']}", soft_wrap=True)
