"""Bearer tokens: each one has a name, and that name is the reporter in the custody log.

API clients send ``Authorization: Bearer <secret>``. The web UI asks for the token once, on a
login form, and keeps it in an HttpOnly, SameSite=Strict session cookie: page scripts cannot read
it (a script injected through a captured page's title could not steal it), the browser sends it
with the screenshot ``<img>`` and download links (which cannot carry an Authorization header),
no other site can make the browser send it, and it is gone when the browser closes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

COOKIE = "lastseen_token"


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
