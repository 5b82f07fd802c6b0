"""Export a case as one sealed evidence bundle (a ZIP; its layout is in ``archive.bundle.layout``).

Order of work: the captures, the WARCs they refer to (``archive.bundle.collect`` fetches and
checks them), and the WACZ; then the custody log gets one ``access`` entry per capture and the
``export`` entry (and an ``access`` entry for each referenced capture), committed before anything
that depends on them is written (``custody.jsonl``, the manifest, the report:
``archive.bundle.manifest``); then ``SHA256SUMS`` is signed and timestamped. Everything is
streamed through a work folder beside the output: memory use does not grow with the size of the
evidence. The ZIP is written under a temporary name and linked under its final name only when
complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.bundle import layout, report
from archive.bundle.collect import Collected, Collector, Progress, Referenced
from archive.bundle.keys import SigningKey
from archive.bundle.manifest import Contents, software
from archive.bundle.pdfsign import SignedPdf, SignerConfig, sign_pdf
from archive.bundle.tsa import Stamp, request_token
from archive.bundle.wacz import WaczWriter
from archive.catalog import custody
from archive.catalog.db import CaptureRow
from archive.chain import Entry
from archive.exceptions import ArchiveError, ExportError, InvalidRequest, TimestampError
from archive.seal.archive import Archive

EXPORT = "export"
EXPORT_FAILED = "export-failed"


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class ExportResult:
    path: Path
    size: int
    sha256: str
    captures: list[int]
    custody_seq: int
    custody_hash: str
    fingerprint: str
    timestamps: list[Stamp] = field(default_factory=list)
    timestamp_failures: list[dict[str, str]] = field(default_factory=list)
    pdf_signature: SignedPdf | None = None


def check_output(out: Path) -> Path:
    out = out.expanduser().absolute()
    if out.suffix.lower() != ".zip":
        raise InvalidRequest(f"--out must name a .zip file, not {out.name}")
    if not out.parent.is_dir():
        raise InvalidRequest(f"the folder {out.parent} does not exist")
    if out.exists() or out.is_symlink():
        raise InvalidRequest(f"{out} already exists; a bundle is never overwritten")
    return out


def check_tsa_urls(urls: Sequence[str]) -> list[str]:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidRequest(f"not a timestamp authority URL: {url!r} (LASTSEEN_TSA_URLS)")
    return list(urls)


def select_captures(archive: Archive, case: str, capture_ids: Sequence[int]) -> list[CaptureRow]:
    rows = archive.catalog.list(case_id=case)
    if not rows:
        raise InvalidRequest(f"case {case!r} has no captures")
    if not capture_ids:
        return rows
    by_id = {row.id: row for row in rows}
    for capture_id in capture_ids:
        if capture_id not in by_id:
            other = archive.catalog.get(capture_id)
            where = f"it belongs to case {other.case_id!r}" if other else "there is no such capture"
            raise InvalidRequest(f"capture {capture_id} is not in case {case!r}: {where}")
    return [by_id[i] for i in sorted(set(capture_ids))]


def export_case(
    archive: Archive,
    *,
    case: str,
    out: Path,
    key: SigningKey,
    capture_ids: Sequence[int] = (),
    lang: str = report.DEFAULT_LANGUAGE,
    tsa_urls: Sequence[str] = (),
    actor: str | None = None,
    progress: Progress | None = None,
    pdf_signer: SignerConfig | None = None,
) -> ExportResult:
    """Write the bundle of ``case`` (or of some of its captures) to ``out``.

    Raises InvalidRequest, before anything is written or logged, when the request cannot be
    carried out; ExportError when the evidence fails its checks or the bundle cannot be written.
    """
    out = check_output(out)
    report.check_language(lang)
    report.time_zone()  # a bad LASTSEEN_TZ is refused before anything is logged
    tsa_urls = check_tsa_urls(tsa_urls)
    if pdf_signer is not None:
        pdf_signer.check(tsa_urls)
    rows = select_captures(archive, case, capture_ids)
    job = _Export(archive, case, out, key, rows, lang, tsa_urls, actor, progress or _no_progress)
    job.pdf_signer = pdf_signer
    return job.run()


class _Export:
    def __init__(
        self,
        archive: Archive,
        case: str,
        out: Path,
        key: SigningKey,
        rows: list[CaptureRow],
        lang: str,
        tsa_urls: list[str],
        actor: str | None,
        progress: Progress,
    ) -> None:
        self.archive = archive
        self.case = case
        self.out = out
        self.key = key
        self.rows = rows
        self.lang = lang
        self.tsa_urls = tsa_urls
        self.actor = actor or archive.config.operator
        self.progress = progress
        # The latest moment any of these captures describes: the bundle's fixed file time.
        self.when = max(row.finished_at for row in rows)
        self.export_entry: Entry | None = None
        # The report PDF's PAdES signer, and the signature made, when there is one.
        self.pdf_signer: SignerConfig | None = None
        self.pdf_signature: SignedPdf | None = None

    def run(self) -> ExportResult:
        prefix = f".{self.out.name}."
        work = Path(tempfile.mkdtemp(prefix=prefix, suffix=".work", dir=self.out.parent))
        partial = work.with_suffix(".partial")
        try:
            with open(partial, "xb") as fh:
                zipped = layout.DeterministicZip(fh, self.when)
                try:
                    result = self._write(zipped, work)
                finally:
                    zipped.close()  # on failure too: the ZIP must not write into a closed file
                fh.flush()
                os.fsync(fh.fileno())
            _publish(partial, self.out)
        except BaseException as exc:
            partial.unlink(missing_ok=True)
            if self.export_entry is not None:
                self._log_failure(exc)
            if isinstance(exc, OSError):
                raise ExportError(f"cannot write the bundle: {exc}") from exc
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result.size = self.out.stat().st_size
        with open(self.out, "rb") as fh:
            result.sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
        return result

    def _write(self, zipped: layout.DeterministicZip, work: Path) -> ExportResult:
        wacz_path = work / "case.wacz"
        wacz = WaczWriter(str(wacz_path), f"Case {self.case}", self.when, software())
        collector = Collector(self.archive, self.case, self.rows, work, self.progress)
        total = sum(row.warc_size for row in self.rows)
        done = 0
        captures = []
        for row in self.rows:
            capture = collector.capture(row, done, total)
            self._add_capture(capture, zipped, wacz)
            collector.release(capture)
            captures.append(capture)
            done += row.warc_size
        referenced = collector.referenced_warcs()
        total += sum(ref.row.warc_size for ref in referenced)
        for ref in referenced:
            staged = collector.referenced_warc(ref, done, total)
            zipped.add_file(ref.member, str(staged), ref.row.warc_size)
            # The WACZ indexes only the records the captures refer to: the rest of that
            # capture is not this case's.
            wacz.add_warc(os.path.basename(ref.member), str(staged), ref.row.warc_size, ref.offsets)
            done += ref.row.warc_size
        collector.check_revisits_resolve(captures)
        self.progress("packaging the WACZ", done, total)
        wacz.close()
        contents = Contents(
            case=self.case,
            lang=self.lang,
            fingerprint=self.key.fingerprint,
            captures=captures,
            referenced=referenced,
            wacz=layout.wacz_name(self.case),
            when=self.when,
            tsa_configured=bool(self.tsa_urls),
        )
        zipped.add_file(contents.wacz, str(wacz_path), wacz_path.stat().st_size)
        wacz_path.unlink()
        zipped.add_bytes(layout.INDICATORS, self._indicators(captures, referenced))
        identifiers = self._identifiers()

        self.progress("recording the export in the custody log", done, total)
        entries = self._log_export(zipped.sums, captures, referenced)
        zipped.add_bytes(layout.CUSTODY, _jsonl(entries))
        assert self.export_entry is not None
        stamps, failures = self._seal(zipped, contents, entries, identifiers, work, done, total)
        self.progress("done", total, total)
        return ExportResult(
            path=self.out,
            size=0,
            sha256="",
            captures=[row.id for row in self.rows],
            custody_seq=self.export_entry.seq,
            custody_hash=self.export_entry.hash,
            fingerprint=self.key.fingerprint,
            timestamps=stamps,
            timestamp_failures=failures,
            pdf_signature=self.pdf_signature,
        )

    def _indicators(self, captures: list[Collected], referenced: list[Referenced]) -> bytes:
        """Derived data (DESIGN rule 8), labelled so, each row pointing into a WARC member."""
        from archive.derive.table import indicators_csv

        members = {c.row.warc_name: c.warc for c in captures}
        members.update({ref.row.warc_name: ref.member for ref in referenced})
        with self.archive.catalog.session() as s:
            return indicators_csv(s, [c.row for c in captures], members)

    def _identifiers(self) -> dict[str, Any]:
        """The report's section on identifiers: each with the captures that show it, and the
        captures not read for them."""
        from sqlalchemy import select

        from archive.catalog.findings import DerivedRow
        from archive.derive import links

        ids = [row.id for row in self.rows]
        with self.archive.catalog.session() as s:
            listed = links.listing(links.build(s, self.case, ids))
            query = (
                select(DerivedRow.capture_id)
                .join(CaptureRow, CaptureRow.id == DerivedRow.capture_id)
                .where(CaptureRow.case_id == self.case)
            )
            read = set(s.scalars(query))
        return {"listed": listed, "not_read": [i for i in ids if i not in read]}

    def _add_capture(
        self, capture: Collected, zipped: layout.DeterministicZip, wacz: WaczWriter
    ) -> None:
        """A capture's WARC and the files taken out of it, into the bundle; its WARC and its
        main page into the WACZ."""
        row = capture.row
        folder = layout.capture_dir(row.id)
        warc_name = os.path.basename(row.warc_name)
        members = {
            warc_name: capture.staged,
            **{capture.files[k].removeprefix(folder): p for k, p in capture.extracted.items()},
        }
        for name in sorted(members):
            path = members[name]
            compress = name.endswith((".html", ".json", ".pem"))
            zipped.add_file(folder + name, str(path), path.stat().st_size, compress)
        wacz.add_warc(warc_name, str(capture.staged), row.warc_size)
        main = row.records.get("main")
        if main:
            wacz.add_page(str(row.id), main["target"], row.captured_at, capture.title)

    def _seal(
        self,
        zipped: layout.DeterministicZip,
        contents: Contents,
        entries: list[Entry],
        identifiers: dict[str, Any],
        work: Path,
        done: int,
        total: int,
    ) -> tuple[list[Stamp], list[dict[str, str]]]:
        """The manifest, the report, SHA256SUMS, its signature and timestamps. A TSA that fails
        is left out and the manifest and report are made again, so that they say what the bundle
        holds; returns the timestamps and the failures."""
        assert self.export_entry is not None
        public_pem = self.key.public_pem
        fixed = dict(zipped.sums)
        fixed[layout.PUBLIC_KEY] = hashlib.sha256(public_pem).hexdigest()
        plan = list(self.tsa_urls)
        failures: list[dict[str, str]] = []
        while True:
            self.progress("writing the report", done, total)
            manifest = layout.canonical_json(contents.manifest(plan, failures))
            sums = dict(fixed, **{layout.MANIFEST: hashlib.sha256(manifest).hexdigest()})
            sizes = dict(zipped.sizes)
            sizes.update({layout.MANIFEST: len(manifest), layout.PUBLIC_KEY: len(public_pem)})
            model = contents.report_model(
                sizes, sums, entries, self.export_entry.seq, plan, failures
            )
            model["pdf_signed"] = self.pdf_signer is not None
            model["identifiers"] = identifiers
            report_html = report.render_html(model, self.lang).encode("utf-8")
            report_pdf = report.render_pdf(report_html.decode("utf-8"), work)
            if self.pdf_signer is not None:
                self.progress("signing the report PDF", done, total)
                self.pdf_signature = sign_pdf(
                    report_pdf,
                    self.pdf_signer,
                    case=self.case,
                    tsa_urls=plan or self.tsa_urls,
                    tsa_roots=self.pdf_signer.tsa_roots(),
                    translations=report.translations(self.lang),
                )
                report_pdf = self.pdf_signature.pdf
            sums[layout.REPORT_HTML] = hashlib.sha256(report_html).hexdigest()
            sums[layout.REPORT_PDF] = hashlib.sha256(report_pdf).hexdigest()
            sums_bytes = layout.format_sums(sums)
            stamps, failed = [], []
            for url in plan:
                self.progress(f"asking {url} for a timestamp", done, total)
                try:
                    stamps.append(request_token(url, sums_bytes))
                except TimestampError as exc:
                    failed.append({"tsa": url, "error": str(exc)})
            if not failed:
                break
            failures += failed
            plan = [url for url in plan if url not in {f["tsa"] for f in failed}]

        zipped.add_bytes(layout.MANIFEST, manifest)
        zipped.add_bytes(layout.REPORT_HTML, report_html)
        zipped.add_bytes(layout.REPORT_PDF, report_pdf, compress=False)
        zipped.add_bytes(layout.PUBLIC_KEY, public_pem)
        zipped.add_bytes(layout.SUMS, sums_bytes)
        zipped.add_bytes(layout.SIGNATURE, self.key.sign(sums_bytes), compress=False)
        for index, stamp in enumerate(stamps):
            zipped.add_bytes(layout.token_name(index), stamp.raw, compress=False)
        return stamps, failures

    # -- custody -------------------------------------------------------------------------------

    def _log_export(
        self, sums: dict[str, str], captures: list[Collected], referenced: list[Referenced]
    ) -> list[Entry]:
        """One ``access`` entry per capture and the ``export`` entry, in one transaction.

        The export entry lists (seq, hash) of every earlier entry the bundle carries, so the
        subset in custody.jsonl cannot be trimmed or padded without breaking its hash, and the
        WARC files each capture depends on, with the SHA-256 of those from outside the export.
        A referenced capture's WARC was read too: an ``access`` entry of that capture follows,
        naming this export by its number only (the other case need not learn this one's name).
        """
        ids = [row.id for row in self.rows]
        catalog = self.archive.catalog
        details: dict[str, Any] = {
            "case": self.case,
            "captures": ids,
            "bundle": self.out.name,
            "content_sha256": layout.content_digest(sums),
        }
        depends = {
            str(c.row.id): sorted(m for m in c.depends if m != c.warc)
            for c in captures
            if set(c.depends) - {c.warc}
        }
        if depends:
            details["depends_on"] = depends
        if referenced:
            details["referenced"] = {r.member: sums[r.member] for r in referenced}
        with catalog.session() as session:
            for row in self.rows:
                custody.append(
                    catalog,
                    session,
                    actor=self.actor,
                    action=custody.ACCESS,
                    capture_id=row.id,
                    details={"purpose": "export", "case": self.case, "bundle": self.out.name},
                )
            related = custody.related(session, ids, self.case)
            details["entries"] = [[entry.seq, entry.hash] for entry in related]
            self.export_entry = custody.append(
                catalog, session, actor=self.actor, action=EXPORT, details=details
            )
            for ref in sorted(referenced, key=lambda r: r.row.id):
                custody.append(
                    catalog,
                    session,
                    actor=self.actor,
                    action=custody.ACCESS,
                    capture_id=ref.row.id,
                    details={
                        "purpose": "export",
                        "as": "referenced",
                        "export_seq": self.export_entry.seq,
                        "warc_sha256": ref.row.warc_sha256,
                    },
                )
        return [*related, self.export_entry]

    def _log_failure(self, exc: BaseException) -> None:
        """The export entry is already in the log: say that its bundle was never made."""
        assert self.export_entry is not None
        try:
            with self.archive.catalog.session() as session:
                custody.append(
                    self.archive.catalog,
                    session,
                    actor=self.actor,
                    action=EXPORT_FAILED,
                    details={
                        "export_seq": self.export_entry.seq,
                        "bundle": self.out.name,
                        "error": str(exc) or type(exc).__name__,
                    },
                )
        except ArchiveError:
            pass  # the original failure is the one to report


def _jsonl(entries: list[Entry]) -> bytes:
    lines = [json.dumps(e.as_dict(), sort_keys=True, ensure_ascii=False) for e in entries]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _publish(partial: Path, final: Path) -> None:
    """Give the finished bundle its name; never replace a file that appeared meanwhile."""
    try:
        os.link(partial, final)
    except FileExistsError as exc:
        raise InvalidRequest(f"{final} appeared while exporting; it was left as it is") from exc
    partial.unlink()
