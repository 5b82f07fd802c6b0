"""`lastseen export`: the captures of a case as one sealed bundle for a court."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from archive.bundle.export import export_case
from archive.bundle.keys import default_key_path, load_key
from archive.bundle.pdfsign import P12_ENV, PKCS11_ENV, SignerConfig
from archive.bundle.report import DEFAULT_LANGUAGE, languages
from archive.exceptions import InvalidRequest, StoreError
from crawler.cli.common import err, open_archive, print_json
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import case_option, json_option, key_option


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
@case_option("Case to export.", from_env=True, required=True)
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
    help=f"Language of the report: {', '.join(languages())}.",
)
@key_option(
    "Ed25519 signing key (default ~/.config/lastseen/signing-key.pem; `lastseen keys init`)."
)
@click.option(
    "--tsa",
    "tsa_urls",
    multiple=True,
    envvar="LASTSEEN_TSA_URLS",
    metavar="URL",
    help="RFC 3161 timestamp authority (repeat; LASTSEEN_TSA_URLS takes several, space-separated).",
)
@click.option(
    "--sign-pdf",
    is_flag=True,
    envvar="LASTSEEN_SIGN_PDF",
    help=f"Sign report.pdf as PAdES with the signer in {P12_ENV} (PKCS#12) or {PKCS11_ENV} "
    "(token); a configured signer signs without it too.",
)
@json_option("Print what was exported as one JSON object.")
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
    sign_pdf: bool,
    as_json: bool,
) -> None:
    """Write the captures of a case as one sealed bundle that anyone can verify offline."""
    try:
        key = load_key(key_path or default_key_path())
        signer = SignerConfig.from_env()
        if sign_pdf and signer is None:
            raise InvalidRequest(f"--sign-pdf needs a signer: set {P12_ENV} or {PKCS11_ENV}")
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
                pdf_signer=signer,
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
        "pdf_signature": (
            {"signer": pdf.signer, "level": pdf.level, "tsa": pdf.tsa}
            if (pdf := result.pdf_signature)
            else None
        ),
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
    if result.pdf_signature:
        pdf = result.pdf_signature
        click.echo(f"report.pdf PAdES {pdf.level}, signed by {pdf.signer}, timestamp {pdf.tsa}")
    else:
        click.echo("report.pdf not signed (PAdES): see --sign-pdf")


COMMANDS = [export]
