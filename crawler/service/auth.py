"""Bearer tokens: each one has a name, and that name is the reporter in the custody log.

API clients send ``Authorization: Bearer <secret>``. The web UI asks for the token once, on a
login form, and opens a session (``Sessions``): the browser gets a random session id, never the
token, in an HttpOnly, SameSite=Strict cookie (Secure over https): page scripts cannot read it,
the browser sends it with the screenshot ``<img>`` and download links (which cannot carry an
Authorization header), and it ends on sign-out, when the browser closes, when it expires, or
when the service restarts. A stolen cookie is therefore worth one session, not the token.

Routes ask who is calling with the dependencies ``ApiUser`` (token or session cookie, else 401)
and ``UiUser`` (session cookie, else the login form); they read ``app.state.tokens`` and
``app.state.sessions``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

COOKIE = "lastseen_session"
bearer_scheme = HTTPBearer(auto_error=False, description="A token of LASTSEEN_API_TOKEN")


class Tokens:
    def __init__(self, tokens: Mapping[str, str]) -> None:
        # Compared as SHA-256 digests: equal lengths, so compare_digest leaks nothing about size.
        self._digests = [(name, _digest(secret)) for name, secret in tokens.items()]

    def name_of(self, secret: str | None) -> str | None:
        """The name of the token whose secret this is, or None; constant time per token."""
        if not secret:
            return None
        given = _digest(secret)
        found = None
        for name, digest in self._digests:  # no early exit: every token is compared
            if hmac.compare_digest(given, digest):
                found = name
        return found


class Sessions:
    """Signed-in browsers, in this process only: a session id -> (token name, expiry)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        # Kept under the id's SHA-256, so that the table holds nothing a cookie could be made of.
        self._open: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, name: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._open = {k: v for k, v in self._open.items() if v[1] > now}
            self._open[_digest(session_id)] = (name, now + self.lifetime)
        return session_id

    def name_of(self, session_id: str | None) -> str | None:
        if not session_id:
            return None
        with self._lock:
            found = self._open.get(_digest(session_id))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def close(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._open.pop(_digest(session_id), None)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def bearer(authorization: str | None) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header."""
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


def api_user(
    request: Request,
    # Declared so that OpenAPI (and the Authorize button of /docs) knows the scheme.
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    """The name of the token an API call carries (header, or the web page's cookie)."""
    tokens: Tokens = request.app.state.tokens
    sessions: Sessions = request.app.state.sessions
    name = tokens.name_of(bearer(request.headers.get("authorization"))) or sessions.name_of(
        request.cookies.get(COOKIE)
    )
    if name is None:
        raise HTTPException(
            401,
            "a valid token is needed: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="lastseen"'},
        )
    return name


class LoginNeeded(Exception):
    """A web page was asked for without a valid session: answered with the login form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def ui_user(request: Request) -> str:
    """The name of the token the browser's session was opened with."""
    sessions: Sessions = request.app.state.sessions
    name = sessions.name_of(request.cookies.get(COOKIE))
    if name is None:
        raise LoginNeeded(request.url.path)
    return name


async def to_login(request: Request, exc: LoginNeeded) -> RedirectResponse:
    """The exception handler of ``LoginNeeded``: back to the page asked for after login."""
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


ApiUser = Annotated[str, Depends(api_user)]
UiUser = Annotated[str, Depends(ui_user)]
