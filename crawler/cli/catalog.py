"""`lastseen ls` and `lastseen show`: what the catalog holds."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from archive.catalog import timeline
from archive.catalog.custody import entries
from archive.catalog.db import capture_summary
from archive.store.objects import object_summary
from crawler.cli.common import marked, open_archive, out, print_json, shown
from crawler.cli.errors import UserError, friendly
from crawler.cli.history import describe_point
from crawler.cli.options import case_option, json_option


@click.command(name="ls")
@case_option("Only the captures of this case.")
@json_option("One JSON object per capture, one per line.")
@click.option(
    "--gone",
    is_flag=True,
    help="List vanished URLs instead: gone since when and why, and their last live capture.",
)
@click.pass_context
@friendly
def list_captures(ctx: click.Context, case: str | None, as_json: bool, gone: bool) -> None:
    """List captures, oldest first."""
    archive = open_archive(ctx, create=False)
    if gone:
        list_gone(archive, case, as_json)
        return
    rows = archive.catalog.list(case_id=case)
    if as_json:
        for row in rows:
            print_json(capture_summary(row))
        return
    table = Table("id", "captured (UTC)", "outcome", "HTTP", "case", "url", box=None)
    for row in rows:
        s = capture_summary(row)
        table.add_row(
            str(s["id"]),
            s["captured_at"],
            s["outcome"],
            str(s["http_status"] or "-"),
            marked(s["case"] or ""),
            marked(s["url"]),
        )
    out.print(table)


def list_gone(archive: Any, case: str | None, as_json: bool) -> None:
    with archive.catalog.session() as s:
        vanished = timeline.gone(s, case)
    if as_json:
        for line in vanished:
            print_json(line)
        return
    # Plain lines, never a table: a URL or a time must not be cut to fit a terminal.
    for line in vanished:
        since, live = line["gone_since"], line["last_seen_live"]
        out.print(marked(line["url"]), soft_wrap=True, highlight=False)
        out.print(f"    gone since     {describe_point(since)}", soft_wrap=True)
        out.print(f"    last seen live {describe_point(live)}", soft_wrap=True)


@click.command()
@click.argument("capture_id", metavar="ID", type=int)
@json_option("Print the capture and its custody log as JSON.")
@click.pass_context
@friendly
def show(ctx: click.Context, capture_id: int, as_json: bool) -> None:
    """Show one capture: what was captured, where it is stored, its hashes and custody log."""
    archive = open_archive(ctx, create=False)
    row = archive.catalog.get(capture_id)
    if row is None:
        raise UserError(f"no capture with id {capture_id}")
    summary = capture_summary(row)
    summary["records"] = row.records
    summary["custody"] = [e.as_dict() for e in entries(archive.catalog, [capture_id])]
    summary["objects"] = [object_summary(o) for o in archive.objects(capture_id)]
    if as_json:
        print_json(summary)
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
        click.echo(f"{key:<18} {'' if value is None else shown(value)}")
    for obj in summary["objects"]:
        where = f"{obj['uri']} version {obj['version_id']}" if obj["version_id"] else obj["uri"]
        click.echo(f"{'object ' + obj['kind']:<18} {obj['state']} {shown(where)}")
        if obj["state"] == "stored":
            hold = ", legal hold" if obj["legal_hold"] else ""
            click.echo(f"{'':<18} locked {obj['lock_mode']} until {obj['retain_until']}{hold}")
        elif obj["last_error"]:
            click.echo(f"{'':<18} {obj['attempts']} attempt(s), last: {shown(obj['last_error'])}")
    click.echo("custody")
    for entry in summary["custody"]:
        click.echo(
            f"  #{entry['seq']} {entry['at']} {entry['action']} by {shown(entry['actor'])} "
            f"sha256:{entry['hash']}"
        )


COMMANDS = [list_captures, show]
