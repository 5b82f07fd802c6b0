"""Read a browser's signed-in state from what investigators have: Playwright's ``storage_state``
JSON (``lastseen profile login`` writes it too) or a Netscape ``cookies.txt`` (what browser
extensions export). Both become a ``storage_state`` dict, the one form captures use.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from crawler.exceptions import InputError

_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def read_state(path: Path) -> dict[str, Any]:
    """The ``storage_state`` in ``path`` (JSON, or cookies.txt); an InputError if it is neither."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON: {exc}") from None
        state = storage_state(data, str(path))
    else:
        state = {"cookies": parse_cookies_txt(text, str(path)), "origins": []}
    if not state["cookies"] and not state["origins"]:
        raise InputError(f"{path} holds no cookies and no site storage: nothing to sign in with")
    return state


def storage_state(data: Any, source: str) -> dict[str, Any]:
    """A Playwright ``storage_state`` checked field by field."""
    if not isinstance(data, dict) or not isinstance(data.get("cookies", []), list):
        raise InputError(f"{source} is not a Playwright storage_state (no cookies list)")
    cookies = []
    for n, cookie in enumerate(data.get("cookies", []), 1):
        if not isinstance(cookie, dict) or not all(
            isinstance(cookie.get(k), str) for k in ("name", "value", "domain")
        ):
            raise InputError(f"{source}: cookie {n} lacks a name, value or domain")
        cookies.append(
            {
                "name": cookie["name"],
                "value": cookie["value"],
                "domain": cookie["domain"],
                "path": str(cookie.get("path") or "/"),
                "expires": float(cookie.get("expires", -1)),
                "httpOnly": bool(cookie.get("httpOnly", False)),
                "secure": bool(cookie.get("secure", False)),
                "sameSite": _SAME_SITE.get(str(cookie.get("sameSite", "Lax")).lower(), "Lax"),
            }
        )
    origins = data.get("origins", [])
    if not isinstance(origins, list) or not all(
        isinstance(o, dict) and isinstance(o.get("origin"), str) for o in origins
    ):
        raise InputError(f"{source}: origins must be a list of {{origin, localStorage}}")
    return {"cookies": cookies, "origins": origins}


def parse_cookies_txt(text: str, source: str) -> list[dict[str, Any]]:
    """Netscape cookies.txt: domain, include-subdomains, path, secure, expiry, name, value, tab
    separated; ``#HttpOnly_`` before the domain marks an HttpOnly cookie (curl, extensions)."""
    cookies = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        http_only = line.startswith("#HttpOnly_")
        if http_only:
            line = line[len("#HttpOnly_") :]
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise InputError(
                f"{source}, line {number}: not a cookies.txt line (7 tab-separated fields: "
                "domain, subdomains, path, secure, expiry, name, value)"
            )
        domain, subdomains, path, secure, expiry, name, value = fields
        try:
            expires = float(expiry)
        except ValueError:
            raise InputError(
                f"{source}, line {number}: expiry {expiry!r} is not a number"
            ) from None
        if subdomains.upper() == "TRUE" and not domain.startswith("."):
            domain = "." + domain
        cookies.append(
            {
                "name": name,
                "value": value,
                "domain": domain,
                "path": path or "/",
                "expires": expires if expires > 0 else -1,
                "httpOnly": http_only,
                "secure": secure.upper() == "TRUE",
                "sameSite": "Lax",
            }
        )
    return cookies


def sites(state: dict[str, Any]) -> list[str]:
    """The sites the state signs in to: cookie domains and storage origins, without dots."""
    found = {str(c["domain"]).lstrip(".") for c in state.get("cookies", [])}
    found |= {str(o["origin"]).split("://", 1)[-1] for o in state.get("origins", [])}
    return sorted(found)


def cookie_names(state: dict[str, Any], now: float | None = None) -> list[dict[str, Any]]:
    """Each cookie's site, name and expiry (never its value)."""
    now = time.time() if now is None else now
    out = []
    for cookie in state.get("cookies", []):
        expires = float(cookie.get("expires", -1))
        out.append(
            {
                "domain": cookie["domain"],
                "name": cookie["name"],
                "expires": None if expires <= 0 else expires,
                "expired": 0 < expires < now,
            }
        )
    return out
