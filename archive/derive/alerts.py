"""Alerts: a new capture shows an identifier investigators want to hear about at once.

Two reasons: the identifier is on the watch list (``lastseen watchlist add``), or (when asked
for, with the kinds asked for) it was already seen in another case: the same number in a new
ad, the same photo in another city. Each identifier alerts once per case (the catalog keeps
what was raised), and each alert is POSTed as JSON to ``LASTSEEN_ALERT_URL`` when it is set.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from archive.catalog import alerts as catalog_alerts
from archive.catalog import findings as catalog_findings
from archive.catalog import photohashes
from archive.catalog.alerts import KNOWN, WATCHED, AlertRow
from archive.catalog.db import CaptureRow
from archive.catalog.findings import FindingRow
from archive.derive.indicators import PHONE, family
from archive.exceptions import ConfigError
from archive.seal.archive import Archive
from archive.times import rfc3339_or_none

log = logging.getLogger(__name__)

IMAGE = "image"
# Words a seed's ``alert:`` list and LASTSEEN_ALERT_KINDS may use; "phone" covers numbers found
# as WhatsApp, Viber or Signal links too.
ALERT_KINDS = frozenset(
    [
        PHONE,
        IMAGE,
        "telegram",
        "whatsapp-group",
        "telegram-invite",
        "signal-username",
        "skype",
        "snapchat",
        "instagram",
        "facebook",
        "tiktok",
        "vk",
        "email",
        "iban",
        "be-reference",
        "btc",
        "eth",
        "trx",
    ]
)
POST_TIMEOUT = 5.0


def parse_kinds(value: str | list[str] | None) -> frozenset[str]:
    """Alert kinds from a comma-separated string or a list; ConfigError names an unknown one."""
    if value is None:
        return frozenset()
    words = value.split(",") if isinstance(value, str) else value
    kinds = frozenset(w.strip().lower() for w in words if w and w.strip())
    unknown = sorted(kinds - ALERT_KINDS)
    if unknown:
        raise ConfigError(
            f"unknown alert kind(s) {', '.join(unknown)}; known: {', '.join(sorted(ALERT_KINDS))}"
        )
    return kinds


@dataclass(frozen=True)
class AlertPolicy:
    """What raises an alert besides the watch list, and where alerts are sent."""

    known: frozenset[str] = frozenset()  # kinds that alert when seen in another case
    url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> AlertPolicy:
        env = os.environ if environ is None else environ
        known = parse_kinds(env.get("LASTSEEN_ALERT_KNOWN") or None)
        values: dict[str, Any] = {"known": known, "url": env.get("LASTSEEN_ALERT_URL") or None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _seen_elsewhere(
    session: Any, row: CaptureRow, values: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each value, the captures of other cases that showed it (first five)."""
    query = (
        select(FindingRow.value, CaptureRow)
        .join(CaptureRow, CaptureRow.id == FindingRow.capture_id)
        .where(FindingRow.value.in_(values))
        .where(CaptureRow.case_id.is_distinct_from(row.case_id))
        .order_by(CaptureRow.captured_at)
    )
    seen: dict[str, list[dict[str, Any]]] = {}
    for value, capture in session.execute(query):
        refs = seen.setdefault(value, [])
        if len(refs) < 5 and all(r["capture_id"] != capture.id for r in refs):
            refs.append(catalog_findings.capture_ref(capture))
    return seen


def raise_alerts(archive: Archive, row: CaptureRow, policy: AlertPolicy) -> list[dict[str, Any]]:
    """The capture's new alerts (none raised before is repeated), delivered if a URL is set."""
    now = datetime.now(UTC)
    raised: list[dict[str, Any]] = []
    with archive.catalog.session() as s:
        found = catalog_findings.of_capture(s, row.id)
        # A number found as text and as a WhatsApp link is one finding: one alert.
        pairs = list(dict.fromkeys((family(f.kind), f.value) for f in found))
        on_list = catalog_alerts.watched(s, pairs)
        wanted = [p for p in pairs if p[0] in policy.known]
        elsewhere = _seen_elsewhere(s, row, [v for _, v in wanted]) if wanted else {}
        hits: list[tuple[str, str, str, list[dict[str, Any]]]] = []
        for kind, value in pairs:
            if (kind, value) in on_list:
                hits.append((kind, value, WATCHED, elsewhere.get(value, [])))
            elif (kind, value) in wanted and value in elsewhere:
                hits.append((kind, value, KNOWN, elsewhere[value]))
        if IMAGE in policy.known:
            for photo in photohashes.of_capture(s, row.id):
                others = [
                    {**catalog_findings.capture_ref(c), "distance": d, "photo_url": p.url}
                    for d, p, c in photohashes.similar(s, photo.pdq)
                    if c.case_id != row.case_id
                ]
                if others:
                    hits.append((IMAGE, photo.pdq, KNOWN, others[:5]))
        for kind, value, reason, others in hits:
            if catalog_alerts.raise_once(s, kind, value, row.case_id, row.id, reason, now):
                raised.append(
                    {
                        "alert": reason,
                        "kind": kind,
                        "value": value,
                        "capture": catalog_findings.capture_ref(row),
                        "seen_in": others,
                        "raised_at": rfc3339_or_none(now),
                    }
                )
    if raised and policy.url:
        delivered = [a for a in raised if _post(policy.url, a)]
        if delivered:
            with archive.catalog.session() as s:
                s.execute(
                    update(AlertRow)
                    .where(AlertRow.capture_id == row.id)
                    .where(AlertRow.value.in_([a["value"] for a in delivered]))
                    .values(delivered_at=datetime.now(UTC))
                )
    return raised


def _post(url: str, alert: dict[str, Any]) -> bool:
    body = json.dumps(alert, ensure_ascii=False, sort_keys=True).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT) as response:  # noqa: S310
            return bool(200 <= response.status < 300)
    except OSError as exc:
        log.warning("alert not delivered to %s: %s", url, exc)
        return False


def describe(alert: dict[str, Any]) -> str:
    """The one line a crawl's log and summary print for an alert."""
    where = ", ".join(
        f"capture {o['capture_id']} (case {o['case'] or '-'})" for o in alert["seen_in"]
    )
    why = "on the watch list" if alert["alert"] == WATCHED else "seen in another case"
    line = f"alert: {alert['kind']} {alert['value']} in capture {alert['capture']['capture_id']}"
    return f"{line} is {why}" + (f": {where}" if where else "")
