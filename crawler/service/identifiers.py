"""Identifiers in the service: search by identifier (API and page), what a capture shares.

An investigator types a number, a handle or an IBAN in any written form and gets every capture
that shows it, each with the evidence record (id, SHA-256, byte offset); a capture's page lists
its identifiers, each linked to the other captures that show it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from archive.catalog.requests import RequestRow
from archive.derive import search
from archive.derive.indicators import phone_regions
from crawler.service.auth import ApiUser, UiUser
from crawler.service.desk import MAX_CASE, Desk, DeskDep

# The API's routes are described in /docs; the search page is not (like ui.py's pages).
router = APIRouter()
MAX_VALUE = 300


def _with_requests(desk: Desk, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each hit (and each other capture an identifier names) with the capture request whose page
    shows its capture (None: a capture of a crawl, which has no page)."""
    ids = {h["capture_id"] for h in hits if "capture_id" in h}
    ids |= {o["capture_id"] for h in hits for o in h.get("others", [])}
    query = select(RequestRow.capture_id, RequestRow.id)
    with desk.catalog.session() as s:
        pages = dict(s.execute(query.where(RequestRow.capture_id.in_(sorted(ids)))).all())
    for h in hits:
        if "capture_id" in h:
            h["request_id"] = pages.get(h["capture_id"])
        for o in h.get("others", []):
            o["request_id"] = pages.get(o["capture_id"])
    return hits


def _across_cases(desk: Desk, user: str) -> None:
    """Search answers with captures of every case: not for a token limited to some."""
    if desk.limited(user):
        desk.deny(user, "search", None)
        raise HTTPException(403, f"{user} is limited to some cases: no search across cases")


def find(desk: Desk, value: str, case: str | None) -> list[dict[str, Any]]:
    with desk.catalog.session() as s:
        hits = search.find_value(s, value, phone_regions(), case)
    return _with_requests(desk, hits)


def shared(desk: Desk, capture_id: int) -> list[dict[str, Any]]:
    with desk.catalog.session() as s:
        found = search.shared(s, capture_id)
    return _with_requests(desk, found)


@router.get(
    "/api/search",
    tags=["identifiers"],
    summary="Captures that show an identifier: a phone number in any written form, a handle, "
    "a link, an e-mail, an IBAN, a wallet",
)
async def api_search(
    user: ApiUser,
    desk: DeskDep,
    value: Annotated[str, Query(min_length=1, max_length=MAX_VALUE)],
    case: Annotated[str | None, Query(max_length=MAX_CASE)] = None,
) -> dict[str, Any]:
    _across_cases(desk, user)
    return {"value": value, "results": await run_in_threadpool(find, desk, value, case)}


@router.get(
    "/api/captures/{report_id}/identifiers",
    tags=["identifiers"],
    summary="The identifiers and photos of a request's capture, each with the other captures "
    "that show it",
)
async def api_identifiers(report_id: int, user: ApiUser, desk: DeskDep) -> dict[str, Any]:
    _across_cases(desk, user)
    row = desk.find(report_id, user)
    if row.capture_id is None:
        raise HTTPException(409, f"capture request {report_id} is not captured yet")
    identifiers = await run_in_threadpool(shared, desk, row.capture_id)
    return {"capture_id": row.capture_id, "identifiers": identifiers}


@router.get("/search", include_in_schema=False)
async def search_page(
    request: Request, user: UiUser, desk: DeskDep, q: str = "", case: str = ""
) -> HTMLResponse:
    _across_cases(desk, user)
    q, case = q.strip()[:MAX_VALUE], case.strip()[:MAX_CASE]
    hits = await run_in_threadpool(find, desk, q, case or None) if q else []
    templates: Jinja2Templates = request.app.state.templates
    context = {"user": user, "q": q, "case": case, "hits": hits}
    return templates.TemplateResponse(request, "search.html", context)
