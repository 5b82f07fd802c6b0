"""`lastseen keys init|show`: the operator's Ed25519 key that signs bundles."""

from __future__ import annotations

from pathlib import Path

import click

from archive.bundle.keys import ENV as KEY_ENV
from archive.bundle.keys import default_key_path, init_key, load_key
from archive.exceptions import InvalidRequest
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import key_option


@click.group()
def keys() -> None:
    """The operator's Ed25519 key that signs bundles."""


@keys.command(name="init")
@key_option("Where to write the private key (default ~/.config/lastseen/signing-key.pem).")
@friendly
def keys_init(key_path: Path | None) -> None:
    """Make a new signing key (readable by you only); an existing key is never replaced."""
    path = (key_path or default_key_path()).expanduser().absolute()
    try:
        key = init_key(path)
    except InvalidRequest as exc:
        raise UserError(str(exc)) from None
    click.echo(f"signing key written to {path} (mode 600); keep it private and backed up")
    click.echo(f"public key fingerprint (SHA-256): {key.fingerprint}")
    if path != default_key_path().expanduser().absolute():
        click.echo(f"use it with: export {KEY_ENV}={path}")


@keys.command(name="show")
@key_option("The private key (default ~/.config/lastseen/signing-key.pem).")
@friendly
def keys_show(key_path: Path | None) -> None:
    """Print the public key (PEM) and its fingerprint, to publish or declare."""
    try:
        key = load_key(key_path or default_key_path())
    except InvalidRequest as exc:
        raise UserError(str(exc)) from None
    click.echo(key.public_pem.decode("ascii"), nl=False)
    click.echo(f"fingerprint (SHA-256 of the DER public key): {key.fingerprint}")


COMMANDS = [keys]
