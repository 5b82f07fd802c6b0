"""Searches over what captures showed: by identifier in any written form, and what a capture
shares with others. The CLI (`lastseen search`) and the service's API and pages ask these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from archive.catalog import findings, photohashes
from archive.derive.indicators import family, query_values


def find_value(
    session: Session, value: str, regions: Sequence[str], case_id: str | None = None
) -> list[dict[str, Any]]:
    """Every finding of ``value`` (typed in any form), each with its capture and record."""
    values = [v for _, v in query_values(value, regions)]
    return [
        {**findings.capture_ref(c), **f.as_dict()}
        for f, c in findings.search_values(session, values, case_id)
    ]


def shared(session: Session, capture_id: int) -> list[dict[str, Any]]:
    """The capture's identifiers, each once, with the other captures that show it too."""
    mine = findings.of_capture(session, capture_id)
    distinct: dict[tuple[str, str], dict[str, Any]] = {}
    for f in mine:
        key = (family(f.kind), f.value)
        entry = distinct.setdefault(
            key, {"kind": key[0], "value": f.value, "raw": f.raw, "records": [], "others": []}
        )
        entry["records"].append(
            {
                "record_id": f.record_id,
                "record_sha256": f.record_sha256,
                "offset": f.offset,
                "source": f.source,
            }  # fmt: skip
        )
    values = sorted({value for _, value in distinct})
    seen: dict[str, set[int]] = {}
    for f, c in findings.search_values(session, values):
        if c.id == capture_id or c.id in seen.setdefault(f.value, set()):
            continue
        seen[f.value].add(c.id)
        for (_, value), entry in distinct.items():
            if value == f.value:
                entry["others"].append(findings.capture_ref(c))
    for photo in photohashes.of_capture(session, capture_id):
        others = [
            {**findings.capture_ref(c), "distance": d}
            for d, _, c in photohashes.similar(session, photo.pdq)
            if c.id != capture_id
        ]
        unique = list({o["capture_id"]: o for o in others}.values())
        distinct[("image", photo.pdq)] = {
            "kind": "image",
            "value": photo.pdq,
            "raw": photo.url,
            "records": [{"record_id": photo.record_id, "record_sha256": photo.record_sha256}],
            "others": unique,
        }
    return sorted(distinct.values(), key=lambda e: (-len(e["others"]), e["kind"], e["value"]))
