"""`lastseen verify BUNDLE`: check an exported bundle offline, on any machine.

Exit 0: every check passed and the bundle was signed by a key you trust; 1: a check failed (a
signing key other than the ones you trust included); 2: bad input; 4 (UNESTABLISHED): every
check passed, but no trusted key was given, so who signed the bundle is not established.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.bundle.keys import parse_fingerprint, trusted_fingerprints
from archive.bundle.verify import FAIL, OK, Check, load_certificates, verify_bundle
from crawler.cli.errors import UserError, friendly

UNESTABLISHED = 4


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
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="FINGERPRINT",
    help="SHA-256 fingerprint of a signing key you trust, as its operator publishes it "
    "(repeatable).",
)
@click.option(
    "--trusted-keys",
    "trusted_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="LASTSEEN_TRUSTED_KEYS",
    metavar="FILE",
    help="File of trusted signing keys: fingerprints one a line, or PEM public keys.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and warnings.")
@friendly
def verify(
    bundle: Path,
    tsa_ca: Path | None,
    keys: tuple[str, ...],
    trusted_file: Path | None,
    quiet: bool,
) -> None:
    """Check a bundle offline; exit 1 if anything fails, naming the file, 4 if the signer is not
    established (no trusted key given)."""
    trusted = _trusted(keys, trusted_file)
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

    result = verify_bundle(bundle, roots, show, trusted_keys=trusted)
    failures = result.failures
    if failures:
        names = sorted({c.subject for c in failures})
        click.echo(f"FAILED: {len(failures)} check(s) failed: {', '.join(names)}")
        sys.exit(1)
    if result.signer is None:
        click.echo(
            f"SIGNER NOT ESTABLISHED: {len(result.checks)} checks, no failure, but nothing shows "
            f"who signed this bundle: give the operator's published key fingerprint with --key "
            f"or LASTSEEN_TRUSTED_KEYS"
        )
        sys.exit(UNESTABLISHED)
    click.echo(
        f"verified: {len(result.checks)} checks, no failure, signed by trusted key {result.signer}"
    )


def _trusted(keys: tuple[str, ...], trusted_file: Path | None) -> set[str]:
    try:
        trusted = {parse_fingerprint(key) for key in keys}
    except ValueError as exc:
        raise UserError(f"--key: {exc}") from None
    if trusted_file is not None:
        try:
            trusted |= trusted_fingerprints(trusted_file.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(
                f"{trusted_file} (trusted keys): not fingerprints or PEM public keys ({exc})"
            ) from None
    return trusted


COMMANDS = [verify]
