"""The JSON API: report a URL (``POST /api/captures``), follow its capture request, download the
sealed files; its OpenAPI description and Swagger UI; the health check.

The path parameter keeps its published name, ``report_id``: it is the capture request's id.
Handlers are plain ``def``, except the one that awaits the URL guard's DNS lookup, so that
database and file work runs in the server's thread pool, off the event loop.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import text

from archive.catalog import requests as capture_requests
from crawler.service.auth import ApiUser
from crawler.service.desk import FILES, MAX_CASE, Desk, DeskDep, ReportIn
from crawler.service.headers import captured_headers

CHUNK = 64 * 1024
EXTENSIONS = {"screenshot": "png", "pdf": "pdf", "dom": "html"}

router = APIRouter()


class Accepted(BaseModel):
    id: int
    status: str


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: ApiUser) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def docs(request: Request, user: ApiUser) -> HTMLResponse:
    # Our own page, not FastAPI's: that one starts Swagger UI with an inline script, which the
    # service's Content-Security-Policy does not run (static/docs.js does it instead).
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "docs.html", {})


@router.get("/healthz", tags=["health"], summary="Liveness and catalog reachability (no token)")
def healthz(desk: DeskDep) -> dict[str, str]:
    with desk.catalog.session() as s:
        s.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.post(
    "/api/captures",
    status_code=202,
    response_model=Accepted,
    tags=["captures"],
    summary="Report a URL to capture now",
    responses={
        401: {"description": "Missing or wrong token"},
        413: {"description": "Request body too large"},
        429: {"description": "Too many reports by this token: see Retry-After"},
        422: {"description": "Invalid input, or a URL pointing into a private network"},
    },
)
async def post_capture(asked: ReportIn, user: ApiUser, desk: DeskDep) -> Any:
    row = await desk.accept(asked, user, via="api")
    if row.status == capture_requests.REFUSED:
        return JSONResponse(
            {"detail": f"URL refused: {row.error}", "id": row.id, "status": row.status},
            status_code=422,
        )
    return JSONResponse(
        {"id": row.id, "status": row.status},
        status_code=202,
        headers={"Location": f"/api/captures/{row.id}"},
    )


@router.get("/api/captures", tags=["captures"], summary="Capture requests, newest first")
def list_captures(
    user: ApiUser,
    desk: DeskDep,
    case: Annotated[str | None, Query(max_length=MAX_CASE)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    return {"captures": desk.listing(case, limit, user)}


@router.get(
    "/api/profiles",
    tags=["profiles"],
    summary="The browser profiles this token may capture with, signed in or signed out since when",
)
def list_profiles(user: ApiUser, desk: DeskDep) -> dict[str, Any]:
    return {"profiles": desk.profile_listing(user)}


@router.get(
    "/api/captures/{report_id}",
    tags=["captures"],
    summary="Status of a capture request; with the capture's fields once stored",
)
def get_capture(report_id: int, user: ApiUser, desk: DeskDep) -> dict[str, Any]:
    return desk.described(desk.find(report_id, user))


@router.get(
    "/api/captures/{report_id}/warc",
    tags=["captures"],
    summary="The sealed WARC file (the download is recorded in the custody log)",
)
def get_warc(report_id: int, user: ApiUser, desk: DeskDep) -> StreamingResponse:
    stored = desk.stored(report_id, user)
    captured = stored.capture
    stream = desk.archive.open_file(captured.warc_name)
    desk.log_access(user, stored, "warc", captured.warc_sha256)

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type="application/warc",
        headers={
            **captured_headers(Path(captured.warc_name).name),
            "Content-Length": str(captured.warc_size),
            "Repr-Digest": _repr_digest(captured.warc_sha256),
        },
    )


def record_file(report_id: int, kind: str, user: str, desk: Desk) -> Response:
    """A file the capture holds as a WARC record (screenshot, PDF, DOM)."""
    stored = desk.stored(report_id, user)
    captured = stored.capture
    if kind not in captured.records:
        raise HTTPException(404, f"capture {captured.id} has no {kind}")
    data = desk.archive.read_record(captured, kind)
    sha = captured.records[kind].get("sha256") or ""
    desk.log_access(user, stored, kind, sha)
    name = f"capture-{captured.id}-{kind}.{EXTENSIONS[kind]}"
    return Response(
        data,
        media_type=FILES[kind],
        headers={
            # The screenshot still shows in an <img>: images ignore Content-Disposition.
            **captured_headers(name),
            "Repr-Digest": _repr_digest(sha),
            "Cache-Control": "private, max-age=86400, immutable",
        },
    )


def _record_route(kind: str) -> Callable[..., Response]:
    # One route per kind, so that each is its own path in OpenAPI, as published.
    def get_file(report_id: int, user: ApiUser, desk: DeskDep) -> Response:
        return record_file(report_id, kind, user, desk)

    return get_file


for _kind in FILES:
    router.add_api_route(
        f"/api/captures/{{report_id}}/{_kind}",
        _record_route(_kind),
        methods=["GET"],
        tags=["captures"],
        summary=f"The capture's {_kind} (the download is recorded in the custody log)",
        response_class=Response,
        name=f"get_{_kind}",
    )


async def invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, written as ASCII JSON: the input it echoes may hold a lone surrogate
    (``"\\ud800"`` in a JSON body), which cannot be written as UTF-8."""
    assert isinstance(exc, RequestValidationError)
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


def _repr_digest(sha_hex: str) -> str:
    """RFC 9530 ``Repr-Digest``: lets a client check the bytes it received."""
    if not sha_hex:
        return ""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha_hex)).decode()}:"
