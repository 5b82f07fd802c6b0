"""Export a case as one sealed evidence bundle (a ZIP; its layout is in ``archive.bundle``).

Everything is streamed: each WARC is read once from the store (through the store interface, so
any store works) into a work folder beside the output, checked against the catalog's SHA-256 and
its own record digests, and copied from there into the bundle and the WACZ. Memory use does not
grow with the size of the evidence.

Order of work: the captures and the WACZ; then the custody log gets one ``access`` entry per
capture and the ``export`` entry, committed before anything that depends on them is written
(``custody.jsonl``, the manifest, the report); then ``SHA256SUMS`` is signed and timestamped. The
ZIP is written under a temporary name and linked under its final name only when complete.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from archive import bundle, custody, report
from archive.catalog import CaptureRow, CustodyRow
from archive.evidence import Archive
from archive.exceptions import ArchiveError, ExportError, InvalidRequest, TimestampError
from archive.keys import SigningKey
from archive.times import rfc3339, rfc3339_or_none
from archive.timestamp import Stamp, request_token
from archive.wacz import WaczWriter

EXPORT = "export"
EXPORT_FAILED = "export-failed"

# (what is happening, bytes done, bytes in all; 0 in all when it cannot be counted)
Progress = Callable[[str, int, int], None]


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


@dataclass
class _Capture:
    """One capture as it goes into the bundle."""

    row: CaptureRow
    warc: str  # member name
    files: dict[str, str] = field(default_factory=dict)  # kind -> member name
    provenance: dict[str, Any] = field(default_factory=dict)
    title: str | None = None


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
) -> ExportResult:
    """Write the bundle of ``case`` (or of some of its captures) to ``out``.

    Raises InvalidRequest, before anything is written or logged, when the request cannot be
    carried out; ExportError when the evidence fails its checks or the bundle cannot be written.
    """
    out = check_output(out)
    report.check_language(lang)
    tsa_urls = check_tsa_urls(tsa_urls)
    rows = select_captures(archive, case, capture_ids)
    job = _Export(archive, case, out, key, rows, lang, tsa_urls, actor, progress or _no_progress)
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
        self.captures: list[_Capture] = []
        self.export_entry: custody.Entry | None = None

    def run(self) -> ExportResult:
        prefix = f".{self.out.name}."
        work = Path(tempfile.mkdtemp(prefix=prefix, suffix=".work", dir=self.out.parent))
        partial = work.with_suffix(".partial")
        try:
            with open(partial, "xb") as fh:
                zipped = bundle.DeterministicZip(fh, self.when)
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

    def _write(self, zipped: bundle.DeterministicZip, work: Path) -> ExportResult:
        wacz_path = work / "case.wacz"
        wacz = WaczWriter(str(wacz_path), f"Case {self.case}", self.when, _software())
        total = sum(row.warc_size for row in self.rows)
        done = 0
        for row in self.rows:
            self.captures.append(self._add_capture(row, zipped, wacz, work, done, total))
            done += row.warc_size
        self.progress("packaging the WACZ", done, total)
        wacz.close()
        wacz_member = bundle.wacz_name(self.case)
        zipped.add_file(wacz_member, str(wacz_path), wacz_path.stat().st_size)
        wacz_path.unlink()

        self.progress("recording the export in the custody log", done, total)
        entries = self._log_export(bundle.content_digest(zipped.sums))
        zipped.add_bytes(bundle.CUSTODY, _jsonl(entries))
        public_pem = self.key.public_pem
        fixed = dict(zipped.sums)
        fixed[bundle.PUBLIC_KEY] = hashlib.sha256(public_pem).hexdigest()

        plan = list(self.tsa_urls)
        failures: list[dict[str, str]] = []
        while True:
            self.progress("writing the report", done, total)
            manifest = bundle.canonical_json(self._manifest(wacz_member, plan, failures))
            sums = dict(fixed, **{bundle.MANIFEST: hashlib.sha256(manifest).hexdigest()})
            sizes = dict(zipped.sizes)
            sizes.update({bundle.MANIFEST: len(manifest), bundle.PUBLIC_KEY: len(public_pem)})
            model = self._report_model(wacz_member, sizes, sums, entries, plan, failures)
            report_html = report.render_html(model, self.lang).encode("utf-8")
            report_pdf = report.render_pdf(report_html.decode("utf-8"), work)
            sums[bundle.REPORT_HTML] = hashlib.sha256(report_html).hexdigest()
            sums[bundle.REPORT_PDF] = hashlib.sha256(report_pdf).hexdigest()
            sums_bytes = bundle.format_sums(sums)
            stamps, failed = [], []
            for url in plan:
                self.progress(f"asking {url} for a timestamp", done, total)
                try:
                    stamps.append(request_token(url, sums_bytes))
                except TimestampError as exc:
                    failed.append({"tsa": url, "error": str(exc)})
            if not failed:
                break
            # The report must say what the bundle holds: say it again without the failed TSAs.
            failures += failed
            plan = [url for url in plan if url not in {f["tsa"] for f in failed}]

        zipped.add_bytes(bundle.MANIFEST, manifest)
        zipped.add_bytes(bundle.REPORT_HTML, report_html)
        zipped.add_bytes(bundle.REPORT_PDF, report_pdf, compress=False)
        zipped.add_bytes(bundle.PUBLIC_KEY, public_pem)
        zipped.add_bytes(bundle.SUMS, sums_bytes)
        zipped.add_bytes(bundle.SIGNATURE, self.key.sign(sums_bytes), compress=False)
        for index, stamp in enumerate(stamps):
            zipped.add_bytes(bundle.token_name(index), stamp.raw, compress=False)
        self.progress("done", total, total)
        assert self.export_entry is not None
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
        )

    # -- captures ------------------------------------------------------------------------------

    def _add_capture(
        self,
        row: CaptureRow,
        zipped: bundle.DeterministicZip,
        wacz: WaczWriter,
        work: Path,
        done: int,
        total: int,
    ) -> _Capture:
        folder = bundle.capture_dir(row.id)
        warc_name = os.path.basename(row.warc_name)
        capture = _Capture(row, folder + warc_name)
        staged = work / f"{row.id}.warc.gz"
        self._fetch(row, staged, done, total)
        extracted = self._extract(row, staged, work / folder)
        members = {warc_name: staged, **{bundle.EXTRACTED[k]: p for k, p in extracted.items()}}
        for name in sorted(members):
            path = members[name]
            compress = name.endswith((".html", ".json", ".pem"))
            zipped.add_file(folder + name, str(path), path.stat().st_size, compress)
        capture.files = {kind: folder + bundle.EXTRACTED[kind] for kind in extracted}
        if "provenance" in extracted:
            capture.provenance = json.loads(extracted["provenance"].read_bytes())
        if "dom" in extracted:
            capture.title = _title(extracted["dom"])
        wacz.add_warc(warc_name, str(staged), row.warc_size)
        main = row.records.get("main")
        if main:
            wacz.add_page(str(row.id), main["target"], row.captured_at, capture.title)
        staged.unlink()
        for kind, path in extracted.items():
            if kind != "screenshot":  # the PDF report shows it; the work folder goes at the end
                path.unlink()
        return capture

    def _fetch(self, row: CaptureRow, target: Path, done: int, total: int) -> None:
        """Copy the stored WARC here, checking it is the file the catalog sealed."""
        digest = hashlib.sha256()
        size = 0
        with self.archive.open_file(row.warc_name) as src, open(target, "xb") as dst:
            while chunk := src.read(bundle.CHUNK):
                dst.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                self.progress(f"capture {row.id}", done + size, total)
        if digest.hexdigest() != row.warc_sha256 or size != row.warc_size:
            raise ExportError(
                f"capture {row.id}: the stored file {row.warc_name} is not the one sealed "
                f"(SHA-256 {digest.hexdigest()}, {size} bytes; the catalog says "
                f"{row.warc_sha256}, {row.warc_size} bytes): nothing was exported"
            )

    def _extract(self, row: CaptureRow, warc: Path, folder: Path) -> dict[str, Path]:
        """Check every record digest (as ``warcio check`` does) and copy out the payloads of the
        screenshot, PDF, DOM, TLS chain and provenance records."""
        wanted = {
            ref["record_id"]: kind
            for kind, ref in row.records.items()
            if kind in bundle.EXTRACTED and isinstance(ref, dict)
        }
        folder.mkdir(parents=True, exist_ok=True)
        found: dict[str, Path] = {}
        with open(warc, "rb") as fh:
            for record in ArchiveIterator(fh, check_digests=True):
                record_id = record.rec_headers.get_header("WARC-Record-ID")
                kind = wanted.get(record_id)
                stream = record.content_stream()
                if kind is None:
                    while stream.read(bundle.CHUNK):
                        pass
                else:
                    path = folder / bundle.EXTRACTED[kind]
                    with open(path, "xb") as out:
                        bundle.copy_stream(stream, out)
                    found[kind] = path
                if record.digest_checker.passed is False:
                    problems = "; ".join(record.digest_checker.problems)
                    raise ExportError(
                        f"capture {row.id}: record {record_id} of {row.warc_name} fails its "
                        f"digest ({problems}): nothing was exported"
                    )
        missing = set(wanted.values()) - set(found)
        if missing:
            raise ExportError(
                f"capture {row.id}: {row.warc_name} lacks the records the catalog lists "
                f"({', '.join(sorted(missing))}): nothing was exported"
            )
        return found

    # -- custody -------------------------------------------------------------------------------

    def _log_export(self, content_sha256: str) -> list[custody.Entry]:
        """One ``access`` entry per capture and the ``export`` entry, in one transaction.

        The export entry lists (seq, hash) of every earlier entry the bundle carries, so the
        subset in custody.jsonl cannot be trimmed or padded without breaking its hash.
        """
        ids = [row.id for row in self.rows]
        catalog = self.archive.catalog
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
            related = _related_entries(session, ids)
            self.export_entry = custody.append(
                catalog,
                session,
                actor=self.actor,
                action=EXPORT,
                details={
                    "case": self.case,
                    "captures": ids,
                    "bundle": self.out.name,
                    "content_sha256": content_sha256,
                    "entries": [[entry.seq, entry.hash] for entry in related],
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

    # -- manifest and report -------------------------------------------------------------------

    def _capture_facts(self, capture: _Capture) -> dict[str, Any]:
        row, prov = capture.row, capture.provenance
        return {
            "id": row.id,
            "url": row.url,
            "final_url": row.final_url,
            "http_status": row.http_status,
            "outcome": row.outcome,
            "error": row.error,
            "captured_at": rfc3339(row.captured_at),
            "finished_at": rfc3339(row.finished_at),
            "warc": capture.warc,
            "warc_sha256": row.warc_sha256,
            "files": capture.files,
            "title": capture.title,
            "server_ip": prov.get("server_ip"),
            "tls": prov.get("tls"),
            "redirect_chain": prov.get("redirect_chain") or [],
            "operator": prov.get("operator") or row.operator,
            "software": prov.get("software") or row.software,
            "browser": prov.get("browser") or row.browser,
            "user_agent": prov.get("user_agent"),
            "note": row.note,
            "network_idle": prov.get("network_idle"),
            "problems": prov.get("problems") or [],
            "failed_or_blocked": prov.get("failed_or_blocked") or [],
            "payload_sha256": row.payload_sha256,
            "exchanges": row.exchanges,
        }

    def _manifest(
        self, wacz_member: str, plan: list[str], failures: list[dict[str, str]]
    ) -> dict[str, Any]:
        return {
            "format": bundle.FORMAT,
            "case": self.case,
            "software": _software(),
            "language": self.lang,
            "signing_key": {"file": bundle.PUBLIC_KEY, "sha256": self.key.fingerprint},
            "captures": [
                {
                    "id": c.row.id,
                    "url": c.row.url,
                    "final_url": c.row.final_url,
                    "captured_at": rfc3339(c.row.captured_at),
                    "finished_at": rfc3339(c.row.finished_at),
                    "http_status": c.row.http_status,
                    "outcome": c.row.outcome,
                    "warc": c.warc,
                    "warc_sha256": c.row.warc_sha256,
                    "files": c.files,
                }
                for c in self.captures
            ],
            "wacz": wacz_member,
            "custody": bundle.CUSTODY,
            "timestamps": {
                "tokens": [
                    {"file": bundle.token_name(i), "tsa": url} for i, url in enumerate(plan)
                ],
                "failed": failures,
            },
        }

    def _report_model(
        self,
        wacz_member: str,
        sizes: dict[str, int],
        sums: dict[str, str],
        entries: list[custody.Entry],
        plan: list[str],
        failures: list[dict[str, str]],
    ) -> dict[str, Any]:
        listed = sorted(n for n in sums if n not in (bundle.REPORT_HTML, bundle.REPORT_PDF))
        captures = []
        for capture in self.captures:
            facts = self._capture_facts(capture)
            folder = bundle.capture_dir(capture.row.id)
            facts["members"] = [
                {"name": n, "sha256": sums[n], "size": sizes[n]}
                for n in listed
                if n.startswith(folder)
            ]
            captures.append(facts)
        assert self.export_entry is not None
        return {
            "case": self.case,
            "software": _software(),
            "captures": captures,
            "first_capture": rfc3339(min(c.row.captured_at for c in self.captures)),
            "last_capture": rfc3339_or_none(self.when),
            "members": [{"name": n, "sha256": sums[n], "size": sizes[n]} for n in listed],
            "wacz": wacz_member,
            "fingerprint": self.key.fingerprint,
            "custody": [_entry_view(e) for e in entries],
            "export_seq": self.export_entry.seq,
            "timestamps": [{"file": bundle.token_name(i), "tsa": u} for i, u in enumerate(plan)],
            "timestamp_failures": failures,
            "tsa_configured": bool(self.tsa_urls),
            "names": {
                "sums": bundle.SUMS,
                "signature": bundle.SIGNATURE,
                "public_key": bundle.PUBLIC_KEY,
                "custody": bundle.CUSTODY,
                "manifest": bundle.MANIFEST,
                "report_html": bundle.REPORT_HTML,
                "report_pdf": bundle.REPORT_PDF,
                "token": bundle.token_name(0),
            },
        }


def _related_entries(session: Session, capture_ids: list[int]) -> list[custody.Entry]:
    """Entries about these captures, and earlier exports that included any of them."""
    wanted = set(capture_ids)
    rows = session.scalars(
        select(CustodyRow)
        .where(CustodyRow.capture_id.in_(capture_ids) | CustodyRow.capture_id.is_(None))
        .order_by(CustodyRow.seq)
    )
    return [
        custody.Entry.from_row(row)
        for row in rows
        if row.capture_id is not None or wanted & set(row.details.get("captures") or [])
    ]


def _entry_view(entry: custody.Entry) -> dict[str, Any]:
    view = entry.as_dict()
    view["details_json"] = json.dumps(entry.details, sort_keys=True, ensure_ascii=False)
    return view


def _jsonl(entries: list[custody.Entry]) -> bytes:
    lines = [json.dumps(e.as_dict(), sort_keys=True, ensure_ascii=False) for e in entries]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _title(dom: Path) -> str | None:
    with open(dom, "rb") as fh:
        head = fh.read(1 << 18).decode("utf-8", "replace")
    match = re.search(r"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    title = " ".join(html.unescape(match.group(1)).split())
    return title[:300] or None


def _software() -> str:
    from archive import __version__

    return f"lastseen {__version__}"


def _publish(partial: Path, final: Path) -> None:
    """Give the finished bundle its name; never replace a file that appeared meanwhile."""
    try:
        os.link(partial, final)
    except FileExistsError as exc:
        raise InvalidRequest(f"{final} appeared while exporting; it was left as it is") from exc
    partial.unlink()
