"""``GET /metrics``: the fleet's state in Prometheus' text format, what ``lastseen status`` shows
(queue depth by kind, workers alive and their captures per minute, lag of scheduled captures,
failures and backoffs by site). Behind a token like the API: give Prometheus one
(``authorization: {credentials: ...}`` in its scrape config)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from archive.catalog.workers import fleet_status
from crawler.service.auth import ApiUser
from crawler.service.desk import DeskDep

router = APIRouter()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(state: dict[str, Any]) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, samples: list[tuple[dict[str, Any], Any]]) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{shown}}} {value}" if shown else f"{name} {value}")

    metric("lastseen_jobs", "gauge", "Capture jobs by kind and status.", [
        ({"kind": kind, "status": status}, count)
        for kind, counts in state["queue"].items()
        for status, count in counts.items()
    ])  # fmt: skip
    workers = state["workers"]
    metric("lastseen_workers_alive", "gauge", "Workers heard of in the last minute.",
           [({}, len(workers))])  # fmt: skip
    metric("lastseen_worker_captures_per_minute", "gauge", "Captures per minute, last 5 minutes.", [
        ({"worker": w["name"], "host": w["host"], "pid": w["pid"]}, w["captures_per_min"])
        for w in workers
    ])  # fmt: skip
    metric("lastseen_worker_jobs_running", "gauge", "Jobs each worker is capturing.", [
        ({"worker": w["name"], "host": w["host"], "pid": w["pid"]}, len(w["current"]))
        for w in workers
    ])  # fmt: skip
    lag = state["lag_s"]
    metric("lastseen_scheduled_lag_seconds", "gauge",
           "Start of scheduled captures behind their due time, last hour.", [
               ({"quantile": q}, lag[key]) for q, key in (("0.5", "p50"), ("0.95", "p95"))
               if lag[key] is not None
           ])  # fmt: skip
    metric("lastseen_jobs_failed", "gauge", "Jobs given up in the last 24 hours, by site.",
           [({"site": host}, n) for host, n in sorted(state["failures"].items())])  # fmt: skip
    metric("lastseen_site_backed_off", "gauge", "Sites every worker leaves alone after refusals.",
           [({"site": host}, 1) for host in sorted(state["backed_off"])])  # fmt: skip
    return "\n".join(lines) + "\n"


@router.get("/metrics", tags=["health"], summary="The fleet's state, Prometheus text format")
def metrics(user: ApiUser, desk: DeskDep) -> PlainTextResponse:
    return PlainTextResponse(exposition(fleet_status(desk.catalog)), media_type=CONTENT_TYPE)
