"""Evidence export end to end: real captures, the real CLI, a local TSA, standard tools.

One session store holds captures of case CASE-1 (http and https pages, a 410, a page the
browser could not reach) and one capture of another case in between; one bundle of CASE-1,
timestamped by the local TSA, is checked by many tests. Tampering tests rewrite copies of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from archive import Archive, ArchiveConfig
from archive.bundle.export import export_case
from archive.bundle.keys import load_key
from archive.bundle.report import render_pdf
from archive.bundle.verify import load_certificates, verify_bundle
from archive.catalog import custody
from archive.chain import entry_hash, verify_chain
from demo.site import AdSite
from tests.bundles import members, rezip, signer
from tests.conftest import BIN, ROOT, invoke, run_cli
from tests.tsa_fixtures import LocalTsa, tsa_server  # noqa: F401  (the `tsa` fixture)
from tests.warcs import read_warc

CASE = "CASE-1"
SEALS = ("SHA256SUMS", "SHA256SUMS.sig", "SHA256SUMS.tsr")


@pytest.fixture(scope="session")
def case(
    site: AdSite, tls_site: tuple[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Captures of CASE-1 with one capture of OTHER-9 in between, and a signing key."""
    store = tmp_path_factory.mktemp("case") / "evidence"
    key = store.parent / "keys" / "signing-key.pem"
    env = {"LASTSEEN_SIGNING_KEY": str(key)}
    proc = invoke("keys", "init", store=store, **env)
    assert proc.returncode == 0, proc.stderr
    captures = []

    def capture(url: str, case_id: str, *extra: str) -> None:
        proc = run_cli("capture", url, "--case", case_id, "--json", "--timeout", "8", *extra,
                       store=store)  # fmt: skip
        assert proc.returncode in (0, 3), proc.stderr
        captures.append(json.loads(proc.stdout))

    capture(site.url("/ad/1"), CASE, "--note", "tip 17")
    capture(site.url("/ad/3"), "OTHER-9")
    seeds = store.parent / "seeds.txt"
    seeds.write_text(
        "\n".join([site.url("/redirect/2"), site.url("/gone"), tls_site[0], "http://127.0.0.1:9/"])
    )
    proc = run_cli("crawl", str(seeds), "--case", CASE, "--json", "--timeout", "8", store=store)
    assert proc.returncode == 0, proc.stderr
    captures += [json.loads(line) for line in proc.stdout.splitlines()]
    return {
        "store": store,
        "env": env,
        "key": key,
        "captures": [c for c in captures if c["case"] == CASE],
        "other": [c for c in captures if c["case"] != CASE],
    }


@pytest.fixture(scope="session")
def bundle(case: dict[str, Any], tsa: LocalTsa, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "case-1.zip"
    proc = invoke(
        "export", "--case", CASE, "--out", str(out), "--json",
        store=case["store"], LASTSEEN_TSA_URLS=tsa.url("/tsa"), **case["env"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["bundle"] == str(out) and summary["timestamps"] == [tsa.url("/tsa")]
    return out


@pytest.fixture(scope="session")
def unzipped(bundle: Path, tsa: LocalTsa) -> Path:
    folder = bundle.parent / "unzipped"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    shutil.copy(tsa.ca_pem, folder / "tsa-ca.pem")
    return folder


def failing(path: Path, tsa: LocalTsa | None = None) -> list[str]:
    roots = load_certificates(tsa.ca_pem) if tsa else None
    return [c.line() for c in verify_bundle(path, roots).failures]


# -- what the bundle holds -------------------------------------------------------------------


def test_keys_init_writes_a_private_key_only_its_owner_can_read(case):
    key = case["key"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    proc = invoke("keys", "init", store=case["store"], **case["env"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"Error: a signing key already exists at {key}; it was left as it is"
    ]
    assert key.read_bytes() == before
    shown = invoke("keys", "show", store=case["store"], **case["env"])
    assert load_key(key).fingerprint in shown.stdout
    assert "BEGIN PUBLIC KEY" in shown.stdout


def test_the_bundle_holds_every_capture_file_the_wacz_report_custody_and_seals(bundle, case):
    names = set(members(bundle))
    for capture in case["captures"]:
        folder = f"captures/{capture['id']}/"
        warc = folder + os.path.basename(capture["warc"])
        assert warc in names
        assert folder + "provenance.json" in names
        if capture["outcome"] != "unreachable":
            assert {folder + f for f in ("screenshot.png", "page.pdf", "dom.html")} <= names
    https = next(c for c in case["captures"] if c["url"].startswith("https:"))
    assert f"captures/{https['id']}/tls-chain.pem" in names
    assert {"case-CASE-1.wacz", "custody.jsonl", "manifest.json", "report.html", "report.pdf",
            "signing-key.pub", *SEALS} <= names  # fmt: skip
    assert not any(f"captures/{c['id']}/" in n for c in case["other"] for n in names)


def test_capture_files_are_byte_identical_to_the_stored_evidence(bundle, case):
    contents = members(bundle)
    for capture in case["captures"]:
        folder = f"captures/{capture['id']}/"
        stored = Path(capture["warc"]).read_bytes()
        assert contents[folder + os.path.basename(capture["warc"])] == stored
        records = read_warc(capture["warc"])
        for target, name in [("urn:screenshot:", "screenshot.png"), ("urn:pdf:", "page.pdf"),
                             ("urn:dom:", "dom.html"), ("urn:provenance:", "provenance.json"),
                             ("urn:tls-chain:", "tls-chain.pem")]:  # fmt: skip
            record = [r for r in records if r.target.startswith(target)]
            if record:
                assert contents[folder + name] == record[0].payload, folder + name
    screenshot = contents[f"captures/{case['captures'][0]['id']}/screenshot.png"]
    assert hashlib.sha256(screenshot).hexdigest() == case["captures"][0]["screenshot_sha256"]


def test_lastseen_verify_passes_and_prints_one_line_per_check(bundle, case, tsa):
    proc = subprocess.run(
        [str(BIN / "lastseen"), "verify", str(bundle), "--tsa-ca", str(tsa.ca_pem),
         "--key", signer(case["key"])],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("verified: ")
    assert all(line.startswith("OK ") for line in lines[:-1]), proc.stdout
    for name in members(bundle):
        if name not in SEALS:
            assert any(f"sha256     {name}: " in line for line in lines), name
    assert any(line.startswith("OK    signature  SHA256SUMS.sig") for line in lines)
    assert (
        f"OK    signer     signing-key.pub: key {signer(case['key'])} is a key you trust" in lines
    )
    assert any("timestamp  SHA256SUMS.tsr: SHA256SUMS existed at" in line for line in lines)
    assert any("from a TSA certified by the given CA" in line for line in lines)
    assert sum(" warc " in line for line in lines) == 5


def test_without_the_tsa_ca_verify_warns_that_the_tsa_was_not_checked(bundle, case):
    proc = invoke("verify", str(bundle), "--key", signer(case["key"]))
    assert proc.returncode == 0
    assert "WARN  timestamp  SHA256SUMS.tsr: the TSA's certificate was not checked" in proc.stdout


def test_the_readme_commands_pass_on_the_unzipped_bundle(unzipped):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Verifying a bundle without lastseen", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1).strip().splitlines()
    assert len(commands) >= 7
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    outputs = []
    for command in commands:
        proc = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=unzipped,
                              env=env, capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        outputs.append((command, proc.stdout + proc.stderr))

    def output(prefix: str) -> str:
        return next(out for command, out in outputs if command.startswith(prefix))

    assert "FAILED" not in output("sha256sum -c") and ": OK" in output("sha256sum -c")
    assert "Signature Verified Successfully" in output("openssl pkeyutl")
    assert output("openssl pkey ").split()[0] in (unzipped / "report.html").read_text()
    assert "Verification: OK" in output("openssl ts -verify")
    assert "Status: Granted." in output("openssl ts -reply")
    assert "Validation succeeded" in output("wacz validate")


def test_the_readme_commands_catch_a_changed_custody_entry(unzipped, tmp_path):
    readme = (ROOT / "README.md").read_text()
    jq_line = next(line for line in readme.splitlines() if line.startswith("jq -cS"))
    tampered = tmp_path / "custody.jsonl"
    tampered.write_text((unzipped / "custody.jsonl").read_text().replace('"access"', '"acces"', 1))
    proc = subprocess.run(["bash", "-c", jq_line], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout


def test_the_wacz_passes_wacz_validate_and_holds_the_same_warcs(unzipped, case):
    proc = subprocess.run([str(BIN / "wacz"), "validate", "-f", "case-CASE-1.wacz"],
                          cwd=unzipped, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and "Validation succeeded" in proc.stdout, proc.stdout
    with zipfile.ZipFile(unzipped / "case-CASE-1.wacz") as wacz:
        for capture in case["captures"]:
            info = wacz.getinfo("archive/" + os.path.basename(capture["warc"]))
            assert info.compress_type == zipfile.ZIP_STORED
            assert wacz.read(info) == Path(capture["warc"]).read_bytes()
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
        index = wacz.read("indexes/index.cdxj").decode()
    assert pages[0]["format"] == "json-pages-1.0"
    assert {p["url"] for p in pages[1:]} == {
        c["final_url"] for c in case["captures"] if c["outcome"] != "unreachable"
    }
    assert index.splitlines() == sorted(index.splitlines())


def test_the_pdf_report_holds_every_url_and_every_hash(unzipped, case):
    text = subprocess.run(["pdftotext", "report.pdf", "-"], cwd=unzipped, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    flat = "".join(text.split())
    for capture in case["captures"]:
        for url in (capture["url"], capture["final_url"]):
            if url:
                assert url in flat, url
        assert capture["warc_sha256"] in flat
        for key in ("payload_sha256", "screenshot_sha256", "dom_sha256", "pdf_sha256"):
            if capture[key]:
                assert capture[key] in flat, key
    sums = (unzipped / "SHA256SUMS").read_text().splitlines()
    for line in sums:
        digest, name = line.split("  ", 1)
        if name not in ("report.html", "report.pdf"):
            assert digest in flat, name
    for entry in (unzipped / "custody.jsonl").read_text().splitlines():
        assert json.loads(entry)["hash"] in flat
    assert "No trusted timestamp" not in text and "SHA256SUMS.tsr" in text
    https = next(c for c in case["captures"] if c["url"].startswith("https:"))
    assert f"Capture {https['id']}" in text and "localhost" in text and "TLS" in text


def test_the_report_pdf_is_the_report_html_printed_the_same_way_every_time(unzipped, tmp_path):
    html = (unzipped / "report.html").read_text()
    shutil.copytree(unzipped / "captures", tmp_path / "captures")
    first = render_pdf(html, tmp_path)
    assert first == render_pdf(html, tmp_path)
    assert first == (unzipped / "report.pdf").read_bytes()


# -- custody ---------------------------------------------------------------------------------


def test_custody_holds_these_captures_entries_only_and_ends_with_the_export(unzipped, case):
    entries = [json.loads(line) for line in (unzipped / "custody.jsonl").read_text().splitlines()]
    ids = sorted(c["id"] for c in case["captures"])
    assert {e["capture_id"] for e in entries[:-1]} == set(ids)
    assert not {c["id"] for c in case["other"]} & {e["capture_id"] for e in entries}
    assert [e["action"] for e in entries if e["action"] == "capture"] == ["capture"] * len(ids)
    assert [e["capture_id"] for e in entries if e["action"] == "access"] == ids
    export = entries[-1]
    assert export["action"] == "export" and export["capture_id"] is None
    assert export["details"]["captures"] == ids and export["details"]["case"] == CASE
    assert export["details"]["entries"] == [[e["seq"], e["hash"]] for e in entries[:-1]]
    assert all(entry_hash(e) == e["hash"] for e in entries)
    # The catalog's one chain still verifies, and the export entry follows its head.
    archive = Archive.open(ArchiveConfig(store=str(case["store"])), create=False)
    chain = custody.entries(archive.catalog)
    assert verify_chain(chain) == []
    position = next(i for i, e in enumerate(chain) if e.hash == export["hash"])
    assert export["prev_hash"] == chain[position - 1].hash
    archive.close()


def test_show_lists_the_export_access_of_a_capture(bundle, case):
    capture = case["captures"][0]
    shown = json.loads(invoke("show", str(capture["id"]), "--json", store=case["store"]).stdout)
    access = [e for e in shown["custody"] if e["action"] == "access"]
    assert access and access[0]["details"] == {
        "purpose": "export",
        "case": CASE,
        "bundle": bundle.name,
    }


# -- tampering -------------------------------------------------------------------------------


def test_a_changed_byte_in_any_member_fails_verify_and_names_it(bundle, tsa, tmp_path):
    contents = members(bundle)
    assert failing(bundle, tsa) == []
    for name, data in contents.items():
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        target = rezip({**contents, name: bytes(flipped)}, tmp_path / "t.zip")
        failures = failing(target, tsa)
        assert any(name in line for line in failures), f"{name}: {failures}"


def test_a_missing_member_fails_verify_and_is_named(bundle, tsa, tmp_path):
    contents = members(bundle)
    for name in contents:
        target = rezip({n: d for n, d in contents.items() if n != name}, tmp_path / "t.zip")
        failures = failing(target, tsa)
        assert any(name in line and "missing" in line for line in failures), f"{name}: {failures}"


def test_swapped_screenshots_fail_verify_naming_both(bundle, case, tmp_path):
    contents = members(bundle)
    shown = {c["screenshot_sha256"]: c["id"] for c in case["captures"] if c["screenshot_sha256"]}
    a, b = (f"captures/{i}/screenshot.png" for i in list(shown.values())[:2])
    target = rezip({**contents, a: contents[b], b: contents[a]}, tmp_path / "swap.zip")
    proc = invoke("verify", str(target), "--key", signer(case["key"]))
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert any(a in line and "sha256" in line for line in failed)
    assert any(b in line and "is not the screenshot recorded" in line for line in failed)
    assert a in proc.stdout.splitlines()[-1] and b in proc.stdout.splitlines()[-1]


def test_a_member_added_after_sealing_fails_verify(bundle, tmp_path):
    contents = members(bundle)
    target = rezip({**contents, "captures/extra.txt": b"planted"}, tmp_path / "x.zip")
    assert any("captures/extra.txt: not listed in SHA256SUMS" in line for line in failing(target))


def test_a_flipped_byte_in_the_zip_file_itself_is_named(bundle, case, tmp_path):
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("report.pdf")
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0x40
    target = tmp_path / "raw.zip"
    target.write_bytes(bytes(data))
    proc = invoke("verify", str(target), "--key", signer(case["key"]))
    assert proc.returncode == 1
    assert "report.pdf" in proc.stdout.splitlines()[-1]


def test_verify_of_something_that_is_not_a_bundle_fails_cleanly(tmp_path, tsa):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    proc = invoke("verify", str(junk))
    assert proc.returncode == 1 and "not a readable ZIP file" in proc.stdout
    proc = invoke("verify", str(junk), "--tsa-ca", str(junk))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# -- timestamps ------------------------------------------------------------------------------


def test_without_a_tsa_the_export_works_and_says_no_trusted_timestamp(case, tmp_path):
    out = tmp_path / "plain.zip"
    proc = invoke("export", "--case", CASE, "--out", str(out), store=case["store"], **case["env"])
    assert proc.returncode == 0, proc.stderr
    assert "no trusted timestamp was obtained" in proc.stdout
    contents = members(out)
    assert not any(n.endswith(".tsr") for n in contents)
    assert "No trusted timestamp was obtained for this bundle." in contents["report.html"].decode()
    verified = invoke("verify", str(out), "--key", signer(case["key"]))
    assert verified.returncode == 0
    assert "WARN  timestamp  SHA256SUMS: no trusted timestamp was obtained" in verified.stdout


def test_a_failing_tsa_is_reported_and_the_others_still_stamp(case, tsa, tmp_path):
    out = tmp_path / "mixed.zip"
    urls = f"{tsa.url('/broken')} {tsa.url('/tsa')}"
    proc = invoke("export", "--case", CASE, "--out", str(out), store=case["store"],
                  LASTSEEN_TSA_URLS=urls, **case["env"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"warning: no timestamp from {tsa.url('/broken')} answered HTTP 500" in proc.stderr
    contents = members(out)
    assert [n for n in contents if n.endswith(".tsr")] == ["SHA256SUMS.tsr"]
    manifest = json.loads(contents["manifest.json"])
    assert manifest["timestamps"]["tokens"] == [{"file": "SHA256SUMS.tsr", "tsa": tsa.url("/tsa")}]
    assert manifest["timestamps"]["failed"][0]["tsa"] == tsa.url("/broken")
    report = contents["report.html"].decode()
    assert "were asked and failed" in report and tsa.url("/broken") in report
    assert failing(out, tsa) == []


def test_a_token_with_its_chain_out_of_der_order_is_kept_and_verifies(case, tsa, tmp_path):
    from rfc3161_client import decode_timestamp_response

    out = tmp_path / "chain.zip"
    proc = invoke("export", "--case", CASE, "--out", str(out), store=case["store"],
                  LASTSEEN_TSA_URLS=tsa.url("/tsa-chain"), **case["env"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    token = members(out)["SHA256SUMS.tsr"]
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        decode_timestamp_response(token)
    assert failing(out, tsa) == []
    folder = tmp_path / "chain"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)
    openssl = subprocess.run(
        ["openssl", "ts", "-verify", "-in", "SHA256SUMS.tsr", "-data", "SHA256SUMS",
         "-CAfile", str(tsa.ca_pem)], cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert openssl.returncode == 0 and "Verification: OK" in openssl.stdout


def test_a_token_from_another_ca_fails_with_that_ca(bundle, tmp_path):
    other = LocalTsa(tmp_path)
    try:
        failures = failing(bundle, other)
    finally:
        other.stop()
    assert any("SHA256SUMS.tsr" in line and "not signed by a TSA" in line for line in failures)


# -- the same captures again -----------------------------------------------------------------


def test_exporting_again_gives_the_same_files_but_the_custody_entries(case, tmp_path):
    """In-process, with the progress callback the CLI draws its bar from."""
    archive = Archive.open(ArchiveConfig(store=str(case["store"]), operator="test-operator"))
    key = load_key(case["key"])
    seen: list[tuple[str, int, int]] = []
    ids = [c["id"] for c in case["captures"][:3]]
    try:
        first = export_case(archive, case=CASE, out=tmp_path / "a.zip", key=key, capture_ids=ids)
        second = export_case(
            archive, case=CASE, out=tmp_path / "b.zip", key=key, capture_ids=ids,
            progress=lambda *step: seen.append(step),
        )  # fmt: skip
    finally:
        archive.close()
    a, b = members(first.path), members(second.path)
    assert a.keys() == b.keys()
    differ = {n for n in a if a[n] != b[n]}
    assert differ == {"custody.jsonl", "report.html", "report.pdf", "SHA256SUMS", "SHA256SUMS.sig"}

    def without_custody(html: bytes) -> str:
        text = re.sub(r'<section id="custody".*?</section>', "", html.decode(), flags=re.DOTALL)
        text = re.sub(r'<tr class="custody">.*?</tr>', "", text, flags=re.DOTALL)
        return re.sub(r"<code>custody.jsonl</code> \([\d,]+ bytes\)</div>\n.*?</div>", "", text)

    assert without_custody(a["report.html"]) == without_custody(b["report.html"])
    assert second.custody_seq > first.custody_seq
    assert seen[-1][0] == "done" and seen[-1][1] == seen[-1][2] > 0
    assert all(done <= total for _, done, total in seen if total)


# -- what is refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--case", "NOPE"], {}, "case 'NOPE' has no captures"),
        (["--case", CASE, "--capture", "{other}"], {}, "is not in case 'CASE-1'"),
        (["--case", CASE, "--capture", "999"], {}, "capture 999 is not in case"),
        (["--case", CASE, "--lang", "xx"], {}, "no report template for language 'xx'"),
        (["--case", CASE], {"LASTSEEN_TSA_URLS": "tsa.example"}, "not a timestamp authority URL"),
        (["--case", CASE], {"LASTSEEN_SIGNING_KEY": "/nonexistent/key.pem"}, "no signing key"),
        (["--case", CASE, "--out", "/nonexistent/dir/b.zip"], {}, "does not exist"),
        (["--case", CASE, "--out", "{tmp}/b.tar"], {}, "must name a .zip file"),
        (["--case", CASE, "--out", "{existing}"], {}, "already exists"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_and_logs_nothing(
    case, tmp_path, args, env, message
):
    existing = tmp_path / "existing.zip"
    existing.write_bytes(b"keep me")
    values = {"other": str(case["other"][0]["id"]), "tmp": str(tmp_path), "existing": existing}
    args = [a.format(**values) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "b.zip")]
    archive = Archive.open(ArchiveConfig(store=str(case["store"])), create=False)
    before = len(custody.entries(archive.catalog))
    proc = invoke("export", *args, store=case["store"], **{**case["env"], **env})
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.zip"]
    assert existing.read_bytes() == b"keep me"
    assert len(custody.entries(archive.catalog)) == before
    archive.close()


def test_a_stored_file_changed_since_capture_is_not_exported(case, tmp_path):
    store = tmp_path / "evidence"
    shutil.copytree(case["store"], store)
    capture = case["captures"][-1]
    stored = store / Path(capture["warc"]).relative_to(case["store"])
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[-10] ^= 0x01
    stored.write_bytes(bytes(data))
    out = tmp_path / "out.zip"
    proc = invoke("export", "--case", CASE, "--out", str(out), store=store, **case["env"])
    assert proc.returncode == 1
    assert f"capture {capture['id']}: the stored file" in proc.stderr
    assert "is not the one sealed" in proc.stderr
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["evidence"]


def test_export_works_with_a_postgresql_catalog(site, store, pg_url, tmp_path):
    key = tmp_path / "key.pem"
    assert invoke("keys", "init", store=store, LASTSEEN_SIGNING_KEY=str(key)).returncode == 0
    proc = run_cli("capture", site.url("/ad/2"), "--case", "PG-1", "--timeout", "8", store=store,
                   db=pg_url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "pg.zip"
    proc = invoke("export", "--case", "PG-1", "--out", str(out), store=store, db=pg_url,
                  LASTSEEN_SIGNING_KEY=str(key))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert failing(out) == []
    entries = [json.loads(line) for line in members(out)["custody.jsonl"].splitlines()]
    assert [e["action"] for e in entries] == ["capture", "access", "export"]


def test_a_timestamp_earlier_than_a_capture_fails_verify(tsa, tmp_path):
    """A capture dated after the TSA's time (a wrong clock, or a forged date) is caught."""
    from datetime import UTC, datetime, timedelta

    from archive import Capture, Exchange, HttpRequest, HttpResponse, Resource
    from archive.bundle.keys import init_key
    from demo.site import png

    url = "http://ads.example/ad/9"
    later = datetime.now(UTC) + timedelta(days=1)
    capture = Capture(
        requested_url=url, started_at=later, ended_at=later + timedelta(seconds=3), outcome="ok",
        final_url=url, http_status=200, main_index=0, case_id="CLOCK-1",
        exchanges=[Exchange(HttpRequest("GET", url, [("Host", "ads.example")]),
                            HttpResponse(200, "OK", [("Content-Type", "text/html")], b"<p>ad</p>"),
                            resource_type="Document", remote_ip="192.0.2.7")],
        resources=[Resource("screenshot", "image/png", png(40, 30, (200, 0, 0)))],
        provenance={"ended_at": (later + timedelta(seconds=3)).isoformat()},
    )  # fmt: skip
    archive = Archive.open(ArchiveConfig(store=str(tmp_path / "evidence"), operator="clock"))
    try:
        archive.seal(capture)
        key = init_key(tmp_path / "key.pem")
        out = tmp_path / "clock.zip"
        result = export_case(archive, case="CLOCK-1", out=out, key=key, tsa_urls=[tsa.url("/tsa")])
    finally:
        archive.close()
    failures = failing(result.path, tsa)
    assert len(failures) == 1
    assert "SHA256SUMS.tsr" in failures[0] and "is before the end of a capture" in failures[0]
