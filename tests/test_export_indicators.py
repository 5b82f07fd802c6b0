"""A bundle's indicators.csv: derived, covered by SHA256SUMS, and every row traceable into its
WARC with warcio alone (the record's payload digest, and the raw text at its byte offset) and by
`lastseen verify`, which fails a row that does not trace; the report lists the identifiers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.bundle import layout
from archive.bundle.keys import load_key
from demo.site import AdSite
from tests.bundles import members, rezip, signer
from tests.conftest import invoke, run_cli
from tests.test_bundle_verify import _MEASURED


@pytest.fixture(scope="module")
def exported(site: AdSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four ads of case IND-1, captured and exported: two share a number (iphone-te-koop shows
    it as a Signal link), two a photo."""
    tmp_path = tmp_path_factory.mktemp("indicators-export")
    store = tmp_path / "evidence"
    key = tmp_path / "keys" / "signing-key.pem"
    env = {"LASTSEEN_SIGNING_KEY": str(key)}
    assert invoke("keys", "init", store=store, **env).returncode == 0
    seeds = tmp_path / "seeds.txt"
    slugs = ("nieuw-in-brussel", "sweet-girls-antwerp", "iphone-te-koop", "lisa-bxl")
    seeds.write_text("".join(site.url(f"/classified/{s}") + "\n" for s in slugs))
    crawled = run_cli("crawl", str(seeds), "--case", "IND-1", "--json", store=store)
    assert crawled.returncode == 0, crawled.stderr
    ids = {
        c["url"].rsplit("/", 1)[1]: c["id"] for c in map(json.loads, crawled.stdout.splitlines())
    }
    out = tmp_path / "ind-1.zip"
    done = invoke("export", "--case", "IND-1", "--out", str(out), "--json", store=store, **env)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)
    rows = list(csv.DictReader(io.StringIO((folder / "indicators.csv").read_text())))
    return {"bundle": out, "folder": folder, "key": key, "ids": ids, "rows": rows}


def test_every_row_of_indicators_csv_is_found_in_its_warc_with_warcio_alone(
    exported: dict[str, Any],
) -> None:
    folder, rows = exported["folder"], exported["rows"]
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True
    )
    assert sums.returncode == 0 and "indicators.csv: OK" in sums.stdout
    assert {r["derived_by"] for r in rows} == {"lastseen-indicators/1"}
    kinds = {(r["kind"], r["value"]) for r in rows}
    assert ("phone", "+32470123456") in kinds and ("iban", "BE71096123456769") in kinds
    assert sum(r["kind"] == "image" for r in rows) == 3

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


def test_the_report_lists_each_identifier_with_the_captures_that_show_it(
    exported: dict[str, Any],
) -> None:
    ids, rows = exported["ids"], exported["rows"]
    text = subprocess.run(["pdftotext", "-layout", "report.pdf", "-"], cwd=exported["folder"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    section = text.split("Identifiers the captured pages show", 1)[1].split("Every file in", 1)[0]
    assert "derived data, not evidence" in " ".join(section.split())
    lines = [" ".join(line.split()) for line in section.splitlines()]
    # What two ads share, in one group: the same number (text and Signal link), the same photo.
    shared = sorted((ids["nieuw-in-brussel"], ids["iphone-te-koop"]))
    assert f"phone number +32470123456 {shared[0]}, {shared[1]} 1" in lines
    photo = next(i for i, line in enumerate(lines) if line.startswith("photo "))
    assert "/photo/amira.jpg" in lines[photo]
    assert lines[photo].endswith(f" {ids['nieuw-in-brussel']}, {ids['lisa-bxl']} 1")
    # What one ad shows, in a group of its own.
    sweet, lisa = ids["sweet-girls-antwerp"], ids["lisa-bxl"]
    assert any(line.startswith(f"bank account (IBAN) BE71096123456769 {sweet} 2") for line in lines)
    assert f"Telegram account lisa_bxl {lisa} 1" in lines
    # Every identifier of indicators.csv is there.
    for r in rows:
        if r["kind"] != "image":
            assert r["value"] in section, r


def resealed(exported: dict[str, Any], name: str, data: bytes, target: Path) -> Path:
    """The bundle with ``name`` replaced by ``data``, its hash in SHA256SUMS and the list signed
    again with the operator's own key: only the re-trace can tell."""
    contents = members(exported["bundle"])
    contents[name] = data
    sums = layout.parse_sums(contents[layout.SUMS])
    sums[name] = hashlib.sha256(data).hexdigest()
    contents[layout.SUMS] = layout.format_sums(sums)
    contents[layout.SIGNATURE] = load_key(exported["key"]).sign(contents[layout.SUMS])
    return rezip(contents, target)


def test_verify_traces_every_row_and_fails_a_row_that_does_not_trace(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    key = signer(exported["key"])
    genuine = invoke("verify", str(exported["bundle"]), "--key", key)
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    (line,) = [
        ln for ln in genuine.stdout.splitlines() if "indicators.csv" in ln and "derived" in ln
    ]
    assert line.startswith("OK    derived    indicators.csv: derived data (lastseen-indicators/1)")
    assert f"each of its {len(exported['rows'])} rows names a record" in line

    rows = [dict(r) for r in exported["rows"]]
    phone = next(i for i, r in enumerate(rows) if r["value"] == "+32470123456")
    other_warc = next(r["warc"] for r in rows if r["warc"] != rows[phone]["warc"])
    rows[phone]["record_sha256"] = "0" * 64  # the record holds other content than it says
    rows[phone + 1]["derived_by"] = ""  # passed off as evidence
    rows[phone + 2]["record_id"] = "<urn:uuid:00000000-0000-4000-8000-000000000000>"
    rows[phone + 3]["warc"] = other_warc  # in another capture's file
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    tampered = resealed(exported, "indicators.csv", out.getvalue().encode(), tmp_path / "t.zip")
    proc = invoke("verify", str(tampered), "--key", key)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAIL ")]
    assert len(failed) == 1 and failed[0].startswith("FAIL  derived    indicators.csv: ")
    n = phone + 1  # rows are numbered from 1 after the header
    real = exported["rows"][phone]
    assert f"row {n} says record {real['record_id']} has SHA-256 {'0' * 64}, but in " in failed[0]
    assert f"it has {real['record_sha256']}" in failed[0]
    assert f"row {n + 1} is not labelled derived (derived_by is empty)" in failed[0]
    assert (
        f"row {n + 2} names record <urn:uuid:00000000-0000-4000-8000-000000000000>, " in failed[0]
    )
    assert f"row {n + 3} says record {rows[phone + 3]['record_id']} is in {other_warc}" in failed[0]
    assert "indicators.csv" in proc.stdout.splitlines()[-1]


def test_an_indicators_file_whose_line_never_ends_fails_in_bounded_memory(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    endless = ",".join(("derived_by", "warc", "record_id", "record_sha256")).encode() + b"\n"
    endless += os.urandom(20 << 20).hex().encode()  # 40 MiB, no line end; packs only 2:1
    tampered = resealed(exported, "indicators.csv", endless, tmp_path / "endless.zip")
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(tampered), signer(exported["key"])],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    *failures, peak = proc.stdout.splitlines()
    assert failures == [
        "FAIL  derived    indicators.csv: cannot be read as CSV after 0 rows "
        "(a line runs on past 1,048,576 characters)"
    ]
    assert int(peak) < 150 * 2**20, f"the verifier took {int(peak) / 2**20:.0f} MiB"
