"""Cross-site request forgery: only the service's own pages may change anything with the
analyst's session.

SameSite=Strict alone does not do it: a page on another port of the same host is the same
*site*, so the browser sends the session cookie with its forms. Two checks, each enough alone:

- ``SameOrigin``: a state-changing request (any method but GET, HEAD, OPTIONS) that a browser
  marks as coming from another origin (``Sec-Fetch-Site``, else ``Origin``) is refused with 403.
  API clients that are not browsers send neither header and are not affected.
- ``FormTokens``: every form carries a token bound to the browser's session (or, on the sign-in
  form, to a cookie of its own), which another origin cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class SameOrigin:
    """Refuse state-changing requests a browser sent from another origin."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            reason = cross_origin(dict(scope["headers"]))
            if reason:
                detail = f"refused: a request from another origin ({reason}) cannot change anything"
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def cross_origin(headers: dict[bytes, bytes]) -> str | None:
    """Why a request comes from another origin, or None."""
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        # "none": the user typed it or used a bookmark; never a form of another page.
        if site in (b"same-origin", b"none"):
            return None
        return f"Sec-Fetch-Site: {site.decode('latin-1')}"
    origin = headers.get(b"origin")
    if origin is None:
        # Not a browser (its token is in a header no other page can set), or one too old to
        # say where it came from: the form token is then the check.
        return None
    host = headers.get(b"host", b"")
    if origin == b"null" or urlsplit(origin.decode("latin-1")).netloc.encode() != host:
        return f"Origin: {origin.decode('latin-1')}"
    return None


class FormTokens:
    """The hidden ``csrf`` field of the service's forms: an HMAC of a cookie the browser holds,
    under a key that lives only in this process (so a restart asks for a new page, never more)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def token(self, bound_to: str) -> str:
        return hmac.new(
            self._key, bound_to.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    def valid(self, bound_to: str | None, given: str | None) -> bool:
        if not bound_to or not given:
            return False
        return hmac.compare_digest(self.token(bound_to), given)
