"""What every ``lastseen`` command shares: output, and the archive its options name."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

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
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True))


def describe(summary: dict[str, Any]) -> None:
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
