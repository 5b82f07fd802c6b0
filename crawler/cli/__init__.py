"""The ``lastseen`` command: thin over the crawler and the archive.

Exit codes: 0 done (a 404 or 410 is a stored capture too), 1 something failed on our side,
2 bad input (nothing written), 3 the site could not be reached (the failed attempt is recorded).
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def _register_commands() -> None:
    """Every module in crawler/cli/ lists its click commands in COMMANDS."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "common":
            continue
        module = importlib.import_module(f"crawler.cli.{info.name}")
        for command in module.COMMANDS:
            main.add_command(command)


_register_commands()
