"""``indicators.csv`` traced back into the bundle: each row's record is in one of its WARC files.

The identifiers a bundle lists are derived data (``archive.derive.table``): every row is labelled
with what derived it (``derived_by``) and names the record it was read from, by WARC-Record-ID
and the SHA-256 of that record's payload. The verifier reads the file a line at a time (a line
of at most ``MAX_LINE`` bytes) and checks each row against the records it found in the WARC
files, so a row that names a record the bundle does not hold, or holds with other content, or in
another file, fails by its row number. Only the CSV module: the verifier stays light.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

NEEDED = ("derived_by", "warc", "record_id", "record_sha256")
MAX_LINE = 1 << 20  # a row holds a snippet of context and a URL: a few KB
MAX_SHOWN = 10  # problems named one by one; the rest are counted
_LABELS = 10  # distinct derived_by labels kept to be named


@dataclass
class Retraced:
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    more: int = 0  # problems beyond MAX_SHOWN
    labels: set[str] = field(default_factory=set)

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_SHOWN:
            self.problems.append(text)
        else:
            self.more += 1


def _short(value: str, size: int = 100) -> str:
    return value if len(value) <= size else value[:size] + "..."


def _lines(text: io.TextIOBase) -> Iterator[str]:
    while line := text.readline(MAX_LINE):
        if len(line) >= MAX_LINE and not line.endswith("\n"):
            raise ValueError(f"a line runs on past {MAX_LINE:,} characters")
        yield line


def retrace(fh: IO[bytes], records: Mapping[str, tuple[str, str]]) -> Retraced:
    """Check every row of the CSV in ``fh`` against ``records`` (record id -> the WARC member
    holding it, the SHA-256 of its payload)."""
    done = Retraced()
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    reader = csv.reader(_lines(text))
    try:
        header = next(reader, None)
        missing = [name for name in NEEDED if header is None or name not in header]
        if header is None or missing:
            done.problem(f"has no column(s) {', '.join(missing)}: not a lastseen indicators file")
            return done
        at = {name: header.index(name) for name in NEEDED}
        for number, row in enumerate(reader, start=1):
            done.rows += 1
            if len(row) != len(header):
                done.problem(f"row {number} has {len(row)} fields, not {len(header)}")
                continue
            label, member = row[at["derived_by"]].strip(), row[at["warc"]]
            record_id, digest = row[at["record_id"]], row[at["record_sha256"]].lower()
            if not label:
                done.problem(f"row {number} is not labelled derived (derived_by is empty)")
            elif len(done.labels) < _LABELS:
                done.labels.add(_short(label, 40))
            held = records.get(record_id)
            if held is None:
                done.problem(
                    f"row {number} names record {_short(record_id)}, which no WARC file of the "
                    f"bundle holds"
                )
            elif held[1] != digest:
                done.problem(
                    f"row {number} says record {_short(record_id)} has SHA-256 {_short(digest)}, "
                    f"but in {held[0]} it has {held[1]}"
                )
            elif member != held[0]:
                done.problem(
                    f"row {number} says record {_short(record_id)} is in {_short(member)}, but "
                    f"{held[0]} holds it"
                )
    except (csv.Error, UnicodeDecodeError, ValueError) as exc:
        done.problem(f"cannot be read as CSV after {done.rows} rows ({_short(str(exc))})")
    return done
