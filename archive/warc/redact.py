"""Keep an investigator's session out of the evidence: in a capture made signed in, the values of
the headers that carry the session (and of any header or form field the profile names) are
replaced by ``redacted:sha256:<hex>``, the SHA-256 of the original value's UTF-8 bytes.

Whoever holds a copy of the evidence (the defence, a clerk) cannot take over the account, and
whoever holds the original value can still prove it is the one that was sent. Everything else
in the exchanges stays as the server sent it; each redaction is listed (which exchange, which
header or field, the hash) for the provenance record, where the writer adds the record ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from archive.capture import Capture, Headers

PREFIX = "redacted:sha256:"
# The headers that carry a session on every site.
REQUEST_HEADERS = ("cookie", "authorization", "proxy-authorization")
RESPONSE_HEADERS = ("set-cookie", "set-cookie2")
REASON = (
    "captured signed in with an investigator's browser profile: the values of headers and form "
    "fields that carry the account's session (cookies, authorization, tokens) were replaced by "
    "the SHA-256 of the original value, so that a copy of this evidence cannot be used to sign "
    "in as that account; everything else is as the server sent it"
)
_FORM = "application/x-www-form-urlencoded"


def redacted(value: str) -> str:
    return PREFIX + hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Policy:
    """What to redact besides the session headers: more headers (both ways), form fields."""

    headers: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


def _cookie_names(header: str, value: str) -> list[str]:
    if header == "cookie":
        return [part.split("=", 1)[0].strip() for part in value.split(";") if "=" in part]
    if header in RESPONSE_HEADERS:
        return [value.split("=", 1)[0].strip()] if "=" in value else []
    return []


def _headers(
    headers: Headers, secret: set[str], where: dict[str, Any], out: list[dict[str, Any]]
) -> Headers:
    kept: Headers = []
    for name, value in headers:
        lname = name.lower()
        if lname in secret and not value.startswith(PREFIX):
            entry = {**where, "header": name, "value_sha256": redacted(value)[len(PREFIX) :]}
            names = _cookie_names(lname, value)
            if names:
                entry["cookie_names"] = names
            out.append(entry)
            value = redacted(value)
        kept.append((name, value))
    return kept


def _form(body: bytes, fields: set[str], where: dict[str, Any], out: list[dict[str, Any]]) -> bytes:
    parts = []
    for pair in body.split(b"&"):
        name, eq, value = pair.partition(b"=")
        key = unquote_plus(name.decode("latin-1"))
        original = unquote_plus(value.decode("latin-1"))
        if eq and key in fields and not original.startswith(PREFIX):
            out.append({**where, "field": key, "value_sha256": redacted(original)[len(PREFIX) :]})
            pair = name + b"=" + redacted(original).encode("ascii")
        parts.append(pair)
    return b"&".join(parts)


def redact(capture: Capture, policy: Policy) -> list[dict[str, Any]]:
    """Redact the capture's exchanges in place; what was redacted, exchange by exchange (each
    entry's ``exchange`` is its index, which the writer turns into the record's id)."""
    extra = {h.lower() for h in policy.headers}
    request_secret = set(REQUEST_HEADERS) | extra
    response_secret = set(RESPONSE_HEADERS) | extra
    fields = set(policy.fields)
    done: list[dict[str, Any]] = []
    for index, exchange in enumerate(capture.exchanges):
        req = exchange.request
        where = {"exchange": index, "record_type": "request", "url": req.url}
        req.headers = _headers(req.headers, request_secret, where, done)
        content_type = next((v for n, v in req.headers if n.lower() == "content-type"), "")
        if fields and req.body and content_type.split(";")[0].strip().lower() == _FORM:
            before = len(done)
            req.body = _form(req.body, fields, where, done)
            if len(done) > before:
                # The body is shorter or longer now: its length says what the record holds.
                req.headers = [
                    (n, str(len(req.body)) if n.lower() == "content-length" else v)
                    for n, v in req.headers
                ]
        if exchange.response is not None:
            resp = exchange.response
            where = {"exchange": index, "record_type": "response", "url": req.url}
            resp.headers = _headers(resp.headers, response_secret, where, done)
            resp.raw_head = None  # it holds the original values; the writer never uses it
    return done
