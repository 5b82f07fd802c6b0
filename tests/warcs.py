"""Reading WARC files back in tests: every record, as warcio parses it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator


@dataclass
class Rec:
    type: str
    target: str
    headers: dict[str, list[str]]
    http_status: int | None
    http_headers: list[tuple[str, str]]
    payload: bytes
    offset: int

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def http_header(self, name: str) -> list[str]:
        return [v for k, v in self.http_headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.payload)


def read_warc(path: str | Path) -> list[Rec]:
    records = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, check_digests=True)
        for record in it:
            headers: dict[str, list[str]] = {}
            for name, value in record.rec_headers.headers:
                headers.setdefault(name.lower(), []).append(value)
            payload = record.content_stream().read()
            status = None
            http_headers: list[tuple[str, str]] = []
            if record.http_headers and record.rec_type == "response":
                status = int(record.http_headers.get_statuscode())
                http_headers = list(record.http_headers.headers)
            elif record.http_headers:
                http_headers = list(record.http_headers.headers)
            records.append(
                Rec(
                    type=record.rec_type,
                    target=record.rec_headers.get_header("WARC-Target-URI") or "",
                    headers=headers,
                    http_status=status,
                    http_headers=http_headers,
                    payload=payload,
                    offset=it.get_record_offset(),
                )
            )
    return records


def responses(records: list[Rec], url: str) -> list[Rec]:
    return [r for r in records if r.type == "response" and r.target == url]
