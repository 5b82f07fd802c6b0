"""The link graph of a case: which captures share which identifiers and photos.

Nodes are captures and identifiers; an edge says a capture shows an identifier (with the record
that proves it). Photos within PDQ distance 31 of each other are one identifier ("photo"),
named after the first of them; a number found as a WhatsApp, Viber or Signal link is the same
node as the number written in the text. Connected groups (ads linked through any chain of shared
identifiers) are numbered from 1, largest first; the graph is written as CSV (one edge a row),
GraphML (for Maltego, i2 Analyst's Notebook, Gephi) or JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.catalog import findings as catalog_findings
from archive.catalog import photohashes
from archive.catalog.db import CaptureRow
from archive.catalog.photohashes import PhotoRow
from archive.derive.alerts import IMAGE
from archive.derive.indicators import family
from archive.times import rfc3339_or_none

FORMATS = ("csv", "graphml", "json")


@dataclass
class Edge:
    capture_id: int
    node: str  # "kind:value"
    raw: str
    record_id: str
    record_sha256: str
    warc: str


@dataclass
class Graph:
    captures: dict[int, CaptureRow] = field(default_factory=dict)
    identifiers: dict[str, tuple[str, str]] = field(default_factory=dict)  # node -> kind, value
    edges: list[Edge] = field(default_factory=list)
    group: dict[str, int] = field(default_factory=dict)  # node ("capture:N" too) -> group


def _find(parent: dict[str, str], node: str) -> str:
    while parent.setdefault(node, node) != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def build(session: Session, case_id: str, capture_ids: Collection[int] | None = None) -> Graph:
    """The graph of the case's captures (or of these captures of the case)."""
    graph = Graph()
    query = select(CaptureRow).where(CaptureRow.case_id == case_id).order_by(CaptureRow.id)
    wanted = None if capture_ids is None else set(capture_ids)
    graph.captures = {c.id: c for c in session.scalars(query) if wanted is None or c.id in wanted}
    for f in catalog_findings.of_case(session, case_id):
        if f.capture_id not in graph.captures:
            continue
        node = f"{family(f.kind)}:{f.value}"
        graph.identifiers[node] = (family(f.kind), f.value)
        graph.edges.append(
            Edge(f.capture_id, node, f.raw, f.record_id, f.record_sha256, f.warc_name)
        )
    photos: list[PhotoRow] = []
    for capture_id in graph.captures:
        photos.extend(photohashes.of_capture(session, capture_id))
    # Alike photos become one node, named after the first photo of the case in the cluster.
    named: dict[int, str] = {}
    for photo in photos:
        if photo.id in named:
            continue
        node = f"{IMAGE}:{photo.pdq}"
        graph.identifiers[node] = (IMAGE, photo.pdq)
        for _, other, _ in photohashes.similar(session, photo.pdq, case_id=case_id):
            if other.capture_id in graph.captures:
                named.setdefault(other.id, node)
        named.setdefault(photo.id, node)
    for photo in photos:
        graph.edges.append(
            Edge(
                photo.capture_id,
                named[photo.id],
                photo.url,
                photo.record_id,
                photo.record_sha256,
                photo.warc_name,
            )
        )
    # Collapse duplicate edges (the same identifier in the DOM and the HTML of one capture).
    unique: dict[tuple[int, str], Edge] = {}
    for edge in graph.edges:
        unique.setdefault((edge.capture_id, edge.node), edge)
    graph.edges = list(unique.values())
    parent: dict[str, str] = {}
    for capture_id in graph.captures:
        _find(parent, f"capture:{capture_id}")
    for edge in graph.edges:
        a, b = _find(parent, f"capture:{edge.capture_id}"), _find(parent, edge.node)
        parent[a] = b
    members: dict[str, list[str]] = {}
    for node in parent:
        members.setdefault(_find(parent, node), []).append(node)
    ordered = sorted(
        members.values(),
        key=lambda ms: (-sum(m.startswith("capture:") for m in ms), min(_capture_order(ms))),
    )
    for number, nodes in enumerate(ordered, start=1):
        for node in nodes:
            graph.group[node] = number
    return graph


def listing(graph: Graph) -> list[dict[str, Any]]:
    """Each identifier with the captures that show it (the export's report lists them): those
    shown by the most captures first, then by group, kind and value. A photo is named by its
    hash and the address of the image in the first capture that shows it."""
    shown: dict[str, set[int]] = {}
    photo_url: dict[str, tuple[int, str]] = {}
    for e in graph.edges:
        shown.setdefault(e.node, set()).add(e.capture_id)
        if graph.identifiers[e.node][0] == IMAGE:
            photo_url[e.node] = min(
                photo_url.get(e.node, (e.capture_id, e.raw)), (e.capture_id, e.raw)
            )
    order = sorted(shown, key=lambda n: (-len(shown[n]), graph.group[n], *graph.identifiers[n]))
    return [
        {
            "kind": graph.identifiers[node][0],
            "value": graph.identifiers[node][1],
            "captures": sorted(shown[node]),
            "group": graph.group[node],
            "photo_url": photo_url[node][1] if node in photo_url else None,
        }
        for node in order
    ]


def _capture_order(nodes: list[str]) -> list[int]:
    return [int(n.split(":", 1)[1]) for n in nodes if n.startswith("capture:")] or [0]


def _capture_fields(row: CaptureRow) -> dict[str, Any]:
    return {
        "capture_id": row.id,
        "url": row.url,
        "captured_at": rfc3339_or_none(row.captured_at),
        "case": row.case_id,
    }


def as_json(graph: Graph) -> dict[str, Any]:
    groups: dict[int, dict[str, Any]] = {}
    for node, number in sorted(graph.group.items(), key=lambda t: t[1]):
        group = groups.setdefault(number, {"group": number, "captures": [], "identifiers": []})
        if node.startswith("capture:"):
            group["captures"].append(_capture_fields(graph.captures[int(node.split(":")[1])]))
        else:
            kind, value = graph.identifiers[node]
            shown_by = sorted({e.capture_id for e in graph.edges if e.node == node})
            group["identifiers"].append({"kind": kind, "value": value, "captures": shown_by})
    edges = [
        {
            "capture_id": e.capture_id,
            "kind": graph.identifiers[e.node][0],
            "value": graph.identifiers[e.node][1],
            "raw": e.raw,
            "record_id": e.record_id,
            "record_sha256": e.record_sha256,
            "warc": e.warc,
        }
        for e in graph.edges
    ]
    return {"groups": list(groups.values()), "edges": edges}


CSV_FIELDS = (
    "group", "capture_id", "url", "captured_at", "kind", "value", "raw", "record_id",
    "record_sha256", "warc",
)  # fmt: skip


def as_csv(graph: Graph) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for e in sorted(graph.edges, key=lambda e: (graph.group[e.node], e.capture_id, e.node)):
        capture = graph.captures[e.capture_id]
        kind, value = graph.identifiers[e.node]
        writer.writerow(
            [
                graph.group[e.node],
                e.capture_id,
                capture.url,
                rfc3339_or_none(capture.captured_at),
                kind,
                value,
                e.raw,
                e.record_id,
                e.record_sha256,
                e.warc,
            ]  # fmt: skip
        )
    return out.getvalue()


def as_graphml(graph: Graph) -> str:
    keys = [
        ("type", "node"), ("label", "node"), ("group", "node"), ("kind", "node"),
        ("url", "node"), ("captured_at", "node"), ("record_id", "edge"),
        ("record_sha256", "edge"), ("raw", "edge"),
    ]  # fmt: skip
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
        *(
            f'  <key id="{name}" for="{kind}" attr.name="{name}" attr.type="string"/>'
            for name, kind in keys
        ),
        '  <graph id="links" edgedefault="undirected">',
    ]

    def data(name: str, value: Any) -> str:
        return f'<data key="{name}">{escape(str(value))}</data>'

    for capture_id, row in graph.captures.items():
        node = f"capture:{capture_id}"
        lines.append(
            f"    <node id={quoteattr(node)}>{data('type', 'capture')}"
            f"{data('label', f'capture {capture_id}')}{data('group', graph.group[node])}"
            f"{data('url', row.url)}{data('captured_at', rfc3339_or_none(row.captured_at))}</node>"
        )
    for node, (kind, value) in graph.identifiers.items():
        lines.append(
            f"    <node id={quoteattr(node)}>{data('type', 'identifier')}"
            f"{data('label', value)}{data('kind', kind)}{data('group', graph.group[node])}</node>"
        )
    for e in graph.edges:
        lines.append(
            f"    <edge source={quoteattr(f'capture:{e.capture_id}')} target={quoteattr(e.node)}>"
            f"{data('record_id', e.record_id)}{data('record_sha256', e.record_sha256)}"
            f"{data('raw', e.raw)}</edge>"
        )
    lines += ["  </graph>", "</graphml>", ""]
    return "\n".join(lines)
