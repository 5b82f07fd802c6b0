"""Export a case as one sealed evidence bundle (a ZIP; its layout is in ``archive.bundle.layout``).

Everything is streamed: each WARC is read once from the store (through the store interface, so
any store works) into a work folder beside the output, checked against the catalog's SHA-256 and
its own record digests, and copied from there into the bundle and the WACZ. Memory use does not
grow with the size of the evidence.

A capture of a scheduled run may hold ``revisit`` records whose payload is in another capture's
WARC (``archive.warc.revisits``). Each such WARC is carried too: in that capture's own folder when
it is exported, else in ``captures/referenced/``; the files taken out of a capture are always the
original payload bytes, checked against the revisit's SHA-256 payload digest.

Order of work: the captures, the WARCs they refer to, and the WACZ; then the custody log gets one
``access`` entry per capture and the ``export`` entry (and an ``access`` entry for each referenced
capture), committed before anything that depends on them is written (``custody.jsonl``, the
manifest, the report); then ``SHA256SUMS`` is signed and timestamped. The ZIP is written under a
temporary name and linked under its final name only when complete.
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

from archive.bundle import layout, report
from archive.bundle.keys import SigningKey
from archive.bundle.tsa import Stamp, request_token
from archive.bundle.wacz import WaczWriter
from archive.catalog import custody
from archive.catalog.db import CaptureRow
from archive.catalog.payloads import Origin, locate
from archive.chain import Entry
from archive.exceptions import ArchiveError, ExportError, InvalidRequest, TimestampError
from archive.seal.archive import Archive
from archive.times import rfc3339, rfc3339_or_none
from archive.warc.reader import record_at
from archive.warc.reader import scan as scan_warc
from archive.warc.revisits import Revisit, print_of

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
    revisits: list[Revisit] = field(default_factory=list)
    # kind (main, screenshot, dom, pdf, tls-chain) -> the earlier record it is identical to
    identical: dict[str, dict[str, Any]] = field(default_factory=dict)
    # WARC member -> ids of the records in it that this capture needs
    depends: dict[str, set[str]] = field(default_factory=dict)
    pdf_print_of: dict[str, Any] | None = None


@dataclass
class _Referenced:
    """A WARC of a capture outside the export that exported captures refer to."""

    row: CaptureRow
    member: str
    offsets: set[int] = field(default_factory=set)
    records: set[str] = field(default_factory=set)


@dataclass
class _Scan:
    """What reading one WARC found: its files taken out, its revisits, its full records."""

    files: dict[str, Path] = field(default_factory=dict)  # kind -> extracted file
    revisit_kinds: dict[str, Revisit] = field(default_factory=dict)  # kind -> its revisit record
    revisits: list[Revisit] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # record id -> payload SHA-256
    offsets: dict[str, int] = field(default_factory=dict)  # record id -> offset


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
    report.time_zone()  # a bad LASTSEEN_TZ is refused before anything is logged
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
        self.export_entry: Entry | None = None
        self.selected = {row.id: row for row in rows}
        self.referenced: dict[str, _Referenced] = {}  # by store name
        # Checked copies of the WARCs that hold originals of revisits, by store name: many
        # captures of a scheduled run point into the same few files, fetched once per export.
        self.originals: dict[str, Path] = {}
        # Payload SHA-256 of every full record of every WARC in the bundle, by record id: what
        # each revisit must resolve to.
        self.digests: dict[str, str] = {}

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
        wacz = WaczWriter(str(wacz_path), f"Case {self.case}", self.when, _software())
        total = sum(row.warc_size for row in self.rows)
        done = 0
        for row in self.rows:
            self.captures.append(self._add_capture(row, zipped, wacz, work, done, total))
            done += row.warc_size
        total += sum(ref.row.warc_size for ref in self.referenced.values())
        for ref in sorted(self.referenced.values(), key=lambda r: r.member):
            self._add_referenced(ref, zipped, wacz, work, done, total)
            done += ref.row.warc_size
        self._check_revisits_resolve()
        self.progress("packaging the WACZ", done, total)
        wacz.close()
        wacz_member = layout.wacz_name(self.case)
        zipped.add_file(wacz_member, str(wacz_path), wacz_path.stat().st_size)
        wacz_path.unlink()

        self.progress("recording the export in the custody log", done, total)
        entries = self._log_export(zipped.sums)
        zipped.add_bytes(layout.CUSTODY, _jsonl(entries))
        public_pem = self.key.public_pem
        fixed = dict(zipped.sums)
        fixed[layout.PUBLIC_KEY] = hashlib.sha256(public_pem).hexdigest()

        plan = list(self.tsa_urls)
        failures: list[dict[str, str]] = []
        while True:
            self.progress("writing the report", done, total)
            manifest = layout.canonical_json(self._manifest(wacz_member, plan, failures))
            sums = dict(fixed, **{layout.MANIFEST: hashlib.sha256(manifest).hexdigest()})
            sizes = dict(zipped.sizes)
            sizes.update({layout.MANIFEST: len(manifest), layout.PUBLIC_KEY: len(public_pem)})
            model = self._report_model(wacz_member, sizes, sums, entries, plan, failures)
            report_html = report.render_html(model, self.lang).encode("utf-8")
            report_pdf = report.render_pdf(report_html.decode("utf-8"), work)
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
            # The report must say what the bundle holds: say it again without the failed TSAs.
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
        zipped: layout.DeterministicZip,
        wacz: WaczWriter,
        work: Path,
        done: int,
        total: int,
    ) -> _Capture:
        folder = layout.capture_dir(row.id)
        warc_name = os.path.basename(row.warc_name)
        capture = _Capture(row, folder + warc_name)
        staged = self.originals.get(row.warc_name)  # fetched already for an earlier capture
        if staged is None:
            staged = work / f"{row.id}.warc.gz"
            self._fetch(row, staged, done, total)
        scan = self._extract(row, staged, work / folder)
        self.digests.update(scan.digests)
        capture.revisits = scan.revisits
        if "provenance" in scan.files:
            capture.provenance = json.loads(scan.files["provenance"].read_bytes())
        origins = self._origins(row, scan)
        for revisit in scan.revisits:
            origin = origins[revisit.refers_to]
            capture.depends.setdefault(self._member(origin), set()).add(origin.record_id)
        for kind, revisit in scan.revisit_kinds.items():
            origin = origins[revisit.refers_to]
            holder = (
                staged
                if origin.warc_name == row.warc_name
                else self._original(self._owner(origin), work, done, total)
            )
            scan.files[kind] = self._copy_original(
                row, kind, revisit, origin, holder, work / folder
            )
        capture.identical = self._identical(row, scan, origins)
        capture.pdf_print_of = self._print_of(capture)
        extracted = scan.files
        members = {warc_name: staged, **{layout.EXTRACTED[k]: p for k, p in extracted.items()}}
        for name in sorted(members):
            path = members[name]
            compress = name.endswith((".html", ".json", ".pem"))
            zipped.add_file(folder + name, str(path), path.stat().st_size, compress)
        capture.files = {kind: folder + layout.EXTRACTED[kind] for kind in extracted}
        if "dom" in extracted:
            capture.title = _title(extracted["dom"])
        wacz.add_warc(warc_name, str(staged), row.warc_size)
        main = row.records.get("main")
        if main:
            wacz.add_page(str(row.id), main["target"], row.captured_at, capture.title)
        if row.warc_name not in self.originals:
            staged.unlink()
        for kind, path in extracted.items():
            if kind != "screenshot":  # the PDF report shows it; the work folder goes at the end
                path.unlink()
        return capture

    # -- revisits and the WARCs they refer to --------------------------------------------------

    def _origins(self, row: CaptureRow, scan: _Scan) -> dict[str, Origin]:
        """Where the original of each revisit of this capture is: in its own WARC (a payload
        repeated within the capture) or in the WARC the payload index names."""
        origins = {
            r.refers_to: Origin(r.refers_to, row.warc_name, scan.offsets[r.refers_to], row.id)
            for r in scan.revisits
            if r.refers_to in scan.offsets
        }
        elsewhere = [r for r in scan.revisits if r.refers_to not in origins]
        if elsewhere:
            with self.archive.catalog.session() as session:
                origins.update(locate(session, elsewhere))
        for revisit in scan.revisits:
            if revisit.refers_to not in origins:
                raise ExportError(
                    f"capture {row.id}: revisit record {revisit.record_id} of {row.warc_name} "
                    f"({revisit.target_uri}) refers to record {revisit.refers_to}, which the "
                    f"catalog's payload index does not locate: nothing was exported"
                )
        for origin in origins.values():
            if origin.capture_id not in self.selected:
                self._reference(origin, row)
        return origins

    def _member(self, origin: Origin) -> str:
        """The bundle member of the WARC that holds ``origin``."""
        if origin.capture_id in self.selected:
            row = self.selected[origin.capture_id]
            return layout.capture_dir(row.id) + os.path.basename(row.warc_name)
        return self.referenced[origin.warc_name].member

    def _reference(self, origin: Origin, by: CaptureRow) -> None:
        """Carry the WARC of a capture outside the export: ``by`` cannot be read without it."""
        source = self.referenced.get(origin.warc_name)
        if source is None:
            row = self.archive.catalog.get(origin.capture_id)
            if row is None or row.warc_name != origin.warc_name:
                raise ExportError(
                    f"capture {by.id} refers to record {origin.record_id} of "
                    f"{origin.warc_name}, which is not the WARC of a capture in the catalog: "
                    f"nothing was exported"
                )
            member = layout.REFERENCED + os.path.basename(row.warc_name)
            if any(r.member == member for r in self.referenced.values()):
                raise ExportError(f"two referenced WARC files are both named {member}")
            source = self.referenced[row.warc_name] = _Referenced(row, member)
        source.offsets.add(origin.offset)
        source.records.add(origin.record_id)

    def _owner(self, origin: Origin) -> CaptureRow:
        """The capture whose WARC holds ``origin`` (exported, or referenced by now)."""
        return self.selected.get(origin.capture_id) or self.referenced[origin.warc_name].row

    def _copy_original(
        self, row: CaptureRow, kind: str, revisit: Revisit, origin: Origin, warc: Path, folder: Path
    ) -> Path:
        """The file of a screenshot, DOM, PDF or TLS chain that is a revisit: the payload of the
        original in ``warc`` (a checked copy of the WARC that holds it), which must have the
        SHA-256 the revisit record states."""
        path = folder / layout.EXTRACTED[kind]
        digest = hashlib.sha256()
        try:
            with open(warc, "rb") as src, open(path, "xb") as out:
                record = record_at(src, origin.offset)
                record_id = record.id
                for chunk in record.chunks():
                    digest.update(chunk)
                    out.write(chunk)
        except ValueError as exc:
            raise ExportError(
                f"capture {row.id}: cannot read the original of its {kind} in "
                f"{origin.warc_name}: {exc}: nothing was exported"
            ) from exc
        sha256 = digest.hexdigest()
        if record_id != origin.record_id or sha256 != revisit.payload_sha256:
            raise ExportError(
                f"capture {row.id}: its {kind} is a revisit of record {origin.record_id} in "
                f"{origin.warc_name} with SHA-256 {revisit.payload_sha256}, but that file holds "
                f"{record_id} with SHA-256 {sha256} there: nothing was exported"
            )
        return path

    def _identical(
        self, row: CaptureRow, scan: _Scan, origins: dict[str, Origin]
    ) -> dict[str, dict[str, Any]]:
        """For each of the page, screenshot, DOM, PDF and TLS chain that is a revisit: the
        earlier record it is byte-identical to, and where that record is in the bundle."""
        revisits = {r.record_id: r for r in scan.revisits}
        found: dict[str, dict[str, Any]] = {}
        for kind in ("main", *sorted(layout.EXTRACTED)):
            ref = row.records.get(kind)
            revisit = revisits.get(ref.get("record_id", "")) if isinstance(ref, dict) else None
            if revisit is None:
                continue
            origin = origins[revisit.refers_to]
            exported = self.selected.get(origin.capture_id)
            owner = self._owner(origin)
            same_case = owner.case_id == self.case
            found[kind] = {
                "record_id": origin.record_id,
                "revisit": revisit.record_id,
                "sha256": revisit.payload_sha256,
                "warc": self._member(origin),
                "exported": exported is not None,
                "same_case": same_case,
                # Another case's capture is named by its WARC file only: its number, address
                # and case are that case's business.
                "capture": owner.id if same_case else None,
                "captured_at": rfc3339(owner.captured_at) if same_case else revisit.refers_to_date,
                "file": (
                    layout.capture_dir(owner.id) + layout.EXTRACTED[kind]
                    if exported is not None and kind in layout.EXTRACTED
                    else None
                ),
            }
        return found

    def _print_of(self, capture: _Capture) -> dict[str, Any] | None:
        """No PDF was printed because the page had not changed: whose print stands for it."""
        said = capture.provenance.get("pdf_not_printed")
        if not said:
            return None
        number = print_of(capture.provenance)
        other = self.selected.get(number) if number is not None else None
        if other is None and number is not None:
            other = self.archive.catalog.get(number)
        pdf = other.records.get("pdf") if other is not None else None
        if other is None or not isinstance(pdf, dict) or other.dom_sha256 != capture.row.dom_sha256:
            # The crawler's statement stands on its own; nothing in the catalog backs it.
            return {"said": said, "capture": None, "warc": None, "file": None}
        origin = Origin(str(pdf["record_id"]), other.warc_name, int(pdf["offset"]), other.id)
        if other.id not in self.selected:
            self._reference(origin, capture.row)
        member = self._member(origin)
        capture.depends.setdefault(member, set()).add(origin.record_id)
        exported = other.id in self.selected
        same_case = other.case_id == self.case
        return {
            "said": said,
            "capture": other.id if same_case else None,
            "captured_at": rfc3339(other.captured_at) if same_case else None,
            "same_case": same_case,
            "record_id": origin.record_id,
            "sha256": other.pdf_sha256,
            "warc": member,
            "file": layout.capture_dir(other.id) + layout.EXTRACTED["pdf"] if exported else None,
        }

    def _add_referenced(
        self,
        ref: _Referenced,
        zipped: layout.DeterministicZip,
        wacz: WaczWriter,
        work: Path,
        done: int,
        total: int,
    ) -> None:
        """A WARC the exported captures refer to, byte for byte, checked like theirs. The WACZ
        indexes only the records they refer to: the rest of that capture is not this case's."""
        staged = self._original(ref.row, work, done, total)
        scan = self._extract(ref.row, staged, None)
        self.digests.update(scan.digests)
        zipped.add_file(ref.member, str(staged), ref.row.warc_size)
        wacz.add_warc(os.path.basename(ref.member), str(staged), ref.row.warc_size, ref.offsets)

    def _check_revisits_resolve(self) -> None:
        """Every revisit of an exported capture points to a record in the bundle that holds a
        payload with the revisit's SHA-256: what ``lastseen verify`` will check."""
        for capture in self.captures:
            for revisit in capture.revisits:
                if self.digests.get(revisit.refers_to) != revisit.payload_sha256:
                    raise ExportError(
                        f"capture {capture.row.id}: revisit record {revisit.record_id} refers to "
                        f"record {revisit.refers_to}, which no WARC of the bundle holds with "
                        f"SHA-256 {revisit.payload_sha256}: nothing was exported"
                    )

    def _original(self, row: CaptureRow, work: Path, done: int, total: int) -> Path:
        """The checked copy of a WARC holding originals, fetched the first time it is needed and
        kept in the work folder (removed with it) for every later capture that points into it."""
        path = self.originals.get(row.warc_name)
        if path is None:
            path = work / f"original-{row.id}.warc.gz"
            self._fetch(row, path, done, total)
            self.originals[row.warc_name] = path
        return path

    def _fetch(self, row: CaptureRow, target: Path, done: int, total: int) -> None:
        """Copy the stored WARC here, checking it is the file the catalog sealed."""
        digest = hashlib.sha256()
        size = 0
        with self.archive.open_file(row.warc_name) as src, open(target, "xb") as dst:
            while chunk := src.read(layout.CHUNK):
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

    def _extract(self, row: CaptureRow, warc: Path, folder: Path | None) -> _Scan:
        """Check every record digest (as ``warcio check`` does), list the revisit records and
        the payload SHA-256 of every other record, and copy out the payloads of the screenshot,
        PDF, DOM, TLS chain and provenance records into ``folder`` (none: copy nothing). A kind
        written as a revisit is left for ``_copy_original``: the record holds no payload."""
        wanted = {
            ref["record_id"]: kind
            for kind, ref in row.records.items()
            if kind in layout.EXTRACTED and isinstance(ref, dict) and folder is not None
        }
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        scan = _Scan()
        with open(warc, "rb") as fh:
            for record in scan_warc(fh, check_digests=True):
                kind = wanted.get(record.id)
                revisit = Revisit.from_headers(record.headers)
                digest = hashlib.sha256()
                out = None
                if revisit is not None:
                    scan.revisits.append(revisit)
                    if kind is not None:
                        scan.revisit_kinds[kind] = revisit
                elif kind is not None and folder is not None:
                    scan.files[kind] = folder / layout.EXTRACTED[kind]
                    out = open(scan.files[kind], "xb")  # noqa: SIM115 - closed below
                try:
                    for chunk in record.chunks():
                        digest.update(chunk)
                        if out is not None:
                            out.write(chunk)
                finally:
                    if out is not None:
                        out.close()
                if revisit is None and record.type in ("response", "resource"):
                    scan.digests[record.id] = digest.hexdigest()
                    scan.offsets[record.id] = record.offset
                problems = record.digest_problems()
                if problems:
                    raise ExportError(
                        f"capture {row.id}: record {record.id} of {row.warc_name} fails its "
                        f"digest ({'; '.join(problems)}): nothing was exported"
                    )
        missing = set(wanted.values()) - set(scan.files) - set(scan.revisit_kinds)
        if missing:
            raise ExportError(
                f"capture {row.id}: {row.warc_name} lacks the records the catalog lists "
                f"({', '.join(sorted(missing))}): nothing was exported"
            )
        return scan

    # -- custody -------------------------------------------------------------------------------

    def _log_export(self, sums: dict[str, str]) -> list[Entry]:
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
            for c in self.captures
            if set(c.depends) - {c.warc}
        }
        if depends:
            details["depends_on"] = depends
        if self.referenced:
            details["referenced"] = {r.member: sums[r.member] for r in self.referenced.values()}
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
            for ref in sorted(self.referenced.values(), key=lambda r: r.row.id):
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
            "revisits": len(capture.revisits),
            "identical": capture.identical,
            "pdf_not_printed": capture.pdf_print_of,
        }

    def _manifest(
        self, wacz_member: str, plan: list[str], failures: list[dict[str, str]]
    ) -> dict[str, Any]:
        return {
            "format": layout.FORMAT,
            "case": self.case,
            "software": _software(),
            "language": self.lang,
            "signing_key": {"file": layout.PUBLIC_KEY, "sha256": self.key.fingerprint},
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
                    "depends_on": [
                        {"warc": member, "records": sorted(c.depends[member])}
                        for member in sorted(c.depends)
                        if member != c.warc
                    ],
                    "identical": c.identical,
                    "pdf_not_printed": c.pdf_print_of,
                }
                for c in self.captures
            ],
            "referenced": [
                {"warc": r.member, "sha256": r.row.warc_sha256, "size": r.row.warc_size}
                for r in sorted(self.referenced.values(), key=lambda r: r.member)
            ],
            "wacz": wacz_member,
            "custody": layout.CUSTODY,
            "timestamps": {
                "tokens": [
                    {"file": layout.token_name(i), "tsa": url} for i, url in enumerate(plan)
                ],
                "failed": failures,
            },
        }

    def _report_model(
        self,
        wacz_member: str,
        sizes: dict[str, int],
        sums: dict[str, str],
        entries: list[Entry],
        plan: list[str],
        failures: list[dict[str, str]],
    ) -> dict[str, Any]:
        listed = sorted(n for n in sums if n not in (layout.REPORT_HTML, layout.REPORT_PDF))
        owners = {c.warc: (c.row, True) for c in self.captures}
        owners.update({r.member: (r.row, False) for r in self.referenced.values()})
        captures = []
        for capture in self.captures:
            facts = self._capture_facts(capture)
            folder = layout.capture_dir(capture.row.id)
            facts["members"] = [
                {"name": n, "sha256": sums[n], "size": sizes[n]}
                for n in listed
                if n.startswith(folder)
            ]
            facts["dependencies"] = [
                {
                    "name": member,
                    "sha256": sums[member],
                    "size": sizes[member],
                    "records": len(capture.depends[member]),
                    "exported": owners[member][1],
                    "capture": (
                        owners[member][0].id if owners[member][0].case_id == self.case else None
                    ),
                }
                for member in sorted(capture.depends)
                if member != capture.warc
            ]
            captures.append(facts)
        referenced = [
            {
                "name": r.member,
                "capture": r.row.id if r.row.case_id == self.case else None,
                "by": [c.row.id for c in self.captures if r.member in c.depends],
            }
            for r in sorted(self.referenced.values(), key=lambda r: r.member)
        ]
        assert self.export_entry is not None
        return {
            "case": self.case,
            "software": _software(),
            "captures": captures,
            "first_capture": rfc3339(min(c.row.captured_at for c in self.captures)),
            "last_capture": rfc3339_or_none(self.when),
            "members": [{"name": n, "sha256": sums[n], "size": sizes[n]} for n in listed],
            "referenced": referenced,
            "wacz": wacz_member,
            "fingerprint": self.key.fingerprint,
            "custody": [_entry_view(e) for e in entries],
            "export_seq": self.export_entry.seq,
            "timestamps": [{"file": layout.token_name(i), "tsa": u} for i, u in enumerate(plan)],
            "timestamp_failures": failures,
            "tsa_configured": bool(self.tsa_urls),
            "names": {
                "sums": layout.SUMS,
                "signature": layout.SIGNATURE,
                "public_key": layout.PUBLIC_KEY,
                "custody": layout.CUSTODY,
                "manifest": layout.MANIFEST,
                "report_html": layout.REPORT_HTML,
                "report_pdf": layout.REPORT_PDF,
                "token": layout.token_name(0),
                "referenced": layout.REFERENCED,
            },
        }


def _entry_view(entry: Entry) -> dict[str, Any]:
    view = entry.as_dict()
    view["details_json"] = json.dumps(entry.details, sort_keys=True, ensure_ascii=False)
    return view


def _jsonl(entries: list[Entry]) -> bytes:
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
