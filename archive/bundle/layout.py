"""The layout of an evidence bundle, shared by the exporter and the verifier.

::

    captures/<id>/<warc name>.warc.gz   the stored WARC, byte for byte
    captures/<id>/screenshot.png        record payloads taken out of that WARC, byte for byte (of
                                        a revisit record: the payload of the record it points to)
    captures/<id>/page.pdf
    captures/<id>/dom.html
    captures/<id>/tls-chain.pem         (https pages)
    captures/<id>/provenance.json
    captures/referenced/<warc name>     the WARC of a capture outside the export whose records the
                                        exported captures' revisit records point to, byte for byte
    case-<ID>.wacz                      the same WARCs as a WACZ 1.1.1 package (replay)
    indicators.csv                      derived: identifiers and photo hashes found in the captures,
                                        each row naming its record (id, SHA-256, offset)
    custody.jsonl                       custody entries of these captures, ending with this export
    manifest.json                       what the bundle holds, for programs (the report: for people)
    report.html, report.pdf
    signing-key.pub                     the operator's Ed25519 public key (PEM SubjectPublicKeyInfo)
    SHA256SUMS                          sha256sum -c format, over every file above
    SHA256SUMS.sig                      Ed25519 signature of SHA256SUMS
    SHA256SUMS.tsr, SHA256SUMS.2.tsr    RFC 3161 timestamp responses over SHA256SUMS, one per TSA

Every member gets the same ZIP time (the latest capture's end) and fixed attributes, and members
are written in a fixed order, so that exporting the same captures twice gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO

FORMAT = "lastseen-bundle/1"
SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PUBLIC_KEY = "signing-key.pub"
CUSTODY = "custody.jsonl"
INDICATORS = "indicators.csv"  # archive.derive.table.NAME
MANIFEST = "manifest.json"
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
CAPTURES = "captures/"
# Beside the capture folders, so that ``warcio check captures/*/*.warc.gz`` reads these WARCs too.
REFERENCED = CAPTURES + "referenced/"

# Record kinds (as the catalog's ``records`` names them) taken out of each WARC as plain files.
EXTRACTED = {
    "dom": "dom.html",
    "pdf": "page.pdf",
    "provenance": "provenance.json",
    "screenshot": "screenshot.png",
    "tls-chain": "tls-chain.pem",
}

_TOKEN = re.compile(r"^SHA256SUMS(?:\.(\d+))?\.tsr$")
_SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
CHUNK = 1 << 20


def token_name(index: int) -> str:
    """The first TSA's response is ``SHA256SUMS.tsr``, the next ``SHA256SUMS.2.tsr``..."""
    return "SHA256SUMS.tsr" if index == 0 else f"SHA256SUMS.{index + 1}.tsr"


def is_seal(name: str) -> bool:
    """Members made after SHA256SUMS, hence not listed in it."""
    return name in (SUMS, SIGNATURE) or bool(_TOKEN.match(name))


def capture_dir(capture_id: int) -> str:
    return f"{CAPTURES}{capture_id}/"


def wacz_name(case: str) -> str:
    return "case-" + re.sub(r"[^A-Za-z0-9._-]+", "_", case).strip("._") + ".wacz"


def format_sums(sums: dict[str, str]) -> bytes:
    """``<sha256>  <name>`` lines sorted by name: what ``sha256sum -c`` reads."""
    return "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)).encode("utf-8")


def parse_sums(data: bytes) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        match = _SUMS_LINE.match(line)
        if not match or match.group(2) in sums:
            raise ValueError(f"line {number} is not '<sha256>  <file name>'")
        sums[match.group(2)] = match.group(1)
    return sums


def content_digest(sums: dict[str, str]) -> str:
    """One SHA-256 over the evidence members' lines, recorded in the export's custody entry."""
    evidence = {n: h for n, h in sums.items() if n.startswith(CAPTURES) or n.endswith(".wacz")}
    return hashlib.sha256(format_sums(evidence)).hexdigest()


def canonical_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    utc = when.astimezone(UTC)
    return (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)


class DeterministicZip:
    """A ZIP written member by member, streamed, every member hashed while it is written."""

    def __init__(self, file: str | IO[bytes], when: datetime) -> None:
        self.zip = zipfile.ZipFile(file, "w", allowZip64=True)
        self._time = zip_time(when)
        self.sums: dict[str, str] = {}
        self.sizes: dict[str, int] = {}

    def _info(self, name: str, size: int, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self._time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.create_system = 3  # Unix, whatever system wrote it
        info.external_attr = 0o100644 << 16
        info.file_size = size  # lets zipfile choose ZIP64 up front for large members
        return info

    def add_stream(
        self,
        name: str,
        source: BinaryIO,
        size: int,
        compress: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> str:
        digest = hashlib.sha256()
        written = 0
        with self.zip.open(self._info(name, size, compress), "w") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                if progress:
                    progress(len(chunk))
        if written != size:
            raise OSError(f"{name}: expected {size} bytes, read {written}")
        self.sums[name] = digest.hexdigest()
        self.sizes[name] = size
        return self.sums[name]

    def add_file(self, name: str, path: str, size: int, compress: bool = False) -> str:
        with open(path, "rb") as fh:
            return self.add_stream(name, fh, size, compress)

    def add_bytes(self, name: str, data: bytes, compress: bool = True) -> str:
        with self.zip.open(self._info(name, len(data), compress), "w") as out:
            out.write(data)
        self.sums[name] = hashlib.sha256(data).hexdigest()
        self.sizes[name] = len(data)
        return self.sums[name]

    def close(self) -> None:
        self.zip.close()


def copy_stream(source: BinaryIO, target: IO[bytes]) -> None:
    shutil.copyfileobj(source, target, CHUNK)
