"""The web pages: sign in with a token, report a URL, watch its capture request, see the capture.

Server-rendered from ``templates/`` (``app.state.templates``); the only script is
``static/app.js``, which refreshes pending requests. Pages need the session cookie (``UiUser``);
without it they answer with the login form. Every form carries a CSRF token (``csrf.py``): the
sign-in form one bound to a cookie of its own, the others one bound to the session.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from archive.catalog import custody
from archive.catalog import requests as capture_requests
from archive.catalog.requests import request_summary
from crawler.service.auth import COOKIE, Sessions, UiUser
from crawler.service.csrf import FormTokens
from crawler.service.desk import FILES, MAX_URL, Desk, DeskDep, ReportIn
from crawler.service.identifiers import shared
from crawler.service.media import numbers

# Pages are not part of the API's description.
router = APIRouter(include_in_schema=False)
LISTED = 200  # capture requests on the home page
# The cookie the sign-in form's CSRF token is bound to (there is no session yet).
LOGIN_COOKIE = "lastseen_login"
EXPIRED = "This form has expired or was not sent from this site: please try again."
CsrfField = Annotated[str, Form(max_length=128)]


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def csrf_context(request: Request) -> dict[str, str]:
    """The templates' context processor: ``csrf``, the token of the forms a signed-in page holds
    (every page's sign-out form among them), whichever router renders the page."""
    session = request.cookies.get(COOKIE)
    return {"csrf": _forms(request).token(session)} if session else {}


def _forms(request: Request) -> FormTokens:
    forms: FormTokens = request.app.state.forms
    return forms


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def _session_form(request: Request, csrf: str) -> bool:
    return _forms(request).valid(request.cookies.get(COOKIE), csrf)


def _login_page(request: Request, next: str, status: int = 200, error: str = "") -> HTMLResponse:
    bound = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        status,
        next=_local(next),
        error=error,
        login_csrf=_forms(request).token(bound),
    )
    response.set_cookie(LOGIN_COOKIE, bound, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=512)],
    csrf: CsrfField = "",
    next: Annotated[str, Form(max_length=MAX_URL)] = "/",
) -> Response:
    if not _forms(request).valid(request.cookies.get(LOGIN_COOKIE), csrf):
        return _login_page(request, next, 403, EXPIRED)
    name = request.app.state.tokens.name_of(token.strip())
    if name is None:
        return _login_page(request, next, 401, "Wrong token.")
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE,
        _sessions(request).open(name),
        httponly=True,
        samesite="strict",
        # https as the client sees it: behind a TLS proxy, only if LASTSEEN_TRUSTED_PROXIES
        # names that proxy (its X-Forwarded-Proto is believed, nobody else's).
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: CsrfField = "") -> Response:
    if not _session_form(request, csrf):
        return _login_page(request, "/", 403, EXPIRED)
    _sessions(request).close(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def index(request: Request, user: UiUser, desk: DeskDep, case: str | None = None) -> HTMLResponse:
    rows = desk.listing(case or None, LISTED, user)
    return page(
        request, "index.html", user=user, rows=rows, case=case or "", form={},
        profiles=desk.profile_listing(user),
    )  # fmt: skip


@router.post("/report")
async def report_form(
    request: Request,
    user: UiUser,
    desk: DeskDep,
    url: Annotated[str, Form()],
    case: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    profile: Annotated[str, Form()] = "",
    csrf: CsrfField = "",
) -> Response:
    form = {"url": url, "case": case, "note": note, "profile": profile}
    if not _session_form(request, csrf):
        return await _form_error(request, user, desk, form, EXPIRED, 403)
    try:
        asked = ReportIn(url=url, case=case, note=note, profile=profile or None)
    except ValueError as exc:
        errors = [e["msg"].removeprefix("Value error, ") for e in exc.errors()]  # type: ignore[attr-defined]
        return await _form_error(request, user, desk, form, "; ".join(errors))
    try:
        row = await desk.accept(asked, user, via="web")
    except HTTPException as exc:  # too many reports: said on the form, what was typed kept
        return await _form_error(request, user, desk, form, str(exc.detail), exc.status_code)
    if row.status == capture_requests.REFUSED:
        return await _form_error(request, user, desk, form, f"URL refused: {row.error}")
    return RedirectResponse(f"/captures/{row.id}", status_code=303)


async def _form_error(
    request: Request, user: str, desk: Desk, form: dict[str, str], error: str, status: int = 422
) -> HTMLResponse:
    rows = await run_in_threadpool(desk.listing, None, LISTED, user)
    profiles = await run_in_threadpool(desk.profile_listing, user)
    return page(
        request, "index.html", status, user=user, rows=rows, case="", form=form, error=error,
        profiles=profiles,
    )  # fmt: skip


@router.get("/captures/{report_id}")
def capture_page(request: Request, report_id: int, user: UiUser, desk: DeskDep) -> HTMLResponse:
    row = desk.find(report_id, user)
    captured = desk.capture_of(row)
    return page(
        request,
        "capture.html",
        user=user,
        capture_request=request_summary(row),
        capture=desk.summary(captured) if captured is not None else None,
        records=captured.records if captured is not None else {},
        files=[k for k in FILES if captured is not None and k in captured.records],
        videos=numbers(captured.records) if captured is not None else [],
        custody=(
            [e.as_dict() for e in custody.entries(desk.catalog, [captured.id])]
            if captured is not None
            else []
        ),
        # Other captures an identifier names may be of any case: not for a token limited to some.
        identifiers=(
            shared(desk, captured.id) if captured is not None and not desk.limited(user) else []
        ),
    )


def _local(path: str) -> str:
    """Only same-site paths after login: never an open redirect."""
    # Browsers read "/\\host" like "//host", a link to another site.
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"
