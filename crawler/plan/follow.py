"""Follow rules: which links of a watched page are captured too.

A rule is a URL glob (``fnmatch``: ``*`` matches anything, ``/`` included). A rule that is a path
(``/ad/*``) is on the seed's site; a rule whose host is a wildcard (``https://*/ad/*``, ``*/ad/*``)
only matches links on the seed's site; a rule that names a host (``https://cdn.example/ad/*``)
follows links to that host.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit, urlunsplit

_GLOB = set("*?[")


def _site(host: str | None) -> str:
    host = (host or "").lower()
    return host[4:] if host.startswith("www.") else host


def same_site(a: str, b: str) -> bool:
    return _site(urlsplit(a).hostname) == _site(urlsplit(b).hostname)


def clean_link(link: str) -> str | None:
    """The link without its #fragment; None for anything that is not http(s)."""
    parts = urlsplit(link.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def rule_matches(pattern: str, seed_url: str, link: str) -> bool:
    if pattern.startswith("/"):
        seed = urlsplit(seed_url)
        return fnmatchcase(link, f"{seed.scheme}://{seed.netloc}{pattern}")
    if "://" in pattern:
        host = pattern.split("://", 1)[1].split("/", 1)[0]
        if not _GLOB & set(host):
            return fnmatchcase(link, pattern)  # the rule names its host: follow it there
    return same_site(seed_url, link) and fnmatchcase(link, pattern)


def matching_links(
    patterns: Iterable[str], seed_url: str, links: Iterable[str]
) -> list[tuple[str, str]]:
    """``(link, rule)`` for each distinct link that a rule matches, in page order."""
    patterns = list(patterns)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in links:
        link = clean_link(raw)
        if link is None or link in seen:
            continue
        seen.add(link)
        for pattern in patterns:
            if rule_matches(pattern, seed_url, link):
                out.append((link, pattern))
                break
    return out
