"""Bearer tokens: each one has a name, and that name is the reporter in the custody log.

API clients send ``Authorization: Bearer <secret>``. The web UI asks for the token once, on a
login form, and keeps it in an HttpOnly, SameSite=Strict session cookie: page scripts cannot read
it (a script injected through a captured page's title could not steal it), the browser sends it
with the screenshot ``<img>`` and download links (which cannot carry an Authorization header),
no other site can make the browser send it, and it is gone when the browser closes.

Routes ask who is calling with the dependencies ``ApiUser`` (token or session cookie, else 401)
and ``UiUser`` (session cookie, else the login form); both read the app's ``Tokens`` from
``app.state.tokens``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

COOKIE = "lastseen_token"
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


class LoginNeeded(Exception):
    """A web page was asked for without a valid session: answered with the login form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def ui_user(request: Request) -> str:
    """The name of the token the browser's session cookie holds."""
    tokens: Tokens = request.app.state.tokens
    name = tokens.name_of(request.cookies.get(COOKIE))
    if name is None:
        raise LoginNeeded(request.url.path)
    return name


async def to_login(request: Request, exc: LoginNeeded) -> RedirectResponse:
    """The exception handler of ``LoginNeeded``: back to the page asked for after login."""
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


ApiUser = Annotated[str, Depends(api_user)]
UiUser = Annotated[str, Depends(ui_user)]
