"""Export and verify of a case captured by scheduled runs: revisit records and the WARCs they need.

One scenario per catalog (SQLite, PostgreSQL), set up once per module: an analyst captures ad 1
on demand for case OTHER-7; then a watch list (the listing every second, its ads followed, case
SCHED-2) runs twice with `lastseen crawl --due`. Run 1's ad 1 finds its images, script,
screenshot and DOM already stored in OTHER-7's WARC (revisits into another case); run 2 changes
nothing (revisits into run 1's WARCs and into OTHER-7's). A capture's own page is always stored in
full, so that it replays with its own time. SCHED-2 is exported with a local TSA and
checked with lastseen, the standard tools of the README, wacz and pywb.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from archive import Archive, ArchiveConfig
from archive.bundle.verify import load_certificates, verify_bundle
from archive.catalog import custody
from archive.chain import verify_chain
from crawler.browser import find_browser, launch_args
from demo.site import AdSite
from tests.bundles import members, rezip, signer
from tests.conftest import BIN, ROOT, _pg_database, invoke, run_cli
from tests.pywb import pywb_serving
from tests.service_fixtures import ALICE, TIPLINE, start_service
from tests.tsa_fixtures import LocalTsa, tsa_server  # noqa: F401  (the `tsa` fixture)
from tests.warcs import Rec, read_warc

CASE = "SCHED-2"
OTHER = "OTHER-7"
OTHER_NOTE = "informant 7 says seat 1 is a trap"
SEEDS = """\
- url: {listing}
  every: 1s
  case: SCHED-2
  follow: ["/ad/*"]
"""


def crawl_due(seeds: Path, store: Path, db: str | None) -> dict[str, dict[str, Any]]:
    proc = run_cli("crawl", str(seeds), "--due", "--json", "--timeout", "10", store=store, db=db)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "summary" in lines[-1], proc.stdout
    return {c["url"]: c for c in lines[:-1]}


def export(s: dict[str, Any], out: Path, *args: str, **env: str) -> Path:
    proc = invoke("export", "--case", CASE, "--out", str(out), "--json", *args,
                  store=s["store"], db=s["db"], **s["env"], **env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sched(
    request: pytest.FixtureRequest, tsa: LocalTsa, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    site = AdSite(ads=2).start()
    db_gen = _pg_database() if request.param == "postgresql" else None
    db = next(db_gen) if db_gen else None
    root = tmp_path_factory.mktemp(f"revexport-{request.param}")
    store = root / "evidence"
    env = {"LASTSEEN_SIGNING_KEY": str(root / "signing-key.pem")}
    s: dict[str, Any] = {"site": site, "store": store, "db": db, "env": env, "root": root}
    try:
        assert invoke("keys", "init", store=store, db=db, **env).returncode == 0
        proc = run_cli("capture", site.url("/ad/1"), "--case", OTHER, "--note", OTHER_NOTE,
                       "--json", "--timeout", "10", store=store, db=db)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        s["other"] = json.loads(proc.stdout)
        seeds = root / "watch.yaml"
        seeds.write_text(SEEDS.format(listing=site.url("/")))
        s["run1"] = crawl_due(seeds, store, db)
        time.sleep(1.2)  # the listing is due again
        s["run2"] = crawl_due(seeds, store, db)
        s["bundle"] = export(s, root / "sched-2.zip", LASTSEEN_TSA_URLS=tsa.url("/tsa"))
        s["unzipped"] = root / "unzipped"
        with zipfile.ZipFile(s["bundle"]) as zf:
            zf.extractall(s["unzipped"])
        (s["unzipped"] / "tsa-ca.pem").write_bytes(tsa.ca_pem.read_bytes())
        yield s
    finally:
        site.stop()
        if db_gen:
            db_gen.close()


def capture_of(s: dict[str, Any], run: str, path: str) -> dict[str, Any]:
    return s[run][s["site"].url(path)]


def stored_records(store: Path) -> dict[str, tuple[Path, Rec]]:
    """Every record of every WARC in the store, by record id."""
    return {
        rec.header("WARC-Record-ID"): (path, rec)
        for path in store.rglob("*.warc.gz")
        for rec in read_warc(path)
    }


def revisit_of(capture: dict[str, Any], target_prefix: str) -> Rec:
    return next(
        r
        for r in read_warc(capture["warc"])
        if r.type == "revisit" and r.target.startswith(target_prefix)
    )


def referenced_member(s: dict[str, Any]) -> str:
    return "captures/referenced/" + os.path.basename(s["other"]["warc"])


def flat_report(unzipped: Path) -> str:
    text = subprocess.run(["pdftotext", "report.pdf", "-"], cwd=unzipped, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    return "".join(text.split())


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Verifying a bundle without lastseen", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block
    return block.group(1).strip().splitlines()


def run_bash(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip


# -- the scenario is what it claims to be ----------------------------------------------------


def test_the_scheduled_captures_hold_revisits_into_their_own_case_and_into_another(sched):
    other = os.path.basename(sched["other"]["warc"])
    first = capture_of(sched, "run1", "/ad/1")
    assert first["case"] == CASE
    records = stored_records(sched["store"])
    image = revisit_of(first, sched["site"].url("/img/1"))
    assert records[image.header("WARC-Refers-To")][0].name == other
    assert [r.type for r in read_warc(first["warc"]) if r.target == first["url"]] == [
        "response",
        "request",
    ], "the page itself is stored again in full"
    again = capture_of(sched, "run2", "/ad/2")
    holders = {
        records[r.header("WARC-Refers-To")][0].name
        for r in read_warc(again["warc"])
        if r.type == "revisit"
    }
    assert os.path.basename(capture_of(sched, "run1", "/ad/2")["warc"]) in holders
    assert again["pdf_sha256"] is None, "an unchanged page is not printed again"


# -- lastseen verify -------------------------------------------------------------------------


def test_lastseen_verify_passes_and_checks_every_revisit(sched, tsa):
    proc = invoke("verify", str(sched["bundle"]), "--tsa-ca", str(tsa.ca_pem),
                  "--key", signer(sched["env"]["LASTSEEN_SIGNING_KEY"]))  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    for run in ("run1", "run2"):
        for capture in sched[run].values():
            member = f"captures/{capture['id']}/{os.path.basename(capture['warc'])}"
            count = sum(1 for r in read_warc(capture["warc"]) if r.type == "revisit")
            assert count, f"{member} has revisits"
            assert any(
                line.startswith(f"OK    revisit    {member}: {count} revisit records")
                for line in lines
            ), member
    assert any(
        line.startswith(f"OK    revisit    {referenced_member(sched)}: a WARC of a capture outside")
        for line in lines
    )
    again, first = capture_of(sched, "run2", "/ad/2"), capture_of(sched, "run1", "/ad/2")
    member = f"captures/{again['id']}/{os.path.basename(again['warc'])}"
    printed = f"captures/{first['id']}/{os.path.basename(first['warc'])}"
    assert any(
        line.startswith(f"OK    print      {member}: no PDF printed") and printed in line
        for line in lines
    ), lines


def test_the_bundle_carries_the_referenced_warc_byte_for_byte_and_nothing_else_of_that_case(sched):
    contents = members(sched["bundle"])
    other = sched["other"]
    assert contents[referenced_member(sched)] == Path(other["warc"]).read_bytes()
    assert [n for n in contents if n.startswith("captures/referenced/")] == [
        referenced_member(sched)
    ]
    assert not any(n.startswith(f"captures/{other['id']}/") for n in contents)
    for name in ("custody.jsonl", "manifest.json", "report.html"):
        text = contents[name].decode()
        assert OTHER not in text and OTHER_NOTE not in text, name
    entries = [json.loads(line) for line in contents["custody.jsonl"].splitlines()]
    assert other["id"] not in {e["capture_id"] for e in entries}
    manifest = json.loads(contents["manifest.json"])
    assert manifest["referenced"] == [
        {"warc": referenced_member(sched), "sha256": other["warc_sha256"],
         "size": other["warc_size"]}
    ]  # fmt: skip


# -- the files taken out of a recapture ------------------------------------------------------


@pytest.mark.parametrize("kind,filename", [("screenshot", "screenshot.png"), ("dom", "dom.html")])
def test_the_files_of_a_recapture_are_the_original_bytes(sched, kind, filename):
    records = stored_records(sched["store"])
    for path in ("/", "/ad/1", "/ad/2"):
        capture = capture_of(sched, "run2", path)
        revisit = revisit_of(capture, f"urn:{kind}:")
        original = records[revisit.header("WARC-Refers-To")][1]
        assert original.type == "resource" and original.payload
        extracted = (sched["unzipped"] / f"captures/{capture['id']}/{filename}").read_bytes()
        assert extracted == original.payload, path
        digest = "sha256:" + hashlib.sha256(extracted).hexdigest()
        assert digest == revisit.header("WARC-Payload-Digest")
        assert capture[f"{kind}_sha256"] == hashlib.sha256(extracted).hexdigest()
    first = capture_of(sched, "run1", "/ad/2")
    again = capture_of(sched, "run2", "/ad/2")
    first_file = sched["unzipped"] / f"captures/{first['id']}/{filename}"
    again_file = sched["unzipped"] / f"captures/{again['id']}/{filename}"
    assert again_file.read_bytes() == first_file.read_bytes()


# -- the report ------------------------------------------------------------------------------


def test_the_report_says_what_is_identical_to_what_and_which_print_stands_for_the_pdf(sched):
    flat = flat_report(sched["unzipped"])
    first = capture_of(sched, "run1", "/ad/2")
    again = capture_of(sched, "run2", "/ad/2")
    section = flat.split(f"Capture{again['id']}Requestedaddress", 1)[1].split("Filesofcapture")[0]
    assert f"Identical,byteforbyte,tothatofcapture{first['id']}" in section
    assert first["captured_at"] in section
    assert again["screenshot_sha256"] in section
    assert "Nonewasmadeforthiscapture,becausethepagehadnotchanged" in section
    assert f"Itsprint,captures/{first['id']}/page.pdf,standsforthiscapture's." in section
    # Ad 1 of run 1: identical to what another case's capture stored, named by its WARC only.
    ad1 = capture_of(sched, "run1", "/ad/1")
    section = flat.split(f"Capture{ad1['id']}Requestedaddress", 1)[1].split("Filesofcapture")[0]
    assert "byacaptureoutsidethiscase" in section
    assert referenced_member(sched) in section
    assert f"capture{sched['other']['id']}(" not in section
    # The files of capture and of what it refers to, with their hashes.
    assert sched["other"]["warc_sha256"] in flat


# -- custody ---------------------------------------------------------------------------------


def test_the_export_entry_lists_the_warcs_each_capture_depends_on(sched):
    entries = [
        json.loads(line) for line in (sched["unzipped"] / "custody.jsonl").read_text().splitlines()
    ]
    export = entries[-1]
    manifest = json.loads((sched["unzipped"] / "manifest.json").read_text())
    assert export["details"]["referenced"] == {
        referenced_member(sched): sched["other"]["warc_sha256"]
    }
    for capture in manifest["captures"]:
        listed = sorted(d["warc"] for d in capture["depends_on"])
        assert export["details"]["depends_on"].get(str(capture["id"]), []) == listed
    again = capture_of(sched, "run2", "/ad/2")
    first = capture_of(sched, "run1", "/ad/2")
    assert (
        f"captures/{first['id']}/{os.path.basename(first['warc'])}"
        in (export["details"]["depends_on"][str(again["id"])])
    )
    # Reading the other case's WARC is an access of that capture, naming the export by number.
    archive = Archive.open(ArchiveConfig(store=str(sched["store"]), db=sched["db"]), create=False)
    try:
        chain = custody.entries(archive.catalog)
        assert verify_chain(chain) == []
        access = [
            e
            for e in chain
            if e.capture_id == sched["other"]["id"] and e.details.get("as") == "referenced"
        ]
        assert [e.details for e in access] == [
            {"purpose": "export", "as": "referenced", "export_seq": export["seq"],
             "warc_sha256": sched["other"]["warc_sha256"]}
        ]  # fmt: skip
    finally:
        archive.close()


# -- WACZ, standard tools, replay ------------------------------------------------------------


def test_wacz_validate_passes_and_the_wacz_holds_the_referenced_originals(sched):
    wacz_name = "case-SCHED-2.wacz"
    proc = subprocess.run([str(BIN / "wacz"), "validate", "-f", wacz_name],
                          cwd=sched["unzipped"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and "Validation succeeded" in proc.stdout, proc.stdout
    other = os.path.basename(sched["other"]["warc"])
    with zipfile.ZipFile(sched["unzipped"] / wacz_name) as wacz:
        assert wacz.read("archive/" + other) == Path(sched["other"]["warc"]).read_bytes()
        index = [
            line.split(" ", 2) for line in wacz.read("indexes/index.cdxj").decode().splitlines()
        ]
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
    # Of the other case's WARC, only the records this case's revisits point to are indexed, and
    # the PDF print that stands for run 1's unprinted ad 1.
    needed = {
        r.header("WARC-Refers-To")
        for run in ("run1", "run2")
        for c in sched[run].values()
        for r in read_warc(c["warc"])
        if r.type == "revisit"
    }
    assert capture_of(sched, "run1", "/ad/1")["pdf_sha256"] is None
    needed |= {
        r.header("WARC-Record-ID")
        for r in read_warc(sched["other"]["warc"])
        if r.target.startswith("urn:pdf:")
    }
    offsets = {
        str(rec.offset) for rec in read_warc(sched["other"]["warc"])
        if rec.header("WARC-Record-ID") in needed
    }  # fmt: skip
    indexed = {json.loads(f)["offset"] for _, _, f in index if json.loads(f)["filename"] == other}
    assert indexed and {str(o) for o in indexed} == offsets
    assert {p["id"] for p in pages} == {
        str(c["id"]) for run in ("run1", "run2") for c in sched[run].values()
    }


@pytest.mark.parametrize("sched", ["sqlite"], indirect=True)
def test_the_readme_commands_pass_on_the_unzipped_bundle(sched):
    commands = readme_commands()
    for command in commands:
        proc = run_bash(command, sched["unzipped"])
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if command.startswith("comm "):
            assert proc.stdout == ""
    # The revisit check had revisits to check.
    count = run_bash(
        "warcio index -f warc-type captures/[0-9]*/*.warc.gz | grep -c revisit", sched["unzipped"]
    )
    assert int(count.stdout) > 20


def test_dropping_the_referenced_warc_fails_verify_naming_it(sched, tsa, tmp_path):
    member = referenced_member(sched)
    contents = members(sched["bundle"])
    roots = load_certificates(tsa.ca_pem)
    dropped = rezip({n: d for n, d in contents.items() if n != member}, tmp_path / "dropped.zip")
    failures = [c.line() for c in verify_bundle(dropped, roots).failures]
    assert any(line.startswith(f"FAIL  revisit    {member}: missing") for line in failures)
    assert any(f"which {member}, missing from the bundle, holds" in line for line in failures)
    # Also when SHA256SUMS was rewritten to match (the signature then fails, and still the
    # missing file is named by the revisit check).
    sums = b"".join(
        line + b"\n" for line in contents["SHA256SUMS"].splitlines() if member.encode() not in line
    )
    trimmed = rezip(
        {**{n: d for n, d in contents.items() if n != member}, "SHA256SUMS": sums},
        tmp_path / "trimmed.zip",
    )
    proc = invoke("verify", str(trimmed), "--key", signer(sched["env"]["LASTSEEN_SIGNING_KEY"]))
    assert proc.returncode == 1
    assert f"FAIL  revisit    {member}: missing" in proc.stdout
    assert member in proc.stdout.splitlines()[-1]


@pytest.mark.parametrize("sched", ["sqlite"], indirect=True)
def test_the_readme_revisit_check_names_what_a_bundle_without_the_referenced_warc_lacks(
    sched, tmp_path
):
    folder = tmp_path / "copy"
    with zipfile.ZipFile(sched["bundle"]) as zf:
        zf.extractall(folder)
    (folder / referenced_member(sched)).unlink()
    command = next(c for c in readme_commands() if c.startswith("comm "))
    proc = run_bash(command, folder)
    assert proc.returncode == 1
    first = capture_of(sched, "run1", "/ad/1")
    image = revisit_of(first, sched["site"].url("/img/1"))
    assert image.header("WARC-Refers-To") in proc.stdout


@pytest.mark.parametrize("sched", ["sqlite"], indirect=True)
def test_the_recaptured_page_replays_in_pywb_from_the_wacz(sched, tmp_path):
    again = capture_of(sched, "run2", "/ad/1")
    assert again["payload_sha256"] and revisit_of(again, sched["site"].url("/static/ad.js"))
    warcs = []
    with zipfile.ZipFile(sched["unzipped"] / "case-SCHED-2.wacz") as wacz:
        for name in wacz.namelist():
            if name.startswith("archive/"):
                target = tmp_path / "warcs" / os.path.basename(name)
                target.parent.mkdir(exist_ok=True)
                target.write_bytes(wacz.read(name))
                warcs.append(target)
    stamp = re.sub(r"\D", "", again["captured_at"])[:14]
    url = again["url"]
    with pywb_serving(warcs, tmp_path / "pywb") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(find_browser()), args=launch_args())
        page = browser.new_page()
        page.goto(f"{base}/{stamp}/{url}")
        frame = page.frame_locator("iframe").first
        price = frame.locator("#price").filter(has_text="EUR")
        price.wait_for(timeout=20_000)
        # The page is stored in full again; its script and the XHR that fills in the price are
        # revisits here.
        assert price.inner_text() == "Price: 450 EUR"
        assert frame.locator("h1").inner_text() == "Transport to the UK, seat 1"
        assert frame.locator("img").first.evaluate("img => img.naturalWidth") == 32  # it loaded
        browser.close()


# -- a capture exported without the captures it refers to ------------------------------------


def test_a_capture_exported_alone_carries_the_warcs_of_its_case_it_refers_to(sched, tsa, tmp_path):
    again = capture_of(sched, "run2", "/ad/2")
    first = capture_of(sched, "run1", "/ad/2")
    out = export(sched, tmp_path / "alone.zip", "--capture", str(again["id"]))
    contents = members(out)
    own = f"captures/referenced/{os.path.basename(first['warc'])}"
    assert contents[own] == Path(first["warc"]).read_bytes()
    assert not any(n.startswith(f"captures/{first['id']}/") for n in contents)
    key = signer(sched["env"]["LASTSEEN_SIGNING_KEY"])
    result = verify_bundle(out, load_certificates(tsa.ca_pem), trusted_keys={key})
    assert result.ok and result.signer == key, [c.line() for c in result.failures]
    report = " ".join(contents["report.html"].decode().split())
    assert (
        f"to that of capture {first['id']} ({first['captured_at']}), a capture of this case that "
        "is not part of this export" in report
    )
    assert f"(capture {first['id']} is not part of this export)" in report
    (pdf,) = [r for r in read_warc(first["warc"]) if r.target.startswith("urn:pdf:")]
    assert (
        f"Its print, record {pdf.header('WARC-Record-ID')} in <code>{own}</code>"
        in report.replace("&lt;", "<").replace("&gt;", ">")
    )


def test_the_other_cases_bundle_shows_its_warc_was_read_without_naming_this_case(sched, tmp_path):
    out = tmp_path / "other.zip"
    proc = invoke("export", "--case", OTHER, "--out", str(out), store=sched["store"],
                  db=sched["db"], **sched["env"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    key = signer(sched["env"]["LASTSEEN_SIGNING_KEY"])
    result = verify_bundle(out, trusted_keys={key})
    assert result.ok and result.signer == key
    contents = members(out)
    entries = [json.loads(line) for line in contents["custody.jsonl"].splitlines()]
    ours = json.loads((sched["unzipped"] / "custody.jsonl").read_text().splitlines()[-1])
    # (Other tests of this module export SCHED-2 again: each such export read the WARC.)
    assert ours["seq"] in [
        e["details"]["export_seq"] for e in entries if e["details"].get("as") == "referenced"
    ]
    report = " ".join(contents["report.html"].decode().split())
    assert f"the WARC file, for export number {ours['seq']}, whose captures refer to it" in report
    for name in ("custody.jsonl", "manifest.json", "report.html"):
        assert CASE not in contents[name].decode(), name
    assert not any(n.startswith("captures/referenced/") for n in contents)


# -- the capture service's custody entries in a bundle ---------------------------------------


def test_service_custody_entries_read_plainly_and_another_cases_report_stays_out(
    site, tmp_path, tsa
):
    store = tmp_path / "evidence"
    env = {"LASTSEEN_SIGNING_KEY": str(tmp_path / "key.pem")}
    assert invoke("keys", "init", store=store, **env).returncode == 0
    service = start_service(store, None, LASTSEEN_ALLOW_PRIVATE="1")
    try:
        url = site.url("/ad/2")
        first = service.report(url, case="SVC-1", note="walk-in tip")
        stored = service.wait(first["id"])
        assert stored["status"] == "stored", stored
        linked = service.report(url, token=TIPLINE, case="SVC-2", note="caller 55 knows the driver")
        assert service.wait(linked["id"])["capture_id"] == stored["capture_id"]
        shot = service.get(f"/api/captures/{first['id']}/screenshot", token=ALICE)
        assert shot.status == 200
    finally:
        service.stop()
    out = tmp_path / "svc-1.zip"
    proc = invoke("export", "--case", "SVC-1", "--out", str(out), store=store, **env)
    assert proc.returncode == 0, proc.stderr
    result = verify_bundle(out, trusted_keys={signer(tmp_path / "key.pem")})
    assert result.ok and result.signer is not None
    contents = members(out)
    entries = [json.loads(line) for line in contents["custody.jsonl"].splitlines()]
    assert [e["action"] for e in entries] == ["capture", "report", "access", "access", "export"]
    assert entries[2]["details"]["via"] == "service"
    report = " ".join(contents["report.html"].decode().split())
    assert "reported through the capture service; this capture answers the report" in report
    assert f"report {first['id']}, requested at" in report
    assert (
        f"the screenshot, downloaded through the capture service (report {first['id']})" in report
    )
    assert "evidence read: for the export of case SVC-1 into svc-1.zip" in report
    assert "exported as a bundle: this bundle" in report
    for name in ("custody.jsonl", "report.html", "manifest.json"):
        text = contents[name].decode()
        assert "SVC-2" not in text and "caller 55" not in text, name
