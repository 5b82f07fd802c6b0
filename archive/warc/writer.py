"""Write one Capture as WARC/1.1 records (warcio), every digest SHA-256.

Record order: warcinfo, then for each exchange its response and request, then the resources
derived from the page (screenshot, rendered DOM, PDF, TLS chain) and a metadata record with the
provenance, all sharing one WARC-Date (the capture's start, with microseconds).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, Protocol
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from archive.capture import BODY_COMPLETE, BODY_NONE, Capture, Exchange, Headers
from archive.digest import WarcDigester, sha256_hex
from archive.warc.media import write_media

WARC_VERSION = "WARC/1.1"

# Headers that describe the bytes on the wire rather than the payload we store: when the stored
# body is not those bytes (decoded, de-chunked, not available), they are kept under this prefix
# so the record stays self-consistent and replays (the convention pywb and others use).
ORIG_PREFIX = "X-Archive-Orig-"
_TRANSPORT_HEADERS = ("content-encoding", "transfer-encoding", "content-length")

# Target URIs of the records derived from the page. pywb indexes resource and metadata records
# under their target: an http URI here would be replayed in place of the page itself.
RESOURCE_TARGETS = {
    "screenshot": "urn:screenshot:",
    "dom": "urn:dom:",
    "pdf": "urn:pdf:",
    "tls-chain": "urn:tls-chain:",
}
PROVENANCE_TARGET = "urn:provenance:"
# What warcio writes for a WARC/1.1 revisit (WARCWriter.REVISIT_PROFILE_1_1).
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


class Writable(Protocol):
    def write(self, data: bytes) -> int: ...
    def flush(self) -> None: ...
    def tell(self) -> int: ...


class _GzipMember:
    """One gzip member per record, as the WARC spec's recommended per-record compression."""

    def __init__(self, out: Any, level: int) -> None:
        self._zip = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._out = out

    def write(self, data: bytes) -> None:
        self._out.write(self._zip.compress(data))

    def flush(self) -> None:
        self._out.write(self._zip.flush())
        self._out.flush()


class _Sha256WarcWriter(WARCWriter):  # type: ignore[misc]
    """warcio's writer with SHA-256 digests, one gzip member per record at a chosen level.

    warcio always digests with SHA-1; overriding its digester factory is the one place where
    every block and payload digest is made, so nothing else in warcio needs to change.
    """

    def __init__(self, out: Any) -> None:
        super().__init__(out, gzip=False, warc_version=WARC_VERSION)

    @staticmethod
    def _create_digester() -> WarcDigester:
        return WarcDigester()

    def write_member(self, record: Any, level: int) -> None:
        self._write_warc_record(_GzipMember(self.out, level), record)


# Payloads that are compressed already (media, fonts, archives, PNG, PDF): deflating them again
# costs CPU and saves nothing, so their gzip member uses stored blocks (level 0, still gzip).
_COMPRESSED_MAJOR = ("image/", "video/", "audio/", "font/")
_COMPRESSED_TYPES = (
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "font/woff2",
    "application/font-woff",
    "application/font-woff2",
    "application/octet-stream",
)
_UNCOMPRESSED_IMAGES = ("image/svg+xml", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon")


def compress_level(content_type: str | None, default: int) -> int:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in _UNCOMPRESSED_IMAGES:
        return default
    if mime.startswith(_COMPRESSED_MAJOR) or mime in _COMPRESSED_TYPES:
        return 0
    return default


@dataclass
class RecordRef:
    """Where one record sits in the WARC file and what it holds."""

    record_id: str
    record_type: str
    target_uri: str
    offset: int
    length: int
    payload_sha256: str | None  # lowercase hex, without the "sha256:" prefix
    content_type: str | None = None
    refers_to: str | None = None  # a revisit's original record (WARC-Refers-To)


@dataclass(frozen=True)
class Original:
    """A record already stored whose payload a revisit record can point to instead of a copy."""

    record_id: str
    target_uri: str
    warc_date: str  # the original's WARC-Date, exactly as written


@dataclass(frozen=True)
class MetadataRecord:
    """An extra metadata record of a capture (e.g. the text diff against the previous one)."""

    name: str
    target_uri: str
    content_type: str
    data: bytes
    refers_to: str | None = None


@dataclass
class WrittenCapture:
    """What writing a capture produced: record locations, for the catalog and later reads."""

    warc_date: datetime
    records: list[RecordRef] = field(default_factory=list)
    main: RecordRef | None = None
    provenance: RecordRef | None = None
    resources: dict[str, RecordRef] = field(default_factory=dict)
    metadata: dict[str, RecordRef] = field(default_factory=dict)
    media: list[tuple[RecordRef, RecordRef]] = field(default_factory=list)  # resource, its info
    date: str = ""  # the WARC-Date every record of the capture carries


def _hex(digest: str | None) -> str | None:
    if not digest:
        return None
    return digest.split(":", 1)[1]


def _rename_transport_headers(
    headers: Headers, stored_len: int, decoded: bool
) -> tuple[Headers, list[str]]:
    """Rename headers that would contradict the stored payload; also return the names renamed."""
    out: Headers = []
    renamed: list[str] = []
    for name, value in headers:
        lname = name.lower()
        contradicts = False
        if lname in ("content-encoding", "transfer-encoding"):
            contradicts = decoded or value.strip().lower() not in ("", "identity")
        elif lname == "content-length":
            contradicts = value.strip() != str(stored_len)
        if lname in _TRANSPORT_HEADERS and contradicts:
            out.append((ORIG_PREFIX + name, value))
            renamed.append(name)
        else:
            out.append((name, value))
    return out, renamed


def _redaction_records(redaction: dict[str, Any], records: list[dict[str, str]]) -> dict[str, Any]:
    """The redaction note with each value's record id in place of its exchange's index."""
    values = []
    for entry in redaction.get("values", []):
        entry = dict(entry)
        index = entry.pop("exchange", None)
        if isinstance(index, int) and index < len(records):
            entry["record"] = records[index].get(entry.get("record_type", ""))
        values.append(entry)
    return {**redaction, "values": values}


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return path + ("?" + parts.query if parts.query else "")


def _protocols(exchange: Exchange) -> list[str]:
    return [p for p in (exchange.protocol, exchange.tls_protocol) if p]


def environment_fields(capture: Capture, filename: str) -> dict[str, str]:
    """The warcinfo record's fields (application/warc-fields): who captured, with what, how."""
    fields: dict[str, str] = {"software": str(capture.environment.get("software", "lastseen"))}
    for key in (
        "browser",
        "operator",
        "hostname",
        "user-agent",
        "viewport",
        "settings",
        "format",
        "conformsTo",
    ):
        value = capture.environment.get(key)
        if value is None:
            continue
        fields[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    fields.setdefault("format", "WARC File Format 1.1")
    fields.setdefault(
        "conformsTo",
        "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
    )
    fields["filename"] = filename
    return fields


class CaptureWriter:
    """Writes the records of captures to one open WARC stream.

    ``out`` must support ``write``, ``flush`` and ``tell`` (``archive.digest.HashingWriter`` does,
    so the file's SHA-256 is known as soon as the last record is written).

    With ``originals`` (keyed ``"<record type>:<sha256 hex>"``), a complete payload already stored
    is written as a ``revisit`` record pointing to it (profile identical-payload-digest) instead
    of a second copy; payloads repeated within the capture are written once too. The capture's
    main document is always written in full: a replay tool shows a revisit with its original's
    date and headers, so a recapture of an unchanged page would replay as the first capture.
    """

    def __init__(
        self,
        out: Writable,
        compress_level: int = 6,
        originals: Mapping[str, Original] | None = None,
    ) -> None:
        self._originals = dict(originals) if originals is not None else None
        self._out = out
        self._level = compress_level
        self._writer = _Sha256WarcWriter(out)

    def _write(self, record: Any, refs: list[RecordRef]) -> RecordRef:
        offset = self._out.tell()
        headers = record.rec_headers
        content_type = (
            record.http_headers.get_header("Content-Type")
            if record.http_headers and record.rec_type == "response"
            else record.content_type
        )
        self._writer.write_member(record, compress_level(content_type, self._level))
        ref = RecordRef(
            refers_to=headers.get_header("WARC-Refers-To"),
            record_id=headers.get_header("WARC-Record-ID"),
            record_type=headers.get_header("WARC-Type"),
            target_uri=headers.get_header("WARC-Target-URI") or "",
            offset=offset,
            length=self._out.tell() - offset,
            payload_sha256=_hex(headers.get_header("WARC-Payload-Digest"))
            or _hex(headers.get_header("WARC-Block-Digest")),
            content_type=content_type,
        )
        refs.append(ref)
        return ref

    def _original(self, kind: str, data: bytes) -> tuple[str | None, Original | None]:
        """The digest key of a payload that may be deduplicated, and its stored original."""
        if self._originals is None or not data:
            return None, None
        key = f"{kind}:{sha256_hex(data)}"
        return key, self._originals.get(key)

    def _revisit(
        self,
        uri: str,
        key: str,
        original: Original,
        warc_headers: dict[str, str],
        http_headers: StatusAndHeaders | None = None,
    ) -> Any:
        record = self._writer.create_revisit_record(
            uri,
            "sha256:" + key.split(":", 1)[1],
            original.target_uri,
            original.warc_date,
            http_headers=http_headers,
            warc_headers_dict={**warc_headers, "WARC-Refers-To": original.record_id},
        )
        if http_headers is None:
            record.content_type = None  # an empty block has no content type
        return record

    def _remember(self, key: str | None, ref: RecordRef, date: str) -> None:
        if key is not None and self._originals is not None:
            self._originals[key] = Original(ref.record_id, ref.target_uri, date)

    def write_capture(
        self, capture: Capture, filename: str, metadata: Sequence[MetadataRecord] = ()
    ) -> WrittenCapture:
        warc_date = capture.started_at.astimezone(UTC)
        date = datetime_to_iso_date(warc_date.replace(tzinfo=None), use_micros=True)
        result = WrittenCapture(warc_date=warc_date, date=date)
        refs = result.records
        w = self._writer

        info = w.create_warcinfo_record(filename, environment_fields(capture, filename))
        info.rec_headers.replace_header("WARC-Date", date)
        info_ref = self._write(info, refs)
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": info_ref.record_id}

        header_notes: list[dict[str, Any]] = []
        exchange_records: list[dict[str, str]] = []
        for index, exchange in enumerate(capture.exchanges):
            resp_ref = None
            if exchange.response is not None:
                main = index == capture.main_index
                resp_ref = self._write_response(exchange, common, header_notes, refs, main)
                if main:
                    result.main = resp_ref
            req_ref = self._write_request(exchange, common, resp_ref, refs)
            exchange_records.append(
                {"request": req_ref.record_id}
                | ({"response": resp_ref.record_id} if resp_ref else {})
            )

        concurrent = {"WARC-Concurrent-To": result.main.record_id} if result.main else {}
        url = capture.final_url or capture.requested_url
        for res in capture.resources:
            target = RESOURCE_TARGETS.get(res.kind, f"urn:{res.kind}:") + url
            key, original = self._original("resource", res.data)
            if original is not None and key is not None:
                record = self._revisit(target, key, original, {**common, **concurrent})
            else:
                record = w.create_warc_record(
                    target,
                    "resource",
                    payload=BytesIO(res.data),
                    length=len(res.data),
                    warc_content_type=res.content_type,
                    warc_headers_dict={**common, **concurrent},
                )
            result.resources[res.kind] = self._write(record, refs)
            if original is None:
                self._remember(key, result.resources[res.kind], date)

        result.media = write_media(
            w, lambda rec: self._write(rec, refs), capture.media, url, {**common, **concurrent}
        )

        for meta in metadata:
            extra = {"WARC-Refers-To": meta.refers_to} if meta.refers_to else {}
            record = w.create_warc_record(
                meta.target_uri,
                "metadata",
                payload=BytesIO(meta.data),
                length=len(meta.data),
                warc_content_type=meta.content_type,
                warc_headers_dict={**common, **concurrent, **extra},
            )
            result.metadata[meta.name] = self._write(record, refs)

        provenance = dict(capture.provenance)
        provenance["stored_payloads"] = header_notes
        if "redaction" in provenance:
            provenance["redaction"] = _redaction_records(provenance["redaction"], exchange_records)
        provenance["records"] = {
            "main_response": result.main.record_id if result.main else None,
            **{kind: ref.record_id for kind, ref in result.resources.items()},
            **{name: ref.record_id for name, ref in result.metadata.items()},
        }
        if result.media:
            provenance["records"]["media"] = [ref.record_id for ref, _ in result.media]
        revisits = [ref for ref in refs if ref.record_type == "revisit"]
        if revisits:
            provenance["revisits"] = {ref.record_id: ref.refers_to for ref in revisits}
        body = json.dumps(provenance, indent=2, sort_keys=True, default=str).encode("utf-8")
        record = w.create_warc_record(
            PROVENANCE_TARGET + url,
            "metadata",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type="application/json",
            warc_headers_dict={**common, **concurrent},
        )
        result.provenance = self._write(record, refs)
        return result

    def _write_response(
        self,
        ex: Exchange,
        common: dict[str, str],
        notes: list[dict[str, Any]],
        refs: list[RecordRef],
        full: bool,
    ) -> RecordRef:
        resp = ex.response
        assert resp is not None
        decoded = resp.body_state == BODY_COMPLETE and any(
            n.lower() == "content-encoding" and v.strip().lower() not in ("", "identity")
            for n, v in resp.headers
        )
        headers, renamed = _rename_transport_headers(resp.headers, len(resp.body), decoded)
        http_headers = StatusAndHeaders(
            f"{resp.status} {resp.reason}".strip(), headers, protocol=resp.http_version
        )
        warc_headers = dict(common)
        if ex.remote_ip:
            warc_headers["WARC-IP-Address"] = ex.remote_ip
        if resp.body_state not in (BODY_COMPLETE, BODY_NONE):
            # The WARC 1.1 field for "this payload is not everything the server sent".
            warc_headers["WARC-Truncated"] = (
                "time" if resp.body_state == "truncated" else "unspecified"
            )
        key, original = (
            self._original("response", resp.body)
            if resp.body_state == BODY_COMPLETE
            else (None, None)
        )
        if original is not None and key is not None and not full:
            record = self._revisit(ex.request.url, key, original, warc_headers, http_headers)
        else:
            record = self._writer.create_warc_record(
                ex.request.url,
                "response",
                payload=BytesIO(resp.body),
                length=len(resp.body),
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
        for proto in _protocols(ex):
            record.rec_headers.add_header("WARC-Protocol", proto)
        ref = self._write(record, refs)
        if original is None or full:
            self._remember(key, ref, common["WARC-Date"])
        if renamed or resp.body_state != BODY_COMPLETE:
            notes.append(
                {
                    "record": ref.record_id,
                    "url": ex.request.url,
                    "body": resp.body_state,
                    "renamed_headers": [ORIG_PREFIX + n for n in renamed],
                }
            )
        return ref

    def _write_request(
        self,
        ex: Exchange,
        common: dict[str, str],
        resp_ref: RecordRef | None,
        refs: list[RecordRef],
    ) -> RecordRef:
        req = ex.request
        http_headers = StatusAndHeaders(
            f"{req.method} {_request_target(req.url)} {req.http_version}",
            list(req.headers),
            is_http_request=True,
        )
        body = req.body or b""
        warc_headers = dict(common)
        if resp_ref is not None:
            warc_headers["WARC-Concurrent-To"] = resp_ref.record_id
        if ex.remote_ip:
            warc_headers["WARC-IP-Address"] = ex.remote_ip
        record = self._writer.create_warc_record(
            req.url,
            "request",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )
        for proto in _protocols(ex):
            record.rec_headers.add_header("WARC-Protocol", proto)
        return self._write(record, refs)
