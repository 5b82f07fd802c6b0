"""Collecting a case's evidence for its bundle: each WARC fetched from the store and checked,
the files taken out of it, its revisits resolved, and the WARCs of other captures they refer to.

Everything is streamed: each WARC is read once from the store (through the store interface, so
any store works) into a work folder, checked against the catalog's SHA-256 and its own record
digests, and the export copies it from there into the bundle and the WACZ.

A capture of a scheduled run may hold ``revisit`` records whose payload is in another capture's
WARC (``archive.warc.revisits``). Each such WARC is carried too: in that capture's own folder when
it is exported, else in ``captures/referenced/``; the files taken out of a capture are always the
original payload bytes, checked against the revisit's SHA-256 payload digest.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.bundle import layout, media
from archive.catalog.db import CaptureRow
from archive.catalog.payloads import Origin, locate
from archive.exceptions import ExportError
from archive.seal.archive import Archive
from archive.times import rfc3339
from archive.warc.reader import record_at, scan
from archive.warc.revisits import Revisit, print_of

# (what is happening, bytes done, bytes in all; 0 in all when it cannot be counted)
Progress = Callable[[str, int, int], None]


@dataclass
class Collected:
    """One capture as it goes into the bundle."""

    row: CaptureRow
    warc: str  # member name
    staged: Path  # the checked copy of its WARC, in the work folder
    files: dict[str, str] = field(default_factory=dict)  # kind -> member name
    extracted: dict[str, Path] = field(default_factory=dict)  # kind -> file in the work folder
    provenance: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    revisits: list[Revisit] = field(default_factory=list)
    # kind (main, screenshot, dom, pdf, tls-chain) -> the earlier record it is identical to
    identical: dict[str, dict[str, Any]] = field(default_factory=dict)
    # WARC member -> ids of the records in it that this capture needs
    depends: dict[str, set[str]] = field(default_factory=dict)
    pdf_print_of: dict[str, Any] | None = None
    videos: list[dict[str, Any]] = field(default_factory=list)  # complete copies (issue 13)


@dataclass
class Referenced:
    """A WARC of a capture outside the export that exported captures refer to."""

    row: CaptureRow
    member: str
    offsets: set[int] = field(default_factory=set)
    records: set[str] = field(default_factory=set)


@dataclass
class _Found:
    """What reading one WARC found: its files taken out, its revisits, its full records."""

    files: dict[str, Path] = field(default_factory=dict)  # kind -> extracted file
    revisit_kinds: dict[str, Revisit] = field(default_factory=dict)  # kind -> its revisit record
    revisits: list[Revisit] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # record id -> payload SHA-256
    offsets: dict[str, int] = field(default_factory=dict)  # record id -> offset


class Collector:
    """Gathers a bundle's evidence capture by capture into the work folder, remembering across
    captures which WARCs hold originals and what every record's payload digest is."""

    def __init__(
        self,
        archive: Archive,
        case: str,
        rows: list[CaptureRow],
        work: Path,
        progress: Progress,
    ) -> None:
        self.archive = archive
        self.case = case
        self.work = work
        self.progress = progress
        self.selected = {row.id: row for row in rows}
        self.referenced: dict[str, Referenced] = {}  # by store name
        # Checked copies of the WARCs that hold originals of revisits, by store name: many
        # captures of a scheduled run point into the same few files, fetched once per export.
        self.originals: dict[str, Path] = {}
        # Payload SHA-256 of every full record of every WARC in the bundle, by record id: what
        # each revisit must resolve to.
        self.digests: dict[str, str] = {}

    def capture(self, row: CaptureRow, done: int, total: int) -> Collected:
        """One capture: its WARC fetched and checked, its files taken out (a file written as a
        revisit: the original's payload), where each of its revisits resolves."""
        folder = layout.capture_dir(row.id)
        staged = self.originals.get(row.warc_name)  # fetched already for an earlier capture
        if staged is None:
            staged = self.work / f"{row.id}.warc.gz"
            self._fetch(row, staged, done, total)
        capture = Collected(row, folder + os.path.basename(row.warc_name), staged)
        found = self._extract(row, staged, self.work / folder)
        self.digests.update(found.digests)
        capture.revisits = found.revisits
        if "provenance" in found.files:
            capture.provenance = json.loads(found.files["provenance"].read_bytes())
        origins = self._origins(row, found)
        for revisit in found.revisits:
            origin = origins[revisit.refers_to]
            capture.depends.setdefault(self._member(origin), set()).add(origin.record_id)
        for kind, revisit in found.revisit_kinds.items():
            origin = origins[revisit.refers_to]
            holder = (
                staged
                if origin.warc_name == row.warc_name
                else self._original(self._owner(origin), done, total)
            )
            found.files[kind] = self._copy_original(
                row, kind, revisit, origin, holder, self.work / folder
            )
        capture.identical = self._identical(row, found.revisits, origins)
        capture.pdf_print_of = self._print_of(capture)
        every = media.add_keyframes(found.files)
        capture.extracted = found.files
        capture.files = {
            kind: folder + (_name(kind, row.records.get(kind)) or kind) for kind in found.files
        }
        capture.videos = media.videos(folder, found.files, every)
        if "dom" in found.files:
            capture.title = _title(found.files["dom"])
        return capture

    def release(self, capture: Collected) -> None:
        """Its files are in the bundle: remove them from the work folder, but for a WARC that
        later captures point into and the screenshot (the PDF report shows it; the work folder
        goes at the end)."""
        if capture.row.warc_name not in self.originals:
            capture.staged.unlink()
        for kind, path in capture.extracted.items():
            if kind != "screenshot" and not kind.startswith("keyframes#"):
                path.unlink()

    def referenced_warcs(self) -> list[Referenced]:
        """The WARCs of captures outside the export that the collected captures refer to."""
        return sorted(self.referenced.values(), key=lambda r: r.member)

    def referenced_warc(self, ref: Referenced, done: int, total: int) -> Path:
        """A WARC the collected captures refer to, byte for byte, checked like theirs."""
        staged = self._original(ref.row, done, total)
        found = self._extract(ref.row, staged, None)
        self.digests.update(found.digests)
        return staged

    def check_revisits_resolve(self, captures: list[Collected]) -> None:
        """Every revisit of an exported capture points to a record in the bundle that holds a
        payload with the revisit's SHA-256: what ``lastseen verify`` will check."""
        for capture in captures:
            for revisit in capture.revisits:
                if self.digests.get(revisit.refers_to) != revisit.payload_sha256:
                    raise ExportError(
                        f"capture {capture.row.id}: revisit record {revisit.record_id} refers to "
                        f"record {revisit.refers_to}, which no WARC of the bundle holds with "
                        f"SHA-256 {revisit.payload_sha256}: nothing was exported"
                    )

    # -- revisits and the WARCs they refer to ------------------------------------------------------

    def _origins(self, row: CaptureRow, found: _Found) -> dict[str, Origin]:
        """Where the original of each revisit of this capture is: in its own WARC (a payload
        repeated within the capture) or in the WARC the payload index names."""
        origins = {
            r.refers_to: Origin(r.refers_to, row.warc_name, found.offsets[r.refers_to], row.id)
            for r in found.revisits
            if r.refers_to in found.offsets
        }
        elsewhere = [r for r in found.revisits if r.refers_to not in origins]
        if elsewhere:
            with self.archive.catalog.session() as session:
                origins.update(locate(session, elsewhere))
        for revisit in found.revisits:
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
            source = self.referenced[row.warc_name] = Referenced(row, member)
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
        self, row: CaptureRow, revisit_records: list[Revisit], origins: dict[str, Origin]
    ) -> dict[str, dict[str, Any]]:
        """For each of the page, screenshot, DOM, PDF and TLS chain that is a revisit: the
        earlier record it is byte-identical to, and where that record is in the bundle."""
        revisits = {r.record_id: r for r in revisit_records}
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

    def _print_of(self, capture: Collected) -> dict[str, Any] | None:
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

    # -- fetching and reading WARCs ----------------------------------------------------------------

    def _original(self, row: CaptureRow, done: int, total: int) -> Path:
        """The checked copy of a WARC holding originals, fetched the first time it is needed and
        kept in the work folder (removed with it) for every later capture that points into it."""
        path = self.originals.get(row.warc_name)
        if path is None:
            path = self.work / f"original-{row.id}.warc.gz"
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

    def _extract(self, row: CaptureRow, warc: Path, folder: Path | None) -> _Found:
        """Check every record digest (as ``warcio check`` does), list the revisit records and
        the payload SHA-256 of every other record, and copy out the payloads of the screenshot,
        PDF, DOM, TLS chain and provenance records into ``folder`` (none: copy nothing). A kind
        written as a revisit is left for ``_copy_original``: the record holds no payload."""
        wanted = {
            ref["record_id"]: kind
            for kind, ref in row.records.items()
            if _name(kind, ref) and isinstance(ref, dict) and folder is not None
        }
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            if any(media.member_name(kind, None) for kind in wanted.values()):
                (folder / media.MEDIA).mkdir(exist_ok=True)
        found = _Found()
        with open(warc, "rb") as fh:
            for record in scan(fh, check_digests=True):
                kind = wanted.get(record.id)
                revisit = Revisit.from_headers(record.headers)
                digest = hashlib.sha256()
                out = None
                if revisit is not None:
                    found.revisits.append(revisit)
                    if kind is not None:
                        found.revisit_kinds[kind] = revisit
                elif kind is not None and folder is not None:
                    found.files[kind] = folder / (_name(kind, row.records[kind]) or kind)
                    out = open(found.files[kind], "xb")  # noqa: SIM115 - closed below
                try:
                    for chunk in record.chunks():
                        digest.update(chunk)
                        if out is not None:
                            out.write(chunk)
                finally:
                    if out is not None:
                        out.close()
                if revisit is None and record.type in ("response", "resource"):
                    found.digests[record.id] = digest.hexdigest()
                    found.offsets[record.id] = record.offset
                problems = record.digest_problems()
                if problems:
                    raise ExportError(
                        f"capture {row.id}: record {record.id} of {row.warc_name} fails its "
                        f"digest ({'; '.join(problems)}): nothing was exported"
                    )
        missing = set(wanted.values()) - set(found.files) - set(found.revisit_kinds)
        if missing:
            raise ExportError(
                f"capture {row.id}: {row.warc_name} lacks the records the catalog lists "
                f"({', '.join(sorted(missing))}): nothing was exported"
            )
        return found


def _name(kind: str, ref: Any) -> str | None:
    """The file a record kind is taken out to, in its capture's folder."""
    return layout.EXTRACTED.get(kind) or media.member_name(kind, ref)


def _title(dom: Path) -> str | None:
    with open(dom, "rb") as fh:
        head = fh.read(1 << 18).decode("utf-8", "replace")
    match = re.search(r"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    title = " ".join(html.unescape(match.group(1)).split())
    return title[:300] or None
