"""`lastseen store init|sync|verify` and `lastseen hold`: evidence in S3 under Object Lock."""

from __future__ import annotations

import click

from archive import Archive
from archive.store.check import record, verify_objects
from archive.store.local import open_store
from archive.store.s3 import LockPolicy, S3Store
from crawler.cli.common import archive_config, err, open_archive, out, print_json
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import case_option, json_option

NEEDS_S3 = "needs an S3 store: set LASTSEEN_STORE=s3://BUCKET/PREFIX (or --store)"


def _s3_store(ctx: click.Context, command: str) -> S3Store:
    config = archive_config(ctx)
    remote = open_store(config.store, timeout=config.store_timeout)
    if not isinstance(remote, S3Store):
        raise UserError(f"{command} {NEEDS_S3}; {config.store} is a folder")
    return remote


def _s3_archive(ctx: click.Context, command: str) -> Archive:
    _s3_store(ctx, command)
    return open_archive(ctx, create=False)


@click.group()
def store() -> None:
    """Object storage (s3:// stores): set up the bucket, push what waits in the spool, verify."""


@store.command()
@click.pass_context
@friendly
def init(ctx: click.Context) -> None:
    """Create the bucket with Object Lock and versioning, or check an existing one."""
    config = archive_config(ctx)
    remote = _s3_store(ctx, "store init")
    policy = LockPolicy.parse(config.retention, config.lock_mode)
    if remote.bucket_exists():
        out.print(f"bucket {remote.bucket} exists: checking it")
    else:
        remote.create_bucket()
        out.print(f"bucket {remote.bucket} created with Object Lock and versioning")
    problems = remote.bucket_problems()
    for problem in problems:
        err.print(f"[red]missing:[/] {problem}", soft_wrap=True)
    if problems:
        raise click.ClickException(f"bucket {remote.bucket} is not ready to keep evidence")
    out.print(
        f"{remote.uri} is ready: versioning and Object Lock on; each object will be locked "
        f"{policy.mode} for {policy.days} days (LASTSEEN_RETENTION, LASTSEEN_LOCK_MODE)",
        soft_wrap=True,
    )


@store.command()
@json_option("Print one JSON object per file, then a total.")
@click.pass_context
@friendly
def sync(ctx: click.Context, as_json: bool) -> None:
    """Upload every file still waiting in the spool now. Exit 1 if any is left there."""
    archive = _s3_archive(ctx, "store sync")
    try:
        assert archive.uploads is not None
        outcomes = archive.uploads.sync()
    finally:
        archive.close()
    stored = [o for o in outcomes if o.stored]
    left = [o for o in outcomes if not o.stored]
    for o in outcomes:
        if as_json:
            print_json(
                {
                    "object_id": o.object_id,
                    "capture_id": o.capture_id,
                    "uri": o.uri,
                    "stored": o.stored,
                    "error": o.error,
                }
            )
        elif o.stored:
            out.print(f"stored   #{o.capture_id} {o.uri}", soft_wrap=True)
        else:
            out.print(f"spooled  #{o.capture_id} {o.uri}: {o.error or 'not tried'}", soft_wrap=True)
    if as_json:
        print_json({"uploaded": len(stored), "spooled": len(left)})
    else:
        err.print(f"{len(stored)} uploaded, {len(left)} still spooled")
    if left:
        ctx.exit(1)


@store.command()
@case_option("Only the objects of this case.")
@json_option("Print the report as one JSON object.")
@click.pass_context
@friendly
def verify(ctx: click.Context, case: str | None, as_json: bool) -> None:
    """Re-read every object, recompute SHA-256, compare with the catalog, metadata and the
    server's checksum; report versions written over lastseen's keys. Exit 1 on any problem."""
    archive = _s3_archive(ctx, "store verify")
    try:
        assert archive.remote is not None
        report = verify_objects(archive.catalog, archive.remote, archive.store, case_id=case)
        record(archive.catalog, report, archive.config.operator)
    finally:
        archive.close()
    if as_json:
        print_json(report.as_dict())
    else:
        for check in report.checks:
            for problem in check.problems:
                out.print(
                    f"[red]{check.status}[/] #{check.capture_id} {check.uri}: {problem}",
                    soft_wrap=True,
                )
        counts = report.counts()
        summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        err.print(f"{len(report.checks)} object(s) checked: {summary or 'none'}")
    if not report.ok:
        ctx.exit(1)


@click.command()
@click.argument("capture_id", metavar="ID", type=int, required=False)
@case_option("Every capture of this case.", metavar="CASE")
@click.pass_context
@friendly
def hold(ctx: click.Context, capture_id: int | None, case: str | None) -> None:
    """Put a legal hold on a capture's objects (ID) or a whole case (--case): no one can delete
    them, whatever their retention, until the hold is lifted."""
    if (capture_id is None) == (case is None):
        raise UserError("give a capture ID or --case, not both")
    archive = _s3_archive(ctx, "hold")
    try:
        assert archive.uploads is not None
        if capture_id is not None and archive.catalog.get(capture_id) is None:
            raise UserError(f"no capture with id {capture_id}")
        results = archive.uploads.hold(
            capture_ids=[capture_id] if capture_id is not None else None, case_id=case
        )
    finally:
        archive.close()
    if not results:
        what = f"case {case}" if case else f"capture {capture_id}"
        raise UserError(f"nothing to hold: no object of {what} in the catalog")
    for r in results:
        if r.error:
            err.print(f"[red]failed[/]   #{r.capture_id} {r.uri}: {r.error}", soft_wrap=True)
        elif r.applied:
            out.print(f"held     #{r.capture_id} {r.uri}", soft_wrap=True)
        else:
            out.print(
                f"held     #{r.capture_id} {r.uri} (spooled: held from its upload on)",
                soft_wrap=True,
            )
    if any(r.error for r in results):
        ctx.exit(1)


COMMANDS = [store, hold]
