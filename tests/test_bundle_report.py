"""The report in the court's language: complete catalogues, and PDFs with no English label left.

One session store holds a small case: a watched page captured by two scheduled runs (so the
second capture holds revisits), a page that is gone (410) and an address nobody answers. It is exported
once per language with the real CLI, and each PDF is read back with `pdftotext`.
"""

from __future__ import annotations

import configparser
import hashlib
import html as html_module
import json
import re
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from archive.bundle import report
from demo.site import AdSite
from tests.bundles import signer
from tests.conftest import BIN, ROOT, run_cli
from tests.pades_fixtures import KEY, P12_PASSWORD, PIN, SOFTHSM, TOKEN, SealCa
from tests.tsa_fixtures import LocalTsa, tsa_server  # noqa: F401  (the `tsa` fixture)

CASE = "BXL-2026-0412"
LANGUAGES = [lang for lang in report.languages() if lang != report.DEFAULT_LANGUAGE]


def template_messages() -> set[str | tuple[str, ...]]:
    """The report's messages, extracted as `pybabel extract` does with babel.cfg."""
    config = configparser.ConfigParser()
    config.read(report.LOCALE / "babel.cfg")
    found: set[str | tuple[str, ...]] = set()
    for section in config.sections():
        method, pattern = (part.strip() for part in section.split(":", 1))
        messages = extract_from_file(method, str(ROOT / pattern), options=dict(config[section]))
        found.update(message for _, message, _, _ in messages)
    return found


def catalogue(lang: str) -> Any:
    with open(report.catalogue(lang), "rb") as fh:
        return read_po(fh, locale=lang)


def test_the_languages_are_english_and_one_per_catalogue():
    assert report.languages() == ["de", "en", "fr", "nl"]


def test_the_template_for_translators_holds_every_message_of_the_report():
    with open(report.LOCALE / "report.pot", "rb") as fh:
        pot = read_po(fh)
    assert {m.id for m in pot if m.id} == template_messages()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_of_the_report_is_translated(lang):
    messages = template_messages()
    assert len(messages) > 100
    cat = catalogue(lang)
    missing = []
    for message in messages:
        entry = cat.get(message)
        strings = (
            entry.string if entry and isinstance(entry.string, tuple) else [entry and entry.string]
        )
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(message)
    assert missing == [], f"untranslated in {lang}"
    stale = [m.id for m in cat if m.id and m.id not in messages]
    assert stale == [], f"messages of {lang} the template no longer has"
    problems = [(m.id, str(e)) for m, errors in cat.check() for e in errors]
    assert problems == [], f"placeholders or plural forms that do not match in {lang}"


def english_labels(lang: str) -> list[str]:
    """What the English report says in words, message by message, where the language differs:
    runs of three or more words, and capitalised words of six letters or more (a lowercase word
    alone is as likely a name in the commands or the custody details). Code, commands and tool
    output (<code>, <samp>) and placeholders are not labels."""
    labels = []
    for entry in catalogue(lang):
        if not entry.id:
            continue
        english = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        translated = " ".join(entry.string if isinstance(entry.string, tuple) else (entry.string,))
        for text in english:
            text = re.sub(r"<(code|samp)>.*?</\1>", "|", text)
            text = re.sub(r"<[^>]+>|%\([a-z0-9_]+\)s", "|", text)
            for fragment in re.split(r"[|()\"“”:;,.]", text):
                words = re.findall(r"[A-Za-z']+", fragment)
                phrase = " ".join(words)
                if len(words) >= 3 or (
                    len(words) == 1 and len(phrase) >= 6 and phrase[0].isupper()
                ):
                    if phrase.lower() not in translated.lower():
                        labels.append(phrase)
    return labels


def words_of(text: str) -> str:
    return " " + " ".join(re.findall(r"[A-Za-z']+", text)) + " "


@pytest.fixture(scope="session")
def small_case(site: AdSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("languages") / "evidence"
    env = {"LASTSEEN_SIGNING_KEY": str(store.parent / "signing-key.pem")}
    assert run_cli("keys", "init", store=store, **env).returncode == 0
    seeds, watch = store.parent / "seeds.txt", store.parent / "watch.yaml"
    seeds.write_text(f"{site.url('/gone')}\nhttp://127.0.0.1:9/\n")
    # Watched, due on every run: the second run stores what did not change as revisits.
    watch.write_text(f"- url: {site.url('/ad/1')}\n  case: {CASE}\n")
    runs = [["crawl", str(seeds), "--case", CASE], ["crawl", str(watch), "--due"]]
    captures = []
    for args in (*runs, runs[1]):
        proc = run_cli(*args, "--json", "--timeout", "8", store=store)
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        captures += [line for line in lines if "warc_sha256" in line]
    assert len(captures) == 4
    return {"store": store, "env": env, "captures": captures, "exports": {}, "bundles": {}}


def export(small_case: dict[str, Any], lang: str, **env: str) -> tuple[str, str, dict[str, int]]:
    """The report of the case in ``lang`` (HTML, PDF text, member sizes); exported once."""
    key = (lang, *sorted(env.items()))
    if key in small_case["exports"]:
        return small_case["exports"][key]
    out = small_case["store"].parent / f"{lang}-{len(small_case['exports'])}.zip"
    proc = run_cli("export", "--case", CASE, "--out", str(out), "--lang", lang,
                   store=small_case["store"], **small_case["env"], **env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as zf:
        html = zf.read("report.html").decode()
        sizes = {info.filename: info.file_size for info in zf.infolist()}
        (out.parent / f"{out.stem}.pdf").write_bytes(zf.read("report.pdf"))
    text = subprocess.run(["pdftotext", f"{out.stem}.pdf", "-"], cwd=out.parent,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    small_case["exports"][key] = html, text, sizes
    small_case["bundles"][key] = out
    return html, text, sizes


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pdf_report_has_no_english_label_left(small_case, lang):
    html, text, _ = export(small_case, lang)
    assert f'<html lang="{lang}">' in html
    said = words_of(text)
    left = sorted({label for label in english_labels(lang) if f" {label} " in said})
    assert left == []
    # What the captures showed, in the language: a revisit, a page nobody answered, no TSA.
    # (The first words only: pdftotext interleaves a table's columns line by line.)
    flat = " ".join(re.findall(r"\w+", text))
    for message in (
        "Identical, byte for byte, to that of capture %(other)s (%(at)s).",
        "%(count)s record of this capture is a revisit record, whose content is stored once, "
        "in an earlier capture's WARC file.",
        "the site could not be reached; the failed attempt is what was recorded",
        "No timestamp authority was configured when it was made.",
    ):
        translated = catalogue(lang)[message].string
        if isinstance(translated, tuple):
            translated = translated[-1]
        words = re.findall(r"\w+", re.sub(r"%\(\w+\)s", "", translated))
        assert " ".join(words[:3]) in flat, message


@pytest.mark.parametrize("lang", LANGUAGES)
def test_times_are_in_utc_and_brussels_time_and_numbers_in_the_language(small_case, lang):
    _, text, sizes = export(small_case, lang)
    flat = "".join(text.split())
    first = small_case["captures"][0]
    moment = datetime.fromisoformat(first["captured_at"]).astimezone(ZoneInfo("Europe/Brussels"))
    offset = moment.strftime("%z")
    local = f"{format_date(moment, 'long', locale=lang)} {moment:%H:%M:%S}"
    expected = f"{first['captured_at']} ({local} Europe/Brussels, UTC{offset[:3]}:{offset[3:]})"
    assert "".join(expected.split()) in flat
    # A size as the language writes it: 12.345 bytes, 12 345 octets, 12.345 Byte.
    unit = {"nl": "bytes", "fr": "octets", "de": "Byte"}[lang]
    warc = next(name for name, size in sizes.items() if name.endswith(".warc.gz"))
    assert sizes[warc] > 999
    assert "".join(f"({format_decimal(sizes[warc], locale=lang)} {unit})".split()) in flat


def test_the_time_zone_comes_from_lastseen_tz(small_case):
    html, text, _ = export(small_case, "en", LASTSEEN_TZ="America/New_York")
    assert "America/New_York, UTC-05:00)" in " ".join(text.split())
    assert "Europe/Brussels" not in html


def test_an_unknown_time_zone_or_language_is_refused_with_one_line(small_case, tmp_path):
    for args, env, message in (
        (["--lang", "xx"], {}, "no report template for language 'xx'; available: de, en, fr, nl"),
        (
            ["--lang", "nl"],
            {"LASTSEEN_TZ": "Europe/Atlantis"},
            "LASTSEEN_TZ='Europe/Atlantis' is not a time zone",
        ),
    ):
        out = tmp_path / "refused.zip"
        proc = run_cli("export", "--case", CASE, "--out", str(out), *args,
                       store=small_case["store"], **small_case["env"], **env)  # fmt: skip
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert message in proc.stderr and not out.exists()


def test_the_first_page_is_a_summary_sheet_whose_commands_confirm_the_seal(small_case):
    html, _, _ = export(small_case, "nl")
    bundle = small_case["bundles"][("nl",)]
    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", f"{bundle.stem}.pdf", "-"],
                                cwd=bundle.parent, capture_output=True, text=True,
                                check=True).stdout  # fmt: skip
    flat = "".join(first_page.split())
    for label in ("Zaak", "Wat werd vastgelegd", "Vastgelegd door", "Verzegeld door"):
        assert label.replace(" ", "") in flat
    assert CASE in flat and "test-operator" in flat and "Chromium" in flat
    assert "geeneigenelektronischehandtekening(PAdES)" in flat  # unsigned, and it says so
    for capture in small_case["captures"]:
        assert capture["url"] in flat
    folder = bundle.parent / "nl-unzipped"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    export_entry = json.loads((folder / "custody.jsonl").read_text().splitlines()[-1])
    assert export_entry["action"] == "export" and export_entry["hash"] in flat
    assert export_entry["details"]["content_sha256"] in flat
    sheet = html.split('<table class="facts sheet">', 1)[1].split("</table>", 1)[0]
    commands = html_module.unescape(re.search(r"<pre>(.*?)</pre>", sheet, re.DOTALL).group(1))
    printed = []
    for command in commands.splitlines()[2:]:  # after `lastseen verify` and `sha256sum -c`
        proc = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=folder,
                              capture_output=True, text=True, check=True)  # fmt: skip
        printed.append(proc.stdout.split()[0])
    assert printed == [export_entry["hash"], export_entry["details"]["content_sha256"]]


# -- the report PDF signed as PAdES ------------------------------------------------------------


def signer_env(test_ca: SealCa, tsa: LocalTsa) -> dict[str, str]:
    password = test_ca.folder / "seal-password"
    password.write_text(P12_PASSWORD + "\n")
    return {
        "LASTSEEN_PDF_SIGNER": str(test_ca.p12),
        "LASTSEEN_PDF_SIGNER_PASSWORD_FILE": str(password),
        "LASTSEEN_TSA_URLS": tsa.url("/tsa"),
        "LASTSEEN_TSA_CA": str(tsa.ca_pem),
    }


def signed_export(small_case, env: dict[str, str], name: str) -> tuple[Path, dict[str, Any]]:
    out = small_case["store"].parent / f"{name}.zip"
    proc = run_cli("export", "--case", CASE, "--out", str(out), "--lang", "nl", "--sign-pdf",
                   "--json", store=small_case["store"], **small_case["env"], **env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    folder = out.parent / name
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)
    return out, json.loads(proc.stdout)


def test_sign_pdf_signs_the_bundles_report_and_a_clerk_and_verify_can_check_it(
    small_case, test_ca, tsa
):
    bundle, summary = signed_export(small_case, signer_env(test_ca, tsa), "signed-p12")
    assert summary["pdf_signature"]["level"] == "B-LT"
    assert "Federal Police BXL evidence seal" in summary["pdf_signature"]["signer"]
    folder = bundle.parent / "signed-p12"
    pdf = folder / "report.pdf"
    sums = dict(
        reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines()
    )
    assert sums["report.pdf"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    # The clerk: pdfsig against an NSS database trusting the root, and pyHanko's CLI.
    out = subprocess.run(["pdfsig", "-nssdir", f"sql:{test_ca.nss}", str(pdf)],
                         capture_output=True, text=True).stdout  # fmt: skip
    assert "Signature is Valid." in out and "Certificate is Trusted." in out, out
    assert "Total document signed" in out
    (folder / "tsa-ca.pem").write_bytes(tsa.ca_pem.read_bytes())
    (folder / "root.pem").write_bytes(test_ca.root_pem.read_bytes())
    proc = subprocess.run(
        [str(BIN / "pyhanko"), "sign", "validate", "--pretty-print", "--trust", "root.pem",
         "--trust", "tsa-ca.pem", "report.pdf"],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The signature is judged VALID." in proc.stdout
    assert "The signature covers the entire file." in proc.stdout
    # The sheet says so, in Dutch.
    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "elektronische handtekening (PAdES)" in " ".join(first_page.split())
    # lastseen verify names the signer and the timestamp.
    proc = run_cli("verify", str(bundle), "--tsa-ca", str(tsa.ca_pem), "--key",
                   signer(small_case["env"]["LASTSEEN_SIGNING_KEY"]), store=small_case["store"])  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if "PDF signature" in line]
    assert line.startswith("OK") and "report.pdf" in line and "B-LT" in line
    assert "Federal Police BXL evidence seal" in line and "lastseen test TSA" in line


def test_a_flipped_byte_in_the_signed_report_fails_verify_naming_the_pdf(small_case, test_ca, tsa):
    bundle, _ = signed_export(small_case, signer_env(test_ca, tsa), "signed-flip")
    with zipfile.ZipFile(bundle) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    data = bytearray(members["report.pdf"])
    data[data.index(b"stream", len(data) // 10) + 20] ^= 0x01
    members["report.pdf"] = bytes(data)
    broken = bundle.parent / "signed-flip-broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    proc = run_cli("verify", str(broken), "--tsa-ca", str(tsa.ca_pem), "--key",
                   signer(small_case["env"]["LASTSEEN_SIGNING_KEY"]), store=small_case["store"])  # fmt: skip
    assert proc.returncode == 1
    (line,) = [line for line in proc.stdout.splitlines() if "PDF signature" in line]
    assert line.startswith("FAIL") and "changed after signing" in line


def test_a_key_on_a_pkcs11_token_signs_the_export(small_case, softhsm_token, test_ca, tsa):
    env = {
        **softhsm_token.env,
        "LASTSEEN_PDF_PKCS11": SOFTHSM, "LASTSEEN_PDF_PKCS11_TOKEN": TOKEN,
        "LASTSEEN_PDF_PKCS11_KEY": KEY, "LASTSEEN_PDF_PKCS11_PIN": PIN,
        "LASTSEEN_TSA_URLS": tsa.url("/tsa"), "LASTSEEN_TSA_CA": str(tsa.ca_pem),
    }  # fmt: skip
    bundle, summary = signed_export(small_case, env, "signed-token")
    assert summary["pdf_signature"]["level"] == "B-LT"
    assert softhsm_token.subject in summary["pdf_signature"]["signer"]
    out = subprocess.run(["pdfsig", "-nssdir", f"sql:{test_ca.nss}",
                          str(bundle.parent / "signed-token" / "report.pdf")],
                         capture_output=True, text=True).stdout  # fmt: skip
    assert "Signature is Valid." in out and "Certificate is Trusted." in out, out


def test_sign_pdf_without_a_signer_or_a_tsa_is_refused_with_one_line(small_case, test_ca, tmp_path):
    for env, message in (
        ({}, "--sign-pdf needs a signer: set LASTSEEN_PDF_SIGNER or LASTSEEN_PDF_PKCS11"),
        ({"LASTSEEN_PDF_SIGNER": str(test_ca.p12), "LASTSEEN_PDF_SIGNER_PASSWORD": P12_PASSWORD},
         "a PAdES signature needs a timestamp authority"),
    ):  # fmt: skip
        out = tmp_path / "refused.zip"
        proc = run_cli("export", "--case", CASE, "--out", str(out), "--sign-pdf",
                       store=small_case["store"], **small_case["env"], **env)  # fmt: skip
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert message in proc.stderr and not out.exists()
