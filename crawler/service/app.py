"""The ASGI app of ``lastseen serve``: the capture API, its OpenAPI page, and the web UI.

Handlers only read and write the catalog (capture requests in, captures and custody out);
captures are made by the worker processes, which share the catalog and the store. Handlers are
plain ``def`` so that database and file work runs in the server's thread pool, off the event loop.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations, and the
# token dependencies are local to create_app, where string annotations could not be resolved.
import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import fastapi_offline
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from archive import Archive
from archive.catalog import custody
from archive.catalog import requests as capture_requests
from archive.catalog.db import CaptureRow, capture_summary
from archive.catalog.requests import RequestRow, request_summary
from crawler.exceptions import InputError
from crawler.plan.seeds import check_url
from crawler.service.auth import COOKIE, Tokens, bearer
from crawler.service.config import ServiceConfig

HERE = Path(__file__).parent
# Swagger UI and its stylesheet as fastapi-offline packages them (no CDN).
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
bearer_scheme = HTTPBearer(auto_error=False, description="A token of LASTSEEN_API_TOKEN")
MAX_URL = 2048
MAX_CASE = 200
MAX_NOTE = 2000
CHUNK = 64 * 1024

# Files of a capture that can be downloaded, besides the WARC itself: WARC record -> media type.
FILES = {"screenshot": "image/png", "pdf": "application/pdf", "dom": "text/html; charset=utf-8"}
EXTENSIONS = {"screenshot": "png", "pdf": "pdf", "dom": "html"}


def _clean_text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError(f"{what} cannot contain control characters")
    return value or None


class ReportIn(BaseModel):
    """A URL to capture now."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL, description="http or https URL to capture")
    case: str | None = Field(default=None, max_length=MAX_CASE, description="Case number")
    note: str | None = Field(default=None, max_length=MAX_NOTE, description="Why it matters")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return check_url(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("case")
    @classmethod
    def _case(cls, value: str | None) -> str | None:
        value = _clean_text(value, "case")
        if value and "\n" in value:
            raise ValueError("case must be one line")
        return value

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return _clean_text(value, "note")


class Accepted(BaseModel):
    id: int
    status: str


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not they declare a length."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def limited_receive() -> Any:
            # Past the limit the client is answered 413 here, and the app is told the client
            # went away (an exception would be turned into a 400 by the body parser).
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, send: Any) -> None:
        body = b'{"detail":"request body too large (at most %d bytes)"}' % self.max_bytes
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _LoginNeeded(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def create_app(config: ServiceConfig, archive: Archive) -> FastAPI:
    tokens = Tokens(config.tokens)
    guard = config.guard
    catalog = archive.catalog
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    app = FastAPI(
        title="lastseen capture service",
        summary="Report a URL; it is rendered, recorded as WARC and sealed with SHA-256.",
        description=(
            "Every endpoint but `/healthz` needs `Authorization: Bearer <token>`. "
            "The token's name is recorded as the reporter in the custody log."
        ),
        version=_version(),
        # Served below behind the token like everything else.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # Swagger UI from the installed package, not a CDN: the service often runs on a closed network.
    app.mount("/docs-ui", StaticFiles(directory=str(SWAGGER_UI)), name="docs-ui")

    # -- who is asking -------------------------------------------------------------------

    def api_user(
        request: Request,
        # Declared so that OpenAPI (and the Authorize button of /docs) knows the scheme.
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> str:
        name = tokens.name_of(bearer(request.headers.get("authorization"))) or tokens.name_of(
            request.cookies.get(COOKIE)
        )
        if name is None:
            raise HTTPException(
                401,
                "a valid token is needed: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": 'Bearer realm="lastseen"'},
            )
        return name

    def ui_user(request: Request) -> str:
        name = tokens.name_of(request.cookies.get(COOKIE))
        if name is None:
            raise _LoginNeeded(request.url.path)
        return name

    ApiUser = Annotated[str, Depends(api_user)]
    UiUser = Annotated[str, Depends(ui_user)]

    @app.exception_handler(_LoginNeeded)
    async def _to_login(request: Request, exc: _LoginNeeded) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    # -- shared steps ----------------------------------------------------------------------

    async def accept(report: ReportIn, reporter: str, via: str) -> RequestRow:
        refusal = await guard.refusal(report.url, fail_unresolved=False)
        return await _in_thread(
            capture_requests.submit,
            catalog,
            url=report.url,
            reporter=reporter,
            case_id=report.case,
            note=report.note,
            dedup_seconds=config.dedup_seconds,
            refused=refusal,
            via=via,
        )

    def report_or_404(report_id: int) -> RequestRow:
        row = capture_requests.get(catalog, report_id)
        if row is None:
            raise HTTPException(404, f"no capture request with id {report_id}")
        return row

    def capture_of(row: RequestRow) -> CaptureRow | None:
        return catalog.get(row.capture_id) if row.capture_id is not None else None

    def described(row: RequestRow) -> dict[str, Any]:
        out = request_summary(row)
        captured = capture_of(row)
        out["capture"] = capture_summary(captured) if captured is not None else None
        return out

    def stored_capture(report_id: int) -> tuple[RequestRow, CaptureRow]:
        row = report_or_404(report_id)
        captured = capture_of(row)
        if captured is None:
            raise HTTPException(404, f"capture request {report_id} is {row.status}, not stored")
        return row, captured

    def log_access(user: str, row: RequestRow, captured: CaptureRow, what: str, sha: str) -> None:
        with catalog.session() as s:
            custody.append(
                catalog,
                s,
                actor=user,
                action=custody.ACCESS,
                capture_id=captured.id,
                details={"file": what, "sha256": sha, "report": row.id, "via": "service"},
            )

    def record_file(user: str, report_id: int, kind: str) -> Response:
        row, captured = stored_capture(report_id)
        if kind not in captured.records:
            raise HTTPException(404, f"capture {captured.id} has no {kind}")
        data = archive.read_record(captured, kind)
        sha = captured.records[kind].get("sha256") or ""
        log_access(user, row, captured, kind, sha)
        name = f"capture-{captured.id}-{kind}.{EXTENSIONS[kind]}"
        return Response(
            data,
            media_type=FILES[kind],
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "Repr-Digest": _repr_digest(sha),
                "Cache-Control": "private, max-age=86400, immutable",
            },
        )

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: ApiUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(user: ApiUser) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="lastseen API",
            swagger_js_url="/docs-ui/swagger-ui-bundle.js",
            swagger_css_url="/docs-ui/swagger-ui.css",
            swagger_favicon_url="/docs-ui/favicon.png",
        )

    # -- health ------------------------------------------------------------------------------

    @app.get("/healthz", tags=["health"], summary="Liveness and catalog reachability (no token)")
    def healthz() -> dict[str, str]:
        with catalog.session() as s:
            s.execute(text("SELECT 1"))
        return {"status": "ok"}

    # -- API -----------------------------------------------------------------------------------

    @app.post(
        "/api/captures",
        status_code=202,
        response_model=Accepted,
        tags=["captures"],
        summary="Report a URL to capture now",
        responses={
            401: {"description": "Missing or wrong token"},
            413: {"description": "Request body too large"},
            422: {"description": "Invalid input, or a URL pointing into a private network"},
        },
    )
    async def post_capture(report: ReportIn, user: ApiUser) -> Any:
        row = await accept(report, user, via="api")
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

    @app.get("/api/captures", tags=["captures"], summary="Capture requests, newest first")
    def list_captures(
        user: ApiUser,
        case: Annotated[str | None, Query(max_length=MAX_CASE)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        return {"captures": [described(r) for r in capture_requests.listing(catalog, case, limit)]}

    @app.get(
        "/api/captures/{report_id}",
        tags=["captures"],
        summary="Status of a capture request; with the capture's fields once stored",
    )
    def get_capture(report_id: int, user: ApiUser) -> dict[str, Any]:
        return described(report_or_404(report_id))

    @app.get(
        "/api/captures/{report_id}/warc",
        tags=["captures"],
        summary="The sealed WARC file (the download is recorded in the custody log)",
    )
    def get_warc(report_id: int, user: ApiUser) -> StreamingResponse:
        row, captured = stored_capture(report_id)
        stream = archive.open_file(captured.warc_name)
        log_access(user, row, captured, "warc", captured.warc_sha256)

        def chunks() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(CHUNK):
                    yield chunk

        return StreamingResponse(
            chunks(),
            media_type="application/warc",
            headers={
                "Content-Disposition": f'attachment; filename="{Path(captured.warc_name).name}"',
                "Content-Length": str(captured.warc_size),
                "Repr-Digest": _repr_digest(captured.warc_sha256),
            },
        )

    for kind in FILES:
        _add_file_route(app, kind, record_file, ApiUser)

    # -- web UI ----------------------------------------------------------------------------

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, "login.html", next=_local(next))

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=512)],
        next: Annotated[str, Form(max_length=MAX_URL)] = "/",
    ) -> Response:
        if tokens.name_of(token.strip()) is None:
            return page(request, "login.html", 401, next=_local(next), error="Wrong token.")
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(
            COOKIE,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", include_in_schema=False)
    def index(request: Request, user: UiUser, case: str | None = None) -> HTMLResponse:
        rows = [described(r) for r in capture_requests.listing(catalog, case or None, 200)]
        return page(request, "index.html", user=user, rows=rows, case=case or "", form={})

    @app.post("/report", include_in_schema=False)
    async def report_form(
        request: Request,
        user: UiUser,
        url: Annotated[str, Form()],
        case: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
    ) -> Response:
        form = {"url": url, "case": case, "note": note}
        try:
            report = ReportIn(url=url, case=case, note=note)
        except ValueError as exc:
            errors = [e["msg"].removeprefix("Value error, ") for e in exc.errors()]  # type: ignore[attr-defined]
            return await _form_error(request, user, form, "; ".join(errors))
        row = await accept(report, user, via="web")
        if row.status == capture_requests.REFUSED:
            return await _form_error(request, user, form, f"URL refused: {row.error}")
        return RedirectResponse(f"/captures/{row.id}", status_code=303)

    async def _form_error(
        request: Request, user: str, form: dict[str, str], error: str
    ) -> HTMLResponse:
        rows = [
            described(r) for r in await _in_thread(capture_requests.listing, catalog, None, 200)
        ]
        return page(
            request, "index.html", 422, user=user, rows=rows, case="", form=form, error=error
        )

    @app.get("/captures/{report_id}", include_in_schema=False)
    def capture_page(request: Request, report_id: int, user: UiUser) -> HTMLResponse:
        row = report_or_404(report_id)
        captured = capture_of(row)
        log = (
            [e.as_dict() for e in custody.entries(catalog, [captured.id])]
            if captured is not None
            else []
        )
        return page(
            request,
            "capture.html",
            user=user,
            report=request_summary(row),
            capture=capture_summary(captured) if captured is not None else None,
            records=captured.records if captured is not None else {},
            files=[k for k in FILES if captured is not None and k in captured.records],
            custody=log,
        )

    return app


def _add_file_route(app: FastAPI, kind: str, handler: Callable[..., Response], user: Any) -> None:
    def get_file(report_id: int, who: user) -> Response:  # type: ignore[valid-type]
        return handler(who, report_id, kind)

    app.add_api_route(
        f"/api/captures/{{report_id}}/{kind}",
        get_file,
        methods=["GET"],
        tags=["captures"],
        summary=f"The capture's {kind} (the download is recorded in the custody log)",
        response_class=Response,
        name=f"get_{kind}",
    )


async def _in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await run_in_threadpool(func, *args, **kwargs)


def _repr_digest(sha_hex: str) -> str:
    """RFC 9530 ``Repr-Digest``: lets a client check the bytes it received."""
    if not sha_hex:
        return ""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha_hex)).decode()}:"


def _local(path: str) -> str:
    """Only same-site paths after login: never an open redirect."""
    # Browsers read "/\\host" like "//host", a link to another site.
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


def _version() -> str:
    from archive import __version__

    return __version__
