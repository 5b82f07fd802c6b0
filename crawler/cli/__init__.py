"""The ``lastseen`` command: thin over the crawler and the archive.

Exit codes: 0 done (a 404 or 410 is a stored capture too), 1 something failed on our side,
2 bad input (nothing written), 3 the site could not be reached (the failed attempt is recorded).

A command's module (and with it Scrapy, SQLAlchemy, boto3...) is imported only when that command
runs: ``lastseen --help`` and ``lastseen verify`` start in a fraction of a second.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click


class Entry(NamedTuple):
    module: str
    help: str  # the command's short help, shown by `lastseen --help` without importing it


# tests/test_cli.py checks each help line against the command's own docstring.
COMMANDS = {
    "capture": Entry("crawler.cli.capture", "Capture one URL now."),
    "crawl": Entry(
        "crawler.cli.capture",
        "Capture every URL of a seed file: one URL per line (# for comments) or YAML seeds.",
    ),
    "export": Entry(
        "crawler.cli.export",
        "Write the captures of a case as one sealed bundle that anyone can verify offline.",
    ),
    "history": Entry(
        "crawler.cli.history",
        "When URL was first seen, last seen live and gone since, with the capture proving each.",
    ),
    "hold": Entry(
        "crawler.cli.store",
        "Put a legal hold on a capture's objects (ID) or a whole case (--case): no one can delete "
        "them, whatever their retention, until the hold is lifted.",
    ),
    "indicators": Entry(
        "crawler.cli.indicators",
        "What one capture shows (identifiers, photos), each with its evidence record.",
    ),
    "keys": Entry("crawler.cli.keys", "The operator's Ed25519 key that signs bundles."),
    "links": Entry(
        "crawler.cli.indicators",
        "The graph of a case: captures and the identifiers and photos they share, in numbered "
        "groups.",
    ),
    "ls": Entry("crawler.cli.catalog", "List captures, oldest first."),
    "profile": Entry(
        "crawler.cli.profile",
        "Signed-in browser profiles for captures behind a login (kept encrypted).",
    ),
    "search": Entry(
        "crawler.cli.indicators",
        "Find the captures that show an identifier, or a photo like a given one.",
    ),
    "serve": Entry(
        "crawler.cli.serve",
        "Run the capture service: API (/api, docs at /docs), web page, and capture workers.",
    ),
    "show": Entry(
        "crawler.cli.catalog",
        "Show one capture: what was captured, where it is stored, its hashes and custody log.",
    ),
    "store": Entry(
        "crawler.cli.store",
        "Object storage (s3:// stores): set up the bucket, push what waits in the spool, verify.",
    ),
    "verify": Entry(
        "crawler.cli.verify",
        "Check a bundle offline; exit 1 if anything fails, naming the file, 4 if the signer is "
        "not established (no trusted key given).",
    ),
    "watchlist": Entry(
        "crawler.cli.indicators",
        "Identifiers to alert on when a capture shows one (crawl output, LASTSEEN_ALERT_URL).",
    ),
    "scheduler": Entry(
        "crawler.cli.fleet",
        "Queue the due entries of a watch list as jobs for the workers, once however many run.",
    ),
    "status": Entry(
        "crawler.cli.fleet",
        "The fleet: queue depth by kind, workers alive, lag of scheduled captures, failures.",
    ),
    "worker": Entry(
        "crawler.cli.fleet",
        "Capture jobs from the catalog's queue until stopped (more workers: run more).",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands live in modules imported only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        commands: list[click.Command] = importlib.import_module(entry.module).COMMANDS
        return next(c for c in commands if c.name == cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Shortened to the terminal's width exactly as click shortens a loaded command's help.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=entry.help).get_short_help_str(limit))
            for name, entry in sorted(COMMANDS.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar="LASTSEEN_STORE",
    metavar="PATH",
    help="Evidence store: a folder (default ./lastseen-data) or s3://BUCKET/PREFIX.",
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
