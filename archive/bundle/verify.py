"""Check an evidence bundle offline: one line per check, naming the file that fails.

Checks, in order: every hash in SHA256SUMS (and that nothing unlisted was added), the operator's
signature and whether its key is one the caller trusts, every WARC record digest (as ``warcio
check`` does), that every revisit record of a capture points to a record in the bundle with the
payload digest it states and that every WARC a capture depends on is there (and that a PDF print
standing for an unprinted one is of the same rendered DOM), that each file taken out of a WARC is
the record it claims to be (of a revisit: the record it points to), that each row of
indicators.csv (derived) names a record of those WARCs with its SHA-256, the custody entries, the
WACZ, and the timestamp tokens (intact, over SHA256SUMS, later than every capture, and, given the
TSA's CA, from that TSA).
Nothing is fetched and no catalog is needed: this runs on a machine that has only the bundle.

A bundle proves nothing about who made it: anyone can alter one, re-hash it and sign it with a
key of their own. Only a key the caller trusts (the fingerprint the operator published)
establishes the signer; a trusted timestamp anchors the time, not who signed.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from archive.bundle import layout, media
from archive.bundle.keys import fingerprint, load_public_pem, signature_valid
from archive.bundle.pdfsign import check_pdf_signature
from archive.bundle.retrace import retrace
from archive.bundle.tsa import integrity_problems, read_token, trust_problems
from archive.chain import verify_excerpt
from archive.times import rfc3339
from archive.warc.reader import scan
from archive.warc.revisits import Revisit

OK, FAIL, WARN = "OK", "FAIL", "WARN"
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)
_WARC = re.compile(r"^captures/(\d+|referenced)/[^/]+\.warc(\.gz)?$")

# A bundle is untrusted input: a few MB of ZIP can unpack to gigabytes. Every member is streamed
# through its hash; the few read whole are refused beyond these sizes (the ZIP reader never
# returns more than the size a member declares), and no member may unpack beyond MAX_RATIO times
# its packed size (deflate reaches about 1000:1 on a bomb; evidence files, a few to one).
MiB = 1 << 20
MAX_RATIO = 100
_RATIO_FROM = MiB  # below this, a high ratio costs nothing (a short file of blank lines)
_KEY_SIZE = 4096  # an Ed25519 signature or public key PEM is about 100 bytes
_TOKEN_SIZE = MiB  # an RFC 3161 response with its certificate chain: a few KB
_REPORT_PDF_SIZE = 1 << 30  # screenshots make it large; read whole for its PDF signature
_JSON_SIZE = 16 * MiB  # datapackage.json of the WACZ, a capture's provenance record


def _sums_size(names: list[str]) -> int:
    """SHA256SUMS: one line per member, ``<64 hex>  <name>``."""
    return sum(80 + len(name.encode()) for name in names)


def _log_size(names: list[str]) -> int:
    """manifest.json and custody.jsonl grow with the captures (and their custody entries)."""
    return 8 * MiB + 64 * 1024 * len(names)


@dataclass(frozen=True)
class Check:
    status: str
    what: str
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.what:<10} {self.subject}: {self.detail}"


@dataclass
class Verification:
    checks: list[Check] = field(default_factory=list)
    # The fingerprint of the signing key, when it is one the caller trusts; None: not established
    signer: str | None = None

    @property
    def ok(self) -> bool:
        """Nothing failed; whether the signer is established is ``signer``."""
        return bool(self.checks) and all(c.status != FAIL for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]


def load_certificates(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def verify_bundle(
    path: Path,
    tsa_roots: list[x509.Certificate] | None = None,
    on_check: Callable[[Check], None] | None = None,
    *,
    trusted_keys: Collection[str] = (),
) -> Verification:
    """``trusted_keys``: fingerprints of the signing keys the caller trusts (see keys.py)."""
    return _Verifier(path, tsa_roots, on_check or (lambda check: None), trusted_keys).run()


@dataclass
class _Warc:
    member: str
    capture_id: int | None  # None: a referenced WARC, of a capture outside the export
    records: dict[str, str] = field(default_factory=dict)  # record id -> payload sha256
    # The SHA-256 of the rendered DOM as its record states it (a revisit states the original's)
    dom_sha256: str | None = None
    revisits: dict[str, Revisit] = field(default_factory=dict)  # record id -> revisit
    provenance_id: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    latest: datetime | None = None


class _Bundle:
    """The bundle being verified: its ZIP, the hashes read so far, what the checks before have
    found (SHA256SUMS, the manifest, the WARCs), and where each check is reported."""

    def __init__(
        self,
        zf: zipfile.ZipFile,
        check: Callable[[str, str, str, str], None],
        trusted_keys: Collection[str],
    ) -> None:
        self.zip = zf
        self.trusted_keys = trusted_keys
        self.signer: str | None = None
        self.names = [n for n in zf.namelist() if not n.endswith("/")]
        # Members that could not or must not be read (a ZIP bomb): a FAIL named each already.
        self.unread: set[str] = set()
        self.check = check  # (status, what, subject, detail)
        self.hashes: dict[str, str] = {}  # member -> sha256 as read
        self.sums: dict[str, str] = {}
        self.sums_bytes = b""
        self.manifest: dict[str, Any] = {}
        self.warcs: list[_Warc] = []

    def refuse_bombs(self) -> None:
        """Fail, and never read, every member packed beyond reason."""
        for info in self.zip.infolist():
            problem = _bomb(info)
            if problem is not None and info.filename not in self.unread:
                self.unread.add(info.filename)
                self.check(FAIL, "file", info.filename, f"{problem}: not read")

    def read(self, name: str, limit: int) -> bytes | None:
        """The member whole, when it is at most ``limit`` bytes; None when missing or refused
        (a FAIL names it)."""
        if name in self.unread:
            return None
        try:
            size = self.zip.getinfo(name).file_size
            if size > limit:
                self.unread.add(name)
                self.check(
                    FAIL, "file", name, f"unpacks to {size:,} bytes, over the {limit:,} it may hold"
                )
                return None
            with self.zip.open(name) as fh:
                return fh.read(limit)
        except KeyError:
            return None
        except _READ_ERRORS as exc:
            self.unread.add(name)
            self.check(FAIL, "file", name, f"cannot be read from the ZIP ({exc})")
            return None

    def hash(self, name: str) -> str | None:
        if name in self.unread:
            return None
        if name not in self.hashes:
            digest = hashlib.sha256()
            try:
                with self.zip.open(name) as fh:
                    while chunk := fh.read(layout.CHUNK):
                        digest.update(chunk)
            except _READ_ERRORS as exc:
                self.unread.add(name)
                self.check(FAIL, "file", name, f"cannot be read from the ZIP ({exc})")
                return None
            self.hashes[name] = digest.hexdigest()
        return self.hashes[name]


class _Verifier:
    """Opens the bundle and runs the checks in order, each part over what the parts before read."""

    def __init__(
        self,
        path: Path,
        roots: list[x509.Certificate] | None,
        on_check: Callable[[Check], None],
        trusted_keys: Collection[str],
    ) -> None:
        self.path = path
        self.roots = roots
        self.on_check = on_check
        self.trusted_keys = trusted_keys
        self.result = Verification()

    def check(self, status: str, what: str, subject: str, detail: str) -> None:
        item = Check(status, what, subject, detail)
        self.result.checks.append(item)
        self.on_check(item)

    def run(self) -> Verification:
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.check(FAIL, "bundle", str(self.path), f"not a readable ZIP file ({exc})")
            return self.result
        with zf:
            bundle = _Bundle(zf, self.check, self.trusted_keys)
            if len(set(bundle.names)) != len(bundle.names):
                bundle.check(FAIL, "bundle", str(self.path), "a file name appears twice")
            bundle.refuse_bombs()
            _Seal(bundle).run()
            _Warcs(bundle).run()
            _indicators(bundle)
            _Custody(bundle).run()
            _Wacz(bundle).run()
            _Timestamps(bundle, self.roots).run()
            _report_signature(bundle, self.roots)
        self.result.signer = bundle.signer
        return self.result


class _Seal:
    """SHA256SUMS (every file as listed, nothing added), its signature and whose key made it, and
    manifest.json."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle

    def run(self) -> None:
        self._sums()
        self._signature()
        self._manifest()

    def _sums(self) -> None:
        data = self.bundle.read(layout.SUMS, _sums_size(self.bundle.names))
        if data is None:
            if layout.SUMS not in self.bundle.unread:
                self.bundle.check(
                    FAIL, "sha256", layout.SUMS, "missing: nothing in the bundle can be checked"
                )
            return
        self.bundle.sums_bytes = data
        try:
            self.bundle.sums = layout.parse_sums(data)
        except (ValueError, UnicodeDecodeError) as exc:
            self.bundle.check(FAIL, "sha256", layout.SUMS, f"not in sha256sum format: {exc}")
            return
        present = set(self.bundle.names)
        for name in sorted(self.bundle.sums):
            if name not in present:
                self.bundle.check(
                    FAIL, "sha256", name, "listed in SHA256SUMS but missing from the bundle"
                )
                continue
            actual = self.bundle.hash(name)
            if actual is None:
                continue
            if actual == self.bundle.sums[name]:
                self.bundle.check(OK, "sha256", name, actual)
            else:
                self.bundle.check(
                    FAIL, "sha256", name, f"changed: SHA-256 is {actual}, not as listed"
                )
        for name in sorted(present - set(self.bundle.sums)):
            if not layout.is_seal(name):
                self.bundle.check(
                    FAIL, "sha256", name, "not listed in SHA256SUMS (added after sealing)"
                )

    def _signature(self) -> None:
        signature = self.bundle.read(layout.SIGNATURE, _KEY_SIZE)
        pem = self.bundle.read(layout.PUBLIC_KEY, _KEY_SIZE)
        if signature is None or pem is None:
            missing = layout.SIGNATURE if signature is None else layout.PUBLIC_KEY
            if missing in self.bundle.unread:
                return
            self.bundle.check(
                FAIL, "signature", missing, "missing: the bundle cannot be authenticated"
            )
            return
        try:
            key = load_public_pem(pem)
        except ValueError as exc:
            self.bundle.check(
                FAIL, "signature", layout.PUBLIC_KEY, f"not an Ed25519 public key ({exc})"
            )
            return
        if signature_valid(key, self.bundle.sums_bytes, signature):
            self.bundle.check(
                OK, "signature", layout.SIGNATURE, f"SHA256SUMS signed by key {fingerprint(key)}"
            )
            self._signer(fingerprint(key))
        else:
            self.bundle.check(
                FAIL,
                "signature",
                layout.SIGNATURE,
                f"does not match SHA256SUMS and {layout.PUBLIC_KEY}",
            )

    def _signer(self, key: str) -> None:
        """The key that signed is the bundle's own: only a key the caller trusts ties the bundle
        to the operator, as anyone can re-sign an altered bundle with a key of their own."""
        trusted = self.bundle.trusted_keys
        if not trusted:
            self.bundle.check(
                WARN,
                "signer",
                layout.PUBLIC_KEY,
                f"not established: nothing shows that key {key} is the operator's (anyone can "
                f"re-sign an altered bundle; a timestamp anchors the time, not who signed): "
                f"compare it with the fingerprint the operator publishes and give it as --key",
            )
        elif key in trusted:
            self.bundle.signer = key
            self.bundle.check(OK, "signer", layout.PUBLIC_KEY, f"key {key} is a key you trust")
        else:
            self.bundle.check(
                FAIL,
                "signer",
                layout.PUBLIC_KEY,
                f"key {key} is none of the keys you trust ({', '.join(sorted(trusted))})",
            )

    def _manifest(self) -> None:
        data = self.bundle.read(layout.MANIFEST, _log_size(self.bundle.names))
        try:
            self.bundle.manifest = json.loads(data) if data is not None else {}
        except ValueError:
            self.bundle.manifest = {}
        if (
            not isinstance(self.bundle.manifest, dict)
            or self.bundle.manifest.get("format") != layout.FORMAT
        ):
            self.bundle.check(
                FAIL, "manifest", layout.MANIFEST, f"missing or not a {layout.FORMAT}"
            )
            self.bundle.manifest = {}


class _Warcs:
    """Every WARC record digest; the revisits, the WARCs a capture depends on and the PDF prints
    standing for others all resolve in the bundle; each file taken out of a WARC is its record."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle
        self.originals: dict[str, tuple[_Warc, str]] = {}  # record id -> (its WARC, sha256)

    def run(self) -> None:
        for name in sorted(self.bundle.names):
            match = _WARC.match(name)
            if match:
                folder = match.group(1)
                self._warc(_Warc(name, int(folder) if folder.isdigit() else None))
        if not self.bundle.warcs:
            self.bundle.check(FAIL, "warc", "captures/", "the bundle holds no WARC file")
        self.originals = {
            record_id: (warc, digest)
            for warc in self.bundle.warcs
            for record_id, digest in warc.records.items()
            if record_id not in warc.revisits
        }
        self._dependencies()
        self._prints()
        for warc in self.bundle.warcs:
            if warc.capture_id is not None:
                self._revisits(warc)
                self._extracted(warc)

    def _warc(self, warc: _Warc) -> None:
        self.bundle.warcs.append(warc)
        if warc.member in self.bundle.unread:
            return
        problems: list[str] = []
        count = 0
        try:
            with self.bundle.zip.open(warc.member) as fh:
                for record in scan(fh, check_digests=True):
                    count += 1
                    headers = record.headers
                    record_id = record.id
                    digest = hashlib.sha256()
                    payload = io.BytesIO() if _is_provenance(headers) else None
                    for chunk in record.chunks():
                        digest.update(chunk)
                        if payload is not None:
                            payload.write(chunk)
                            if payload.tell() > _JSON_SIZE:
                                raise ValueError(
                                    f"its provenance record is over {_JSON_SIZE:,} bytes"
                                )
                    warc.records[record_id] = digest.hexdigest()
                    if (headers.get_header("WARC-Target-URI") or "").startswith("urn:dom:"):
                        stated = headers.get_header("WARC-Payload-Digest") or ""
                        warc.dom_sha256 = stated.removeprefix("sha256:").lower()
                    revisit = Revisit.from_headers(headers)
                    if revisit is not None:
                        warc.revisits[record_id] = revisit
                    problems += [
                        f"record {record_id} at offset {record.offset}: {p}"
                        for p in record.digest_problems()
                    ]
                    warc.latest = _later(warc.latest, _parse_time(headers.get_header("WARC-Date")))
                    if payload is not None:
                        warc.provenance_id = record_id
                        warc.provenance = json.loads(payload.getvalue())
                        warc.latest = _later(
                            warc.latest, _parse_time(warc.provenance.get("ended_at"))
                        )
        except Exception as exc:  # a damaged file can break the reader anywhere
            problems.append(f"cannot be read as WARC after {count} records ({exc})")
        if problems:
            self.bundle.check(FAIL, "warc", warc.member, "; ".join(problems))
        else:
            self.bundle.check(OK, "warc", warc.member, f"{count} records, every digest matches")

    def _needs(self) -> list[tuple[Any, str, list[Any]]]:
        """(capture id, WARC member, record ids) for each WARC manifest.json says a capture
        needs besides its own."""
        needs = []
        for capture in self.bundle.manifest.get("captures") or []:
            if not isinstance(capture, dict):
                continue
            for need in capture.get("depends_on") or []:
                if isinstance(need, dict):
                    records = need.get("records")
                    needs.append(
                        (
                            capture.get("id"),
                            str(need.get("warc")),
                            records if isinstance(records, list) else [],
                        )
                    )
        return needs

    def _dependencies(self) -> None:
        """The WARC files manifest.json says each capture needs are there, holding the records
        it needs (the originals of its revisits, the PDF print that stands for its own)."""
        present = {w.member: w for w in self.bundle.warcs}
        for capture_id, member, records in self._needs():
            warc = present.get(member)
            if warc is None:
                self.bundle.check(
                    FAIL,
                    "revisit",
                    member,
                    f"missing: capture {capture_id} refers to {len(records)} record(s) in it",
                )
                continue
            lacking = [str(r) for r in records if r not in warc.records]
            if lacking:
                self.bundle.check(
                    FAIL,
                    "revisit",
                    member,
                    f"lacks record(s) {', '.join(lacking)} that capture {capture_id} refers to",
                )
        needed = {member for _, member, _ in self._needs()}
        for warc in self.bundle.warcs:
            if warc.capture_id is not None:
                continue
            if warc.member not in needed:
                self.bundle.check(
                    FAIL, "revisit", warc.member, "no capture of the bundle refers to this WARC"
                )
                continue
            own = len(warc.revisits)
            self.bundle.check(
                OK,
                "revisit",
                warc.member,
                "a WARC of a capture outside the export, holding records the captures refer to"
                + (
                    f"; its own {own} revisit record(s) belong to that capture and are not followed"
                    if own
                    else ""
                ),
            )

    def _prints(self) -> None:
        """A capture with no PDF because its page had not changed: the print manifest.json says
        stands for it is in the bundle, of a capture whose rendered DOM has the same SHA-256."""
        present = {w.member: w for w in self.bundle.warcs}
        for capture in self.bundle.manifest.get("captures") or []:
            said = capture.get("pdf_not_printed") if isinstance(capture, dict) else None
            if not isinstance(said, dict) or not said.get("warc"):
                continue
            own = present.get(str(capture.get("warc")))
            holder = present.get(str(said["warc"]))
            if own is None or holder is None:
                continue  # named already: missing WARC
            if said.get("record_id") not in holder.records:
                continue  # named already: the WARC lacks the record
            if own.dom_sha256 and own.dom_sha256 == holder.dom_sha256:
                self.bundle.check(
                    OK,
                    "print",
                    own.member,
                    f"no PDF printed: its rendered DOM is that of the capture in {holder.member}, "
                    f"whose PDF print (record {said['record_id']}) stands for it",
                )
            else:
                self.bundle.check(
                    FAIL,
                    "print",
                    own.member,
                    f"no PDF printed, but its rendered DOM is not that of the capture in "
                    f"{holder.member}, whose print manifest.json says stands for it",
                )

    def _revisits(self, warc: _Warc) -> None:
        """Every revisit record of a capture points to a record in the bundle whose payload has
        the SHA-256 the revisit states."""
        if not warc.revisits:
            return
        problems: list[str] = []
        holders: set[str] = set()
        for revisit in warc.revisits.values():
            original = self.originals.get(revisit.refers_to)
            if original is None:
                where = self._expected_holder(warc, revisit.refers_to)
                problems.append(
                    f"revisit {revisit.record_id} ({revisit.target_uri}) points to record "
                    f"{revisit.refers_to}, which "
                    + (f"{where}, missing from the bundle, holds" if where else "no WARC holds")
                )
            elif original[1] != revisit.payload_sha256:
                problems.append(
                    f"revisit {revisit.record_id} states SHA-256 {revisit.payload_sha256}, but "
                    f"record {revisit.refers_to} in {original[0].member} holds {original[1]}"
                )
            else:
                holders.add(original[0].member)
        if problems:
            self.bundle.check(FAIL, "revisit", warc.member, "; ".join(problems))
            return
        self.bundle.check(
            OK,
            "revisit",
            warc.member,
            f"{len(warc.revisits)} revisit records, each pointing to a record with the same "
            f"payload SHA-256 in {', '.join(sorted(holders))}",
        )

    def _expected_holder(self, warc: _Warc, record_id: str) -> str | None:
        """The WARC manifest.json says holds ``record_id`` for this capture, if it says so."""
        for capture_id, member, records in self._needs():
            if capture_id == warc.capture_id and record_id in records:
                return member
        return None

    def _extracted(self, warc: _Warc) -> None:
        folder = posixpath.dirname(warc.member) + "/"
        record_ids = dict(warc.provenance.get("records") or {})
        self._media(warc, folder, list(record_ids.get("media") or []))
        for kind, filename in sorted(layout.EXTRACTED.items()):
            member = folder + filename
            record_id = warc.provenance_id if kind == "provenance" else record_ids.get(kind)
            present = member in self.bundle.names
            if record_id is None:
                if present:
                    self.bundle.check(FAIL, "extract", member, f"no such record in {warc.member}")
                continue
            if not present:
                self.bundle.check(
                    FAIL, "extract", member, f"missing (the WARC holds its {kind} record)"
                )
                continue
            actual = self.bundle.hash(member)
            if actual is None:
                continue
            revisit = warc.revisits.get(record_id)
            if revisit is not None:
                original = self.originals.get(revisit.refers_to)
                if original is None:
                    self.bundle.check(
                        FAIL,
                        "extract",
                        member,
                        f"its {kind} is a revisit of record {revisit.refers_to}, which is not in "
                        f"the bundle",
                    )
                elif actual == original[1] == revisit.payload_sha256:
                    self.bundle.check(
                        OK,
                        "extract",
                        member,
                        f"is record {revisit.refers_to} of {original[0].member}, which revisit "
                        f"{record_id} of the WARC points to",
                    )
                else:
                    self.bundle.check(
                        FAIL,
                        "extract",
                        member,
                        f"is not the {kind} that revisit {record_id} of {warc.member} points to",
                    )
            elif actual == warc.records.get(record_id):
                self.bundle.check(OK, "extract", member, f"is record {record_id} of the WARC")
            else:
                self.bundle.check(
                    FAIL, "extract", member, f"is not the {kind} recorded in {warc.member}"
                )


    def _media(self, warc: _Warc, folder: str, record_ids: list[str]) -> None:
        """Each video copy (issue 13) is, byte for byte, the payload of its record."""
        for record_id, member, what in media.check(folder, self.bundle.names, record_ids):
            if member is None:
                self.bundle.check(
                    FAIL, "extract", folder + media.MEDIA,
                    f"missing: the {what} of {warc.member} (record {record_id})",
                )  # fmt: skip
                continue
            actual = self.bundle.hash(member)
            if actual is None:
                continue
            if actual == warc.records.get(record_id):
                self.bundle.check(OK, "extract", member, f"is record {record_id} of the WARC")
            else:
                self.bundle.check(
                    FAIL, "extract", member, f"is not the {what} recorded in {warc.member}"
                )


class _Custody:
    """custody.jsonl: an intact run of the log, ending with this export's entry."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle

    def run(self) -> None:
        name = layout.CUSTODY
        data = self.bundle.read(name, _log_size(self.bundle.names))
        if data is None:
            if name not in self.bundle.unread:
                self.bundle.check(FAIL, "custody", name, "missing")
            return
        try:
            entries = [json.loads(line) for line in data.decode("utf-8").splitlines()]
            problems = verify_excerpt(entries) or self._export_entry_problems(entries)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.bundle.check(FAIL, "custody", name, f"not a custody log ({exc!r})")
            return
        if problems:
            self.bundle.check(FAIL, "custody", name, "; ".join(problems))
            return
        last = entries[-1]
        self.bundle.check(
            OK,
            "custody",
            name,
            f"{len(entries)} entries intact, ending with the export #{last['seq']} "
            f"by {last['actor']} at {last['at']}",
        )

    def _export_entry_problems(self, entries: list[dict[str, Any]]) -> list[str]:
        export = entries[-1]
        details = export["details"]
        problems = []
        if export["action"] != "export":
            return ["the last entry is not the export"]
        if details.get("entries") != [[e["seq"], e["hash"]] for e in entries[:-1]]:
            problems.append("the export entry does not list exactly the entries before it")
        if self.bundle.sums and details.get("content_sha256") != layout.content_digest(
            self.bundle.sums
        ):
            problems.append("the export entry does not match the captures' files in SHA256SUMS")
        ids = sorted(w.capture_id for w in self.bundle.warcs if w.capture_id is not None)
        if sorted(details.get("captures") or []) != ids:
            problems.append(f"the export entry names captures {details.get('captures')}, not {ids}")
        referenced = details.get("referenced") or {}
        for warc in self.bundle.warcs:
            if warc.capture_id is None and referenced.get(warc.member) != self.bundle.hashes.get(
                warc.member
            ):
                problems.append(f"the export entry does not list {warc.member} with its SHA-256")
        for member in sorted(set(referenced) - {w.member for w in self.bundle.warcs}):
            problems.append(f"{member}, listed in the export entry, is missing")
        sealed = {
            e["capture_id"]: e["details"].get("warc_sha256")
            for e in entries
            if e["action"] == "capture"
        }
        for warc in self.bundle.warcs:
            if warc.capture_id is None:
                continue
            if warc.capture_id not in sealed:
                problems.append(f"no capture entry for capture {warc.capture_id}")
            elif sealed[warc.capture_id] != self.bundle.hashes.get(warc.member):
                problems.append(f"{warc.member} is not the file sealed at capture time")
        return problems


class _Wacz:
    """The WACZ: every file as its datapackage.json says, holding the captures' WARC files."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle

    def run(self) -> None:
        names = [n for n in self.bundle.names if n.endswith(".wacz") and "/" not in n]
        if not names:
            self.bundle.check(FAIL, "wacz", "case-*.wacz", "missing")
            return
        for name in names:
            if name in self.bundle.unread:
                continue
            try:
                with self.bundle.zip.open(name) as fh, zipfile.ZipFile(fh) as inner:
                    problems = self._wacz_problems(inner)
            except (*_READ_ERRORS, KeyError, TypeError) as exc:
                problems = [f"not a readable WACZ ({exc!r})"]
            if problems:
                self.bundle.check(FAIL, "wacz", name, "; ".join(problems))
            else:
                self.bundle.check(OK, "wacz", name, "every file matches datapackage.json")

    def _wacz_problems(self, inner: zipfile.ZipFile) -> list[str]:
        bombs = [f"{i.filename}: {p}" for i in inner.infolist() if (p := _bomb(i)) is not None]
        if bombs:
            return bombs
        package_bytes = _read_small(inner, "datapackage.json")
        digest = json.loads(_read_small(inner, "datapackage-digest.json"))
        if digest.get("hash") != "sha256:" + hashlib.sha256(package_bytes).hexdigest():
            return ["datapackage.json does not match datapackage-digest.json"]
        package = json.loads(package_bytes)
        problems = []
        listed = {}
        for resource in package.get("resources", []):
            path = resource["path"]
            listed[path] = resource["hash"]
            try:
                data_hash = hashlib.sha256()
                with inner.open(path) as fh:
                    while chunk := fh.read(layout.CHUNK):
                        data_hash.update(chunk)
                size = inner.getinfo(path).file_size
            except KeyError:
                problems.append(f"{path} is missing")
                continue
            if (
                resource["hash"] != f"sha256:{data_hash.hexdigest()}"
                or resource.get("bytes") != size
            ):
                problems.append(f"{path} does not match datapackage.json")
            if path.startswith("archive/") and inner.getinfo(path).compress_type:
                problems.append(f"{path} is compressed (WACZ stores WARCs uncompressed)")
        extra = (
            set(inner.namelist()) - set(listed) - {"datapackage.json", "datapackage-digest.json"}
        )
        problems += [f"{path} is not listed in datapackage.json" for path in sorted(extra)]
        warcs = {
            posixpath.basename(w.member): self.bundle.hashes.get(w.member)
            for w in self.bundle.warcs
        }
        packed = {
            posixpath.basename(p): h.removeprefix("sha256:")
            for p, h in listed.items()
            if p.startswith("archive/")
        }
        if packed != warcs:
            problems.append("its WARC files are not the captures' WARC files")
        header = b'{"format": "json-pages-1.0"'
        with inner.open("pages/pages.jsonl") as pages:
            if pages.read(len(header)) != header:
                problems.append("pages/pages.jsonl has no json-pages-1.0 header")
        return problems


class _Timestamps:
    """The RFC 3161 tokens: intact, over SHA256SUMS, later than every capture, and (given the
    TSA's CA) from that TSA."""

    def __init__(self, bundle: _Bundle, roots: list[x509.Certificate] | None) -> None:
        self.bundle = bundle
        self.roots = roots

    def run(self) -> None:
        expected = [t["file"] for t in self.bundle.manifest.get("timestamps", {}).get("tokens", [])]
        present = sorted(n for n in self.bundle.names if layout.is_seal(n) and n.endswith(".tsr"))
        for name in expected:
            if name not in present:
                self.bundle.check(FAIL, "timestamp", name, "missing (manifest.json lists it)")
        if not expected and not present:
            self.bundle.check(
                WARN,
                "timestamp",
                layout.SUMS,
                "no trusted timestamp was obtained for this bundle: its time rests on the "
                "operator's signature alone",
            )
        latest = None
        for warc in self.bundle.warcs:
            latest = _later(latest, warc.latest)
        for name in present:
            self._token(name, latest)

    def _token(self, name: str, latest: datetime | None) -> None:
        raw = self.bundle.read(name, _TOKEN_SIZE)
        if raw is None:
            return
        token = read_token(raw)
        problems = list(token.problems)
        if not problems:
            if not token.granted:
                problems.append(f"the TSA did not grant it (status {token.status})")
            if not token.covers(self.bundle.sums_bytes):
                problems.append("it does not cover this SHA256SUMS")
            problems += integrity_problems(token)
        if not problems and token.gen_time and latest:
            if token.gen_time + token.accuracy < latest:
                problems.append(
                    f"its time {_iso(token.gen_time)} is before the end of a capture "
                    f"({_iso(latest)})"
                )
        if problems:
            self.bundle.check(FAIL, "timestamp", name, "; ".join(problems))
            return
        when = _iso(token.gen_time) if token.gen_time else "?"
        self.bundle.check(
            OK,
            "timestamp",
            name,
            f"SHA256SUMS existed at {when} (±{token.accuracy.total_seconds():g} s), after every "
            f"capture; signed by {token.tsa}",
        )
        if self.roots is None:
            self.bundle.check(
                WARN,
                "timestamp",
                name,
                "the TSA's certificate was not checked against a CA you trust (give --tsa-ca)",
            )
            return
        trust = trust_problems(token, self.bundle.sums_bytes, self.roots)
        if trust:
            self.bundle.check(FAIL, "timestamp", name, "; ".join(trust))
        else:
            self.bundle.check(OK, "timestamp", name, "from a TSA certified by the given CA")


def _indicators(bundle: _Bundle) -> None:
    """Every row of indicators.csv (derived data) names a record of the bundle's WARC files with
    the SHA-256 that record holds, and is labelled derived. A bundle made before lastseen read
    identifiers has no such file."""
    name = layout.INDICATORS
    if name not in bundle.names or name in bundle.unread:
        return
    records = {
        record_id: (warc.member, digest)
        for warc in bundle.warcs
        for record_id, digest in warc.records.items()
        if record_id not in warc.revisits
    }
    try:
        with bundle.zip.open(name) as fh:
            done = retrace(fh, records)
    except _READ_ERRORS as exc:
        bundle.check(FAIL, "derived", name, f"cannot be read from the ZIP ({exc})")
        return
    if done.problems:
        more = f"; and {done.more:,} more" if done.more else ""
        bundle.check(FAIL, "derived", name, "; ".join(done.problems) + more)
        return
    labels = ", ".join(sorted(done.labels)) or "no rows"
    bundle.check(
        OK,
        "derived",
        name,
        f"derived data ({labels}): each of its {done.rows:,} rows names a record of the "
        f"bundle's WARC files with the SHA-256 that record holds",
    )


def _report_signature(bundle: _Bundle, roots: list[x509.Certificate] | None) -> None:
    """report.pdf's PAdES signature, when it has one: intact over the whole file, who signed it,
    and its timestamp (from the given TSA CA, when one is given)."""
    pdf = bundle.read(layout.REPORT_PDF, _REPORT_PDF_SIZE)
    found = check_pdf_signature(pdf, roots or ()) if pdf is not None else None
    if found is None:
        return
    if found.problems:
        bundle.check(FAIL, "PDF signature", layout.REPORT_PDF, "; ".join(found.problems))
        return
    bundle.check(
        OK,
        "PDF signature",
        layout.REPORT_PDF,
        f"PAdES {found.level} over the whole file, signed by {found.signer} (certificate "
        f"issued by {found.issuer}), timestamp {found.timestamp} from {found.tsa}",
    )


def _bomb(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be unpacked: a method a bundle does not use, or a ratio no
    evidence file has."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"packed with ZIP method {info.compress_type}, not stored or deflated"
    if info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return (
            f"unpacks to {info.file_size:,} bytes from {info.compress_size:,}, a ratio over "
            f"{MAX_RATIO}:1 (a ZIP bomb)"
        )
    return None


def _read_small(inner: zipfile.ZipFile, name: str) -> bytes:
    size = inner.getinfo(name).file_size
    if size > _JSON_SIZE:
        raise ValueError(f"{name} unpacks to {size:,} bytes, over the {_JSON_SIZE:,}")
    with inner.open(name) as fh:
        return fh.read(_JSON_SIZE)


def _is_provenance(headers: Any) -> bool:
    target = headers.get_header("WARC-Target-URI") or ""
    return headers.get_header("WARC-Type") == "metadata" and target.startswith("urn:provenance:")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _iso(value: datetime) -> str:
    return rfc3339(value)
