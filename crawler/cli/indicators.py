"""`lastseen search`, `links`, `indicators` and `watchlist`: identifiers that link ads.

Every result names the capture (case, URL, time) and the evidence record that shows it:
WARC-Record-ID, the record's payload SHA-256, the WARC file and the byte offset.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.cli.common import open_archive, print_json, shown
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import case_option, json_option


def _regions() -> tuple[str, ...]:
    from archive.derive.indicators import phone_regions

    return phone_regions()


def _print_hits(hits: list[dict[str, Any]]) -> None:
    """One block per capture: the capture, then each record that shows the identifier."""
    by_capture: dict[int, list[dict[str, Any]]] = {}
    for h in hits:
        by_capture.setdefault(h["capture_id"], []).append(h)
    for capture_hits in by_capture.values():
        h = capture_hits[0]
        click.echo(
            f"#{h['capture_id']} {h['captured_at']}  case {shown(h['case'] or '-')}  "
            f"{shown(h['url'])}"
        )
        click.echo(f"    WARC {h['warc']}")
        for h in capture_hits:
            where = f"offset {h['offset']}" if "offset" in h else f"distance {h['distance']}"
            seen = h.get("photo_url") or h["raw"]
            click.echo(
                f"    {h['kind']:<9} {seen!r}  {h['source']} record {h['record_id']} "
                f"sha256:{h['record_sha256'][:16]}… {where}"
            )


def _photo_hits(rows: list[Any]) -> list[dict[str, Any]]:
    from archive.catalog.findings import capture_ref

    hits = []
    for d, photo, capture in rows:
        hit = {**photo.as_dict(), **capture_ref(capture), "distance": d, "kind": "image"}
        hit.update(value=photo.pdq, photo_url=photo.url, source="image")
        hits.append(hit)
    return hits


@click.command()
@click.argument("value", required=False)
@click.option(
    "--image",
    "image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Find captures that showed a photo like the one in FILE (PDQ hash).",
)
@click.option(
    "--like",
    type=int,
    metavar="CAPTURE_ID",
    help="Find other captures that showed a photo like one shown by capture CAPTURE_ID.",
)
@click.option(
    "--distance",
    type=click.IntRange(0, 31),
    default=31,
    show_default=True,
    envvar="LASTSEEN_PHOTO_DISTANCE",
    metavar="N",
    help="Largest PDQ Hamming distance (of 256 bits) at which two photos count as alike.",
)
@case_option("Only captures of this case.")
@json_option("Print the results as one JSON array.")
@click.pass_context
@friendly
def search(
    ctx: click.Context,
    value: str | None,
    image: Path | None,
    like: int | None,
    distance: int,
    case: str | None,
    as_json: bool,
) -> None:
    """Find the captures that show an identifier, or a photo like a given one.

    VALUE is a phone number in any written form, a handle or profile link, an e-mail, an IBAN,
    a Belgian structured reference or a wallet address; --image FILE and --like CAPTURE_ID find
    photos within --distance of it (PDQ). Each result names the capture and its evidence record.
    """
    if sum(x is not None for x in (value, image, like)) != 1:
        raise UserError("give one of: VALUE, --image FILE, --like CAPTURE_ID")
    from archive.catalog import photohashes
    from archive.catalog.db import CaptureRow
    from archive.derive.photos import hash_photo
    from archive.derive.search import find_value

    hashes: list[str] = []
    if image is not None:
        photo = hash_photo(image.read_bytes())
        if photo is None:
            raise UserError(f"{image}: not an image of at least 100x100 pixels")
        hashes = [photo.pdq]
    archive = open_archive(ctx, create=False)
    try:
        with archive.catalog.session() as s:
            if like is not None:
                if s.get(CaptureRow, like) is None:
                    raise UserError(f"no capture {like} in the catalog")
                hashes = [p.pdq for p in photohashes.of_capture(s, like)]
                if not hashes:
                    raise UserError(f"capture {like} showed no photo of at least 100x100 pixels")
            if hashes:
                rows = [r for h in hashes for r in photohashes.similar(s, h, distance, case)]
                seen: set[int] = set()
                unique = []
                for r in sorted(rows, key=lambda r: r[0]):
                    if r[1].id not in seen and r[2].id != like:
                        seen.add(r[1].id)
                        unique.append(r)
                hits = _photo_hits(unique)
            else:
                assert value is not None
                hits = find_value(s, value, _regions(), case)
    finally:
        archive.close()
    if as_json:
        print_json(hits)
    elif not hits:
        click.echo("no capture shows it", err=True)
    else:
        _print_hits(hits)


@click.command()
@case_option("The case whose captures are linked.", required=True, from_env=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "graphml", "json"]),
    default="csv",
    show_default=True,
    help="CSV (one edge a row), GraphML (Maltego, i2 Analyst's Notebook, Gephi) or JSON.",
)
@click.pass_context
@friendly
def links(ctx: click.Context, case: str, fmt: str) -> None:
    """The graph of a case: captures and the identifiers and photos they share, in numbered groups.

    Connected groups (ads linked by any chain of shared identifiers) are numbered from 1,
    largest first; every edge names the evidence record that shows the identifier.
    """
    from archive.derive import links as graphs

    archive = open_archive(ctx, create=False)
    try:
        with archive.catalog.session() as s:
            graph = graphs.build(s, case)
    finally:
        archive.close()
    if not graph.captures:
        raise UserError(f"no captures of case {case} in the catalog")
    if fmt == "json":
        print_json(graphs.as_json(graph))
    else:
        click.echo(graphs.as_csv(graph) if fmt == "csv" else graphs.as_graphml(graph), nl=False)


@click.command()
@click.argument("capture_id", type=int, required=False)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Derive identifiers and photo hashes again from the sealed WARCs (every capture, or "
    "those of --case, or CAPTURE_ID); what was derived before is replaced.",
)
@case_option("With --rebuild: only the captures of this case.")
@json_option("Print the identifiers as one JSON object.")
@click.pass_context
@friendly
def indicators(
    ctx: click.Context, capture_id: int | None, rebuild: bool, case: str | None, as_json: bool
) -> None:
    """What one capture shows (identifiers, photos), each with its evidence record.

    With --rebuild, read the sealed WARCs again (all captures, a case, or one) and replace what
    was derived from them.
    """
    if not rebuild and capture_id is None:
        raise UserError("give a CAPTURE_ID, or --rebuild")
    if case and not rebuild:
        raise UserError("--case goes with --rebuild")
    from archive.catalog import findings, photohashes
    from archive.catalog.db import CaptureRow
    from archive.derive.extraction import derive_and_store

    archive = open_archive(ctx, create=False)
    try:
        if rebuild:
            rows = archive.catalog.list(case)
            if capture_id is not None:
                rows = [r for r in rows if r.id == capture_id]
                if not rows:
                    raise UserError(f"no capture {capture_id} in the catalog")
            regions = _regions()
            totals = {"captures": 0, "findings": 0, "photos": 0}
            for row in rows:
                done = derive_and_store(archive, row, regions)
                totals["captures"] += 1
                totals["findings"] += done.findings
                totals["photos"] += done.photos
            if as_json:
                print_json({"rebuilt": totals})
            else:
                click.echo(
                    f"{totals['captures']} capture(s) read again: {totals['findings']} "
                    f"identifier finding(s), {totals['photos']} photo hash(es)"
                )
            return
        assert capture_id is not None
        with archive.catalog.session() as s:
            row = s.get(CaptureRow, capture_id)
            if row is None:
                raise UserError(f"no capture {capture_id} in the catalog")
            derived = s.get(findings.DerivedRow, capture_id)
            found = [f.as_dict() for f in findings.of_capture(s, capture_id)]
            photos = [p.as_dict() for p in photohashes.of_capture(s, capture_id)]
            ref = findings.capture_ref(row)
    finally:
        archive.close()
    if as_json:
        print_json({**ref, "derived": derived is not None, "findings": found, "photos": photos})
        return
    case_name = shown(ref["case"] or "-")
    click.echo(f"#{ref['capture_id']} {ref['captured_at']}  case {case_name}  {shown(ref['url'])}")
    if derived is None:
        click.echo("  not read for identifiers yet: run `lastseen indicators --rebuild`")
    for f in found:
        click.echo(
            f"  {f['kind']:<14} {shown(f['value']):<36} {f['raw']!r}  ({f['source']}, record "
            f"{f['record_id']}, offset {f['offset']})"
        )
    for p in photos:
        click.echo(
            f"  {'image':<14} {p['pdq'][:16]}…  {shown(p['url'])}  {p['width']}x{p['height']} "
            f"(record {p['record_id']})"
        )


@click.group()
def watchlist() -> None:
    """Identifiers to alert on when a capture shows one (crawl output, LASTSEEN_ALERT_URL).

    Each watched identifier alerts once per case: the first capture of the case that shows it.
    """


@watchlist.command("add")
@click.argument("value")
@click.option("--note", metavar="TEXT", help="Why it is watched (shown by `watchlist ls`).")
@click.pass_context
@friendly
def watchlist_add(ctx: click.Context, value: str, note: str | None) -> None:
    """Watch VALUE: a phone number in any written form, a handle or link, an IBAN, an address."""
    from archive.catalog.alerts import WatchedIdentifier
    from archive.derive.indicators import query_values

    pairs = [(k, v) for k, v in query_values(value, _regions()) if k]
    kind, normal = pairs[0] if pairs else ("handle", value.strip().lstrip("@").lower())
    if not normal:
        raise UserError("nothing to watch: VALUE is empty")
    archive = open_archive(ctx)
    try:
        with archive.catalog.session() as s:
            exists = s.query(WatchedIdentifier).filter_by(value=normal).first()
            if exists is None:
                s.add(
                    WatchedIdentifier(
                        kind=kind,
                        value=normal,
                        note=note,
                        added_by=archive.config.operator or getpass.getuser(),
                        added_at=datetime.now(UTC),
                    )
                )
    finally:
        archive.close()
    click.echo(f"watching {kind} {normal}" + (" (already watched)" if exists else ""))


@watchlist.command("ls")
@json_option("Print the watch list as one JSON array.")
@click.pass_context
@friendly
def watchlist_ls(ctx: click.Context, as_json: bool) -> None:
    """List the watched identifiers."""
    from archive.catalog.alerts import WatchedIdentifier

    archive = open_archive(ctx)
    try:
        with archive.catalog.session() as s:
            rows = [w.as_dict() for w in s.query(WatchedIdentifier).order_by(WatchedIdentifier.id)]
    finally:
        archive.close()
    if as_json:
        print_json(rows)
        return
    for w in rows:
        note = f"  ({shown(w['note'])})" if w["note"] else ""
        click.echo(
            f"{w['kind']:<14} {shown(w['value']):<36} {w['added_at']} {shown(w['added_by'])}{note}"
        )


@watchlist.command("rm")
@click.argument("value")
@click.pass_context
@friendly
def watchlist_rm(ctx: click.Context, value: str) -> None:
    """Stop watching VALUE (written in any form `watchlist add` accepts)."""
    from archive.catalog.alerts import WatchedIdentifier
    from archive.derive.indicators import query_values

    values = [v for _, v in query_values(value, _regions())]
    archive = open_archive(ctx, create=False)
    try:
        with archive.catalog.session() as s:
            rows = s.query(WatchedIdentifier).filter(WatchedIdentifier.value.in_(values)).all()
            for row in rows:
                s.delete(row)
    finally:
        archive.close()
    if not rows:
        raise UserError(f"{value} is not on the watch list")
    click.echo(f"no longer watching {', '.join(r.value for r in rows)}")


COMMANDS = [search, links, indicators, watchlist]
