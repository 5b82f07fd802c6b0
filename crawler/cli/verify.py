"""`lastseen verify BUNDLE`: check an exported bundle offline, on any machine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.bundle.verify import FAIL, OK, Check, load_certificates, verify_bundle
from crawler.cli.errors import UserError, friendly


@click.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--tsa-ca",
    "tsa_ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="LASTSEEN_TSA_CA",
    metavar="FILE",
    help="CA certificate(s) of the timestamp authority, PEM: check the timestamp is theirs.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and warnings.")
@friendly
def verify(bundle: Path, tsa_ca: Path | None, quiet: bool) -> None:
    """Check a bundle offline; exit 1 if anything fails, naming the file."""
    roots = None
    if tsa_ca is not None:
        try:
            roots = load_certificates(tsa_ca)
        except ValueError as exc:
            raise UserError(f"--tsa-ca {tsa_ca}: not a PEM or DER certificate ({exc})") from None
    colours = {OK: "green", FAIL: "red"}

    def show(check: Check) -> None:
        if quiet and check.status == OK:
            return
        status = click.style(f"{check.status:<4}", fg=colours.get(check.status, "yellow"))
        click.echo(status + check.line()[4:])
        sys.stdout.flush()

    result = verify_bundle(bundle, roots, show)
    failures = result.failures
    if failures:
        names = sorted({c.subject for c in failures})
        click.echo(f"FAILED: {len(failures)} check(s) failed: {', '.join(names)}")
        sys.exit(1)
    click.echo(f"verified: {len(result.checks)} checks, no failure")


COMMANDS = [verify]
