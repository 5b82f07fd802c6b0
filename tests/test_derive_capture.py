"""Identifiers and photos derived at capture time, traced back into the WARC with warcio alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archive import Archive, ArchiveConfig
from archive.catalog import findings, photohashes
from archive.catalog.findings import DerivedRow
from demo.ads import by_slug
from demo.site import AdSite
from tests.conftest import run_cli

# Four ads, one browser: the same photo as first posted, re-encoded and resized; an unrelated one.
SLUGS = ("nieuw-in-brussel", "nouvelle-a-ixelles", "amal-bruxelles", "sweet-girls-antwerp")


def crawl(site: AdSite, store: Path, db: str | None, slugs: tuple[str, ...], **env: str) -> Any:
    seeds = store.parent / "seeds.txt"
    seeds.write_text("".join(site.url(f"/classified/{s}") + "\n" for s in slugs))
    result = run_cli("crawl", str(seeds), "--case", "BXL-1", "--json", store=store, db=db, **env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def record_payloads(warc: Path) -> dict[str, tuple[str, bytes]]:
    """record id -> (payload digest as written, payload bytes), read with warcio alone."""
    out = {}
    with warc.open("rb") as fh:
        for record in ArchiveIterator(fh):
            rid = record.rec_headers.get_header("WARC-Record-ID")
            digest = record.rec_headers.get_header("WARC-Payload-Digest") or ""
            out[rid] = (digest, record.content_stream().read())
    return out


def test_captures_hold_their_identifiers_and_each_is_in_its_records_bytes(
    site: AdSite, store: Path, db_url: str | None
) -> None:
    crawl(site, store, db_url, SLUGS)
    archive = Archive.open(ArchiveConfig.from_env(store=str(store), db=db_url), create=False)
    try:
        rows = {r.url.rsplit("/", 1)[1]: r for r in archive.catalog.list()}
        with archive.catalog.session() as s:
            assert s.get(DerivedRow, rows[SLUGS[0]].id) is not None
            for slug, row in rows.items():
                ad = by_slug(slug)
                assert ad is not None
                found = findings.of_capture(s, row.id)
                phones = {f.value for f in found if f.kind in ("phone", "whatsapp")}
                assert phones == ad.phones, slug
                assert {f.source for f in found} == {"dom", "html"}
                payloads = record_payloads(store / row.warc_name)
                for f in found:
                    digest, payload = payloads[f.record_id]
                    assert digest == f"sha256:{f.record_sha256}"
                    assert hashlib.sha256(payload).hexdigest() == f.record_sha256
                    raw = f.raw.encode()
                    assert payload[f.offset : f.offset + len(raw)] == raw, f.as_dict()
                for p in photohashes.of_capture(s, row.id):
                    digest, payload = payloads[p.record_id]
                    assert hashlib.sha256(payload).hexdigest() == p.record_sha256
            # The first ad's photo, found again re-encoded and resized; the unrelated one not.
            (first,) = photohashes.of_capture(s, rows["nieuw-in-brussel"].id)
            alike = {c.url.rsplit("/", 1)[1] for _, _, c in photohashes.similar(s, first.pdq)}
            assert alike == {"nieuw-in-brussel", "nouvelle-a-ixelles", "amal-bruxelles"}
            hits = findings.search_values(s, ["+32487654321"])
            assert {c.url.rsplit("/", 1)[1] for _, c in hits} == {"amal-bruxelles"}
    finally:
        archive.close()
