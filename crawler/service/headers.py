"""The security headers of every answer of the service (rule 9: captured content never runs where
it can act).

Pages and the API get a strict Content-Security-Policy: scripts only from the service's own files
(no inline script, so text that slipped through escaping still cannot run), no framing by another
site (no click-jacking of the report form), forms only to the service. Captured files (WARC, DOM,
screenshot, PDF) carry ``CAPTURED`` instead, set by the route that serves them: a download, never
sniffed, and in a sandbox with an opaque origin if a browser renders it anyway, so a captured
page's script never runs with the analyst's session.
"""

from __future__ import annotations

from typing import Any

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Styles cannot run code; Swagger UI sets style attributes.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# The headers of a captured file, with its Content-Disposition (see ``captured_headers``).
CAPTURED = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}

DEFAULTS = {
    "content-security-policy": PAGE_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Capture pages name cases in their URLs; nothing of them goes to another site.
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def captured_headers(filename: str) -> dict[str, str]:
    """Headers of a captured file: always a download, never run on the service's origin."""
    return {"Content-Disposition": f'attachment; filename="{filename}"', **CAPTURED}


class SecurityHeaders:
    """Adds ``DEFAULTS`` to every HTTP answer that does not set the header itself."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in DEFAULTS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
