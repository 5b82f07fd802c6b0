"""`lastseen history URL`: the liveness time-line of one URL, every point backed by a capture."""

from __future__ import annotations

from typing import Any

import click

from archive.catalog import watchlist
from archive.catalog.timeline import explain, timeline
from archive.times import rfc3339_or_none
from crawler.cli.common import open_archive, print_json, shown
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import json_option
from crawler.plan.seeds import format_every


def describe_point(point: dict[str, Any] | None) -> str:
    if point is None:
        return "-"
    why = explain(point["reason"]) or (
        f"HTTP {point['http_status']}" if point["http_status"] is not None else ""
    )
    return f"{point['at']}  capture {point['capture_id']}" + (f"  ({why})" if why else "")


@click.command()
@click.argument("url")
@json_option("Print the time-line as one JSON object.")
@click.pass_context
@friendly
def history(ctx: click.Context, url: str, as_json: bool) -> None:
    """When URL was first seen, last seen live and gone since, with the capture proving each."""
    archive = open_archive(ctx, create=False)
    try:
        with archive.catalog.session() as s:
            line = timeline(s, url)
            watched = watchlist.get(s, url)
            watch = (
                {
                    **watched.as_dict(),
                    "next_due_at": rfc3339_or_none(watched.next_due_at),
                    "last_capture_id": watched.last_capture_id,
                }
                if watched is not None
                else None
            )
    finally:
        archive.close()
    if not line["observations"]:
        raise UserError(f"no captures of {url} in the catalog")
    line["watch"] = watch
    if as_json:
        print_json(line)
        return
    click.echo(shown(url))
    click.echo(f"{'state':<16} {line['state']}")
    click.echo(f"{'first seen':<16} {describe_point(line['first_seen'])}")
    click.echo(f"{'last seen live':<16} {describe_point(line['last_seen_live'])}")
    click.echo(f"{'gone since':<16} {describe_point(line['gone_since'])}")
    if watch:
        due = f"next due {watch['next_due_at']}" if watch["next_due_at"] else "no longer scheduled"
        click.echo(f"{'watched':<16} every {format_every(watch['every'])}; {due}")
    click.echo("captures")
    for obs in line["observations"]:
        status = obs["http_status"] if obs["http_status"] is not None else "-"
        reason = obs["reason"] or ""
        verdict = obs["change"] if obs["state"] == "live" else explain(reason)
        verdict = "" if reason.startswith("http-") else verdict
        extra = ""
        if obs["compared_to_capture_id"] is not None:
            extra = f"  vs capture {obs['compared_to_capture_id']}"
        if obs["diff"]:
            diff = obs["diff"]
            extra += f", diff +{diff['lines_added']} -{diff['lines_removed']} lines"
        click.echo(
            f"  {obs['at']}  capture {obs['capture_id']:<5} {obs['state']:<5} "
            f"HTTP {status:<4} {verdict}{extra}"
        )


COMMANDS = [history]
