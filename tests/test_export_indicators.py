"""A bundle's indicators.csv: derived, covered by SHA256SUMS, and every row traceable into its
WARC with warcio alone (the record's payload digest, and the raw text at its byte offset)."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from demo.site import AdSite
from tests.bundles import signer
from tests.conftest import invoke, run_cli


def test_every_row_of_indicators_csv_is_found_in_its_warc_with_warcio_alone(
    site: AdSite, store: Path, tmp_path: Path
) -> None:
    env = {"LASTSEEN_SIGNING_KEY": str(tmp_path / "keys" / "signing-key.pem")}
    assert invoke("keys", "init", store=store, **env).returncode == 0
    seeds = tmp_path / "seeds.txt"
    slugs = ("nieuw-in-brussel", "sweet-girls-antwerp")
    seeds.write_text("".join(site.url(f"/classified/{s}") + "\n" for s in slugs))
    crawled = run_cli("crawl", str(seeds), "--case", "IND-1", "--json", store=store)
    assert crawled.returncode == 0, crawled.stderr
    out = tmp_path / "ind-1.zip"
    exported = invoke("export", "--case", "IND-1", "--out", str(out), "--json", store=store, **env)
    assert exported.returncode == 0, exported.stderr
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)

    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True
    )
    assert sums.returncode == 0 and "indicators.csv: OK" in sums.stdout
    rows = list(csv.DictReader(io.StringIO((folder / "indicators.csv").read_text())))
    assert {r["derived_by"] for r in rows} == {"lastseen-indicators/1"}
    kinds = {(r["kind"], r["value"]) for r in rows}
    assert ("phone", "+32470123456") in kinds and ("iban", "BE71096123456769") in kinds
    assert sum(r["kind"] == "image" for r in rows) == 2

    records: dict[tuple[str, str], bytes] = {}
    for warc in {r["warc"] for r in rows}:
        with (folder / warc).open("rb") as fh:
            for record in ArchiveIterator(fh):
                rid = record.rec_headers.get_header("WARC-Record-ID")
                digest = record.rec_headers.get_header("WARC-Payload-Digest")
                payload = record.content_stream().read()
                if digest:  # a warcinfo or request record has none
                    assert digest == "sha256:" + hashlib.sha256(payload).hexdigest()
                    records[(warc, rid)] = payload
    for r in rows:
        payload = records[(r["warc"], r["record_id"])]
        assert hashlib.sha256(payload).hexdigest() == r["record_sha256"]
        if r["kind"] != "image":
            raw = r["raw"].encode()
            offset = int(r["offset"])
            assert payload[offset : offset + len(raw)] == raw, r

    verified = invoke("verify", str(out), "--quiet", "--key", signer(env["LASTSEEN_SIGNING_KEY"]))
    assert verified.returncode == 0, verified.stdout + verified.stderr
