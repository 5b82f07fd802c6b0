"""The hash chain of the custody log, with nothing of the database: how an entry is hashed, and
how a run of entries is checked.

An entry's hash covers its sequence number, UTC time, actor, action, capture and details, and the
previous entry's hash, in canonical JSON; changing, removing or reordering any entry breaks every
hash after it. The first entry's ``prev_hash`` is 64 zeros. The catalog writes the log
(``archive.catalog.custody``); a bundle's ``custody.jsonl`` is checked offline with the same rules
(``archive.bundle.verify``), on a machine with no catalog.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    capture_id: int | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "capture_id": self.capture_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def entry_hash(fields: dict[str, Any]) -> str:
    body = {
        k: fields[k] for k in ("seq", "at", "actor", "action", "capture_id", "details", "prev_hash")
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_chain(chain: Iterable[Entry | dict[str, Any]]) -> list[str]:
    """Check a complete log from its first entry; returns the problems found (empty: intact)."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    for item in chain:
        fields = item.as_dict() if isinstance(item, Entry) else item
        if fields["seq"] != expected_seq:
            problems.append(f"entry {fields['seq']}: expected sequence number {expected_seq}")
        if fields["prev_hash"] != prev:
            problems.append(f"entry {fields['seq']}: does not follow the entry before it")
        if entry_hash(fields) != fields["hash"]:
            problems.append(f"entry {fields['seq']}: content does not match its hash")
        prev = fields["hash"]
        expected_seq = fields["seq"] + 1
    return problems


def verify_excerpt(entries: list[dict[str, Any]]) -> list[str]:
    """Check the entries a bundle carries (those about its captures, not the whole log): each
    matches its hash, they are in order, and entries that follow each other are linked."""
    if not entries:
        return ["no entries"]
    problems = []
    previous: dict[str, Any] | None = None
    for entry in entries:
        if entry_hash(entry) != entry["hash"]:
            problems.append(f"entry #{entry['seq']}: content does not match its hash")
        if previous is not None:
            if entry["seq"] <= previous["seq"]:
                problems.append(f"entry #{entry['seq']}: out of order")
            elif entry["seq"] == previous["seq"] + 1 and entry["prev_hash"] != previous["hash"]:
                problems.append(f"entry #{entry['seq']}: does not follow entry #{previous['seq']}")
        previous = entry
    return problems
