"""`lastseen export`, `lastseen verify` and `lastseen keys`: sealed evidence bundles for a court."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from archive.bundle.export import export_case
from archive.bundle.keys import ENV as KEY_ENV
from archive.bundle.keys import default_key_path, init_key, load_key
from archive.bundle.report import DEFAULT_LANGUAGE
from archive.bundle.verify import FAIL, OK, Check, load_certificates, verify_bundle
from archive.exceptions import InvalidRequest, StoreError
from crawler.cli.common import UserError, err, friendly, open_archive, print_json


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A progress bar on a terminal; nothing when stderr is a file or a pipe."""
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("exporting", total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        yield update


@click.command(name="export")
@click.option(
    "--case", "case", required=True, envvar="LASTSEEN_CASE", metavar="ID", help="Case to export."
)
@click.option(
    "--capture",
    "capture_ids",
    type=int,
    multiple=True,
    metavar="ID",
    help="Export only this capture of the case (repeat for several; default: all of them).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH.zip",
    help="Bundle to write; an existing file is never overwritten.",
)
@click.option(
    "--lang",
    default=DEFAULT_LANGUAGE,
    show_default=True,
    envvar="LASTSEEN_LANG",
    metavar="CODE",
    help="Language of the report.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=KEY_ENV,
    metavar="FILE",
    help="Ed25519 signing key (default ~/.config/lastseen/signing-key.pem; `lastseen keys init`).",
)
@click.option(
    "--tsa",
    "tsa_urls",
    multiple=True,
    envvar="LASTSEEN_TSA_URLS",
    metavar="URL",
    help="RFC 3161 timestamp authority (repeat; LASTSEEN_TSA_URLS takes several, space-separated).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was exported as one JSON object.")
@click.pass_context
@friendly
def export(
    ctx: click.Context,
    case: str,
    capture_ids: tuple[int, ...],
    out: Path,
    lang: str,
    key_path: Path | None,
    tsa_urls: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write the captures of a case as one sealed bundle that anyone can verify offline."""
    try:
        key = load_key(key_path or default_key_path())
        archive = open_archive(ctx, create=False)
    except (InvalidRequest, StoreError) as exc:
        raise UserError(str(exc)) from None
    try:
        with _progress_bar() as progress:
            result = export_case(
                archive,
                case=case,
                out=out,
                key=key,
                capture_ids=capture_ids,
                lang=lang,
                tsa_urls=tsa_urls,
                progress=progress,
            )
    except InvalidRequest as exc:
        raise UserError(str(exc)) from None
    finally:
        archive.close()
    for failure in result.timestamp_failures:
        err.print(f"[yellow]warning:[/] no timestamp from {failure['error']}", soft_wrap=True)
    for stamp in result.timestamps:
        for problem in stamp.token.problems:
            err.print(
                f"[yellow]warning:[/] kept the answer of {stamp.url} as received, but lastseen "
                f"cannot read it: {problem}",
                soft_wrap=True,
            )
    summary = {
        "bundle": str(result.path),
        "size": result.size,
        "sha256": result.sha256,
        "case": case,
        "captures": result.captures,
        "custody_entry": {"seq": result.custody_seq, "hash": result.custody_hash},
        "signing_key_sha256": result.fingerprint,
        "timestamps": [s.url for s in result.timestamps],
        "timestamp_failures": result.timestamp_failures,
    }
    if as_json:
        print_json(summary)
        return
    click.echo(f"bundle     {result.path} ({result.size} bytes)")
    click.echo(f"sha256     {result.sha256}")
    click.echo(f"captures   {', '.join(str(i) for i in result.captures)} of case {case}")
    click.echo(f"custody    entry #{result.custody_seq} sha256:{result.custody_hash}")
    click.echo(f"signed by  key {result.fingerprint}")
    if result.timestamps:
        for stamp in result.timestamps:
            click.echo(f"timestamp  {stamp.url}")
    else:
        click.echo("timestamp  none: no trusted timestamp was obtained")


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


@click.group()
def keys() -> None:
    """The operator's Ed25519 key that signs bundles."""


@keys.command(name="init")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=KEY_ENV,
    metavar="FILE",
    help="Where to write the private key (default ~/.config/lastseen/signing-key.pem).",
)
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
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=KEY_ENV,
    metavar="FILE",
    help="The private key (default ~/.config/lastseen/signing-key.pem).",
)
@friendly
def keys_show(key_path: Path | None) -> None:
    """Print the public key (PEM) and its fingerprint, to publish or declare."""
    try:
        key = load_key(key_path or default_key_path())
    except InvalidRequest as exc:
        raise UserError(str(exc)) from None
    click.echo(key.public_pem.decode("ascii"), nl=False)
    click.echo(f"fingerprint (SHA-256 of the DER public key): {key.fingerprint}")


COMMANDS = [export, verify, keys]
