"""Telling a login wall from the page: a capture with a profile that lands on a sign-in form has
not found the page gone, it has found the profile signed out.

A profile says what its signed-in pages show (``signed_in``: a CSS selector or a text) and what
its site's login wall looks like (``login_wall``: URL globs, a CSS selector); the sites
investigators meet most have built-in walls, used whenever a page is on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

# Per site (its registrable domain): the login pages' URLs and the sign-in form a wall shows.
BUILTIN: dict[str, dict[str, Any]] = {
    "facebook.com": {
        "urls": ["*://*facebook.com/login*", "*://*facebook.com/checkpoint/*",
                 "*://*facebook.com/*/login/*"],
        "selector": "form#login_form, form[data-testid='royal_login_form']",
    },
    "instagram.com": {
        "urls": ["*://*instagram.com/accounts/login*", "*://*instagram.com/challenge/*"],
        "selector": "form#loginForm",
    },
    "tiktok.com": {
        "urls": ["*://*tiktok.com/login*"],
        "selector": "[data-e2e='login-modal']",
    },
    "x.com": {
        "urls": ["*://*x.com/i/flow/login*", "*://*x.com/login*"],
        "selector": "[data-testid='loginButton'], [data-testid='login']",
    },
    "twitter.com": {
        "urls": ["*://*twitter.com/i/flow/login*", "*://*twitter.com/login*"],
        "selector": "[data-testid='loginButton'], [data-testid='login']",
    },
}  # fmt: skip

# What the page check returns: whether the wall's form is there, whether the signed-in mark is.
CHECK_JS = """
({wall, selector, text}) => {
  const has = (s) => { try { return !!document.querySelector(s); } catch (e) { return false; } };
  const body = document.body ? document.body.innerText : '';
  return {
    wall: wall ? has(wall) : false,
    signed_in: selector ? has(selector) : (text ? body.includes(text) : null),
  };
}
"""


@dataclass(frozen=True)
class Walls:
    urls: tuple[str, ...]
    selector: str | None  # the wall's sign-in form, any of them (comma-joined)
    signed_in_selector: str | None
    signed_in_text: str | None

    def url_match(self, url: str) -> str | None:
        return next((glob for glob in self.urls if fnmatchcase(url, glob)), None)

    def check_args(self) -> dict[str, str | None]:
        return {
            "wall": self.selector,
            "selector": self.signed_in_selector,
            "text": self.signed_in_text,
        }


def _builtin(url: str) -> dict[str, Any]:
    host = (urlsplit(url).hostname or "").lower()
    for domain, rules in BUILTIN.items():
        if host == domain or host.endswith("." + domain):
            return rules
    return {}


def walls_for(url: str, signed_in: dict[str, str], login_wall: dict[str, Any]) -> Walls:
    """The rules for a page at ``url`` of a profile: its own and its site's built-in ones."""
    builtin = _builtin(url)
    urls = tuple(login_wall.get("urls", ())) + tuple(builtin.get("urls", ()))
    selectors = [s for s in (login_wall.get("selector"), builtin.get("selector")) if s]
    return Walls(
        urls=urls,
        selector=", ".join(selectors) or None,
        signed_in_selector=signed_in.get("selector") or None,
        signed_in_text=signed_in.get("text") or None,
    )


def verdict(walls: Walls, urls: list[str], page: dict[str, Any] | None) -> str | None:
    """Why this capture met a login wall (None: it did not). ``urls``: the documents the main
    frame went through, last one last; ``page``: what CHECK_JS found on the final page."""
    for url in urls:
        glob = walls.url_match(url)
        if glob is not None:
            return f"redirected to a login page ({url}, matches {glob})"
    if page is None:
        return None
    if page.get("wall"):
        return f"the page shows a sign-in form ({walls.selector})"
    if page.get("signed_in") is False:
        mark = walls.signed_in_selector or repr(walls.signed_in_text)
        return f"the page does not show the signed-in mark ({mark})"
    return None
