"""A WACZ 1.1.1 package of a case's WARCs, so that the case replays in ReplayWeb.page.

``archive/`` holds the WARCs as stored (ZIP STORE mode, as the spec asks, so that a player can
read records by range), ``indexes/index.cdxj`` is cdxj-indexer's sorted index of them,
``pages/pages.jsonl`` lists each captured page, ``datapackage.json`` the SHA-256 and size of every
file, and ``datapackage-digest.json`` the SHA-256 of ``datapackage.json``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Collection
from datetime import datetime
from typing import Any

from cdxj_indexer.main import CDXJIndexer

from archive.bundle.layout import DeterministicZip, canonical_json
from archive.times import rfc3339

WACZ_VERSION = "1.1.1"
INDEX = "indexes/index.cdxj"
PAGES = "pages/pages.jsonl"
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"


def _fields(line: str) -> dict[str, Any]:
    """The JSON part of a CDXJ line (``<surt> <timestamp> {...}``)."""
    fields = json.loads(line.split(" ", 2)[2])
    return fields if isinstance(fields, dict) else {}


class WaczWriter:
    """Add WARCs and pages, then ``close()``. ``created`` is given rather than read from the
    clock so that packaging the same captures twice gives the same bytes."""

    def __init__(self, path: str, title: str, created: datetime, software: str) -> None:
        self._zip = DeterministicZip(path, created)
        self._title = title
        self._created = created
        self._software = software
        self._index: list[str] = []
        self._pages: list[dict[str, Any]] = []

    def add_warc(
        self, name: str, path: str, size: int, only_offsets: Collection[int] | None = None
    ) -> None:
        """Index the WARC at ``path`` and store it as ``archive/<name>``; with ``only_offsets``,
        index only the records that start there (the originals another WARC's revisits need)."""
        lines = io.StringIO()
        CDXJIndexer(lines, [path], post_append=True, fields="referrer", filename=name).process_all()
        index = lines.getvalue().splitlines(keepends=True)
        if only_offsets is not None:
            keep = {str(offset) for offset in only_offsets}
            index = [line for line in index if str(_fields(line).get("offset")) in keep]
        self._index += index
        self._zip.add_file(f"archive/{name}", path, size, compress=False)

    def add_page(self, page_id: str, url: str, ts: datetime, title: str | None = None) -> None:
        page: dict[str, Any] = {"id": page_id, "url": url, "ts": rfc3339(ts)}
        if title:
            page["title"] = title
        self._pages.append(page)

    def close(self) -> None:
        self._zip.add_bytes(INDEX, "".join(sorted(set(self._index))).encode("utf-8"))
        header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
        pages = [json.dumps(p, sort_keys=True, ensure_ascii=False) for p in [header, *self._pages]]
        self._zip.add_bytes(PAGES, ("\n".join(pages) + "\n").encode("utf-8"))
        package: dict[str, Any] = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": self._title,
            "created": rfc3339(self._created),
            "software": self._software,
            "resources": [
                {
                    "name": os.path.basename(path).lower(),
                    "path": path,
                    "hash": f"sha256:{digest}",
                    "bytes": self._zip.sizes[path],
                }
                for path, digest in self._zip.sums.items()
            ],
        }
        if self._pages:
            package["mainPageURL"] = self._pages[0]["url"]
            package["mainPageDate"] = self._pages[0]["ts"]
        data = canonical_json(package)
        digest = self._zip.add_bytes(DATAPACKAGE, data)
        self._zip.add_bytes(
            DIGEST, canonical_json({"path": DATAPACKAGE, "hash": f"sha256:{digest}"})
        )
        self._zip.close()
