"""The model of a bundle's contents: ``manifest.json`` (for programs and ``lastseen verify``) and
what the report shows (for people; ``archive.bundle.report`` renders it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.bundle import layout
from archive.bundle.collect import Collected, Referenced
from archive.chain import Entry
from archive.times import rfc3339, rfc3339_or_none
from archive.version import lastseen_version


@dataclass(frozen=True)
class Contents:
    """What a bundle holds, as its manifest and its report describe it."""

    case: str
    lang: str
    fingerprint: str  # of the signing key
    captures: list[Collected]
    referenced: list[Referenced]  # in the order of their member names
    wacz: str  # member name
    when: datetime  # the latest moment any of the captures describes
    tsa_configured: bool

    def manifest(self, plan: list[str], failures: list[dict[str, str]]) -> dict[str, Any]:
        """``manifest.json``: what the bundle holds, for programs (and ``lastseen verify``)."""
        return {
            "format": layout.FORMAT,
            "case": self.case,
            "software": software(),
            "language": self.lang,
            "signing_key": {"file": layout.PUBLIC_KEY, "sha256": self.fingerprint},
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
                for r in self.referenced
            ],
            "wacz": self.wacz,
            "custody": layout.CUSTODY,
            "timestamps": {
                "tokens": [
                    {"file": layout.token_name(i), "tsa": url} for i, url in enumerate(plan)
                ],
                "failed": failures,
            },
        }

    def report_model(
        self,
        sizes: dict[str, int],
        sums: dict[str, str],
        entries: list[Entry],
        export_seq: int,
        plan: list[str],
        failures: list[dict[str, str]],
    ) -> dict[str, Any]:
        """What the report (``archive.bundle.report``) shows: the manifest's facts, and the size
        and SHA-256 of every file, the custody entries, the timestamps asked for."""
        listed = sorted(n for n in sums if n not in (layout.REPORT_HTML, layout.REPORT_PDF))
        owners = {c.warc: (c.row, True) for c in self.captures}
        owners.update({r.member: (r.row, False) for r in self.referenced})
        captures = []
        for capture in self.captures:
            facts = _capture_facts(capture)
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
            for r in self.referenced
        ]
        return {
            "case": self.case,
            "software": software(),
            "captures": captures,
            "first_capture": rfc3339(min(c.row.captured_at for c in self.captures)),
            "last_capture": rfc3339_or_none(self.when),
            "members": [{"name": n, "sha256": sums[n], "size": sizes[n]} for n in listed],
            "referenced": referenced,
            "wacz": self.wacz,
            "fingerprint": self.fingerprint,
            "custody": [_entry_view(e) for e in entries],
            "export_seq": export_seq,
            "timestamps": [{"file": layout.token_name(i), "tsa": u} for i, u in enumerate(plan)],
            "timestamp_failures": failures,
            "tsa_configured": self.tsa_configured,
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
                "indicators": layout.INDICATORS,
            },
        }


def _capture_facts(capture: Collected) -> dict[str, Any]:
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
        "signed_in": _signed_in(prov),
        "videos": capture.videos,
    }


def _signed_in(prov: dict[str, Any]) -> dict[str, Any] | None:
    """The account a capture was made signed in as, and how many session values it redacted."""
    redaction = prov.get("redaction")
    if not isinstance(redaction, dict):
        return None
    return {
        "profile": redaction.get("profile"),
        "account": redaction.get("account"),
        "redacted": int(redaction.get("redacted") or 0),
    }


def _entry_view(entry: Entry) -> dict[str, Any]:
    view = entry.as_dict()
    view["details_json"] = json.dumps(entry.details, sort_keys=True, ensure_ascii=False)
    return view


def software() -> str:
    return f"lastseen {lastseen_version()}"
