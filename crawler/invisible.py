"""Characters a reader does not see as themselves: controls (C0, DEL, C1: a terminal acts on
them, ``ESC ] 0;`` retitles the window), formats (U+202E and the other direction marks, zero-width
ones), line and paragraph separators, surrogates, private and unassigned code points.

One list for both sides: what lastseen refuses in a URL or a case id, and what it writes as an
escape when it prints a value that came in before it was refused (an old catalog, a page).
"""

from __future__ import annotations

import json
import unicodedata

CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def hidden(ch: str) -> bool:
    return unicodedata.category(ch) in CATEGORIES


def first_hidden(value: str) -> str | None:
    """The first character of ``value`` that does not show as itself, if any."""
    return next((ch for ch in value if hidden(ch)), None)


def escaped(value: str) -> str:
    """``value`` with every hidden character written as its escape (``\\x1b``, ``\\u202e``)."""
    if first_hidden(value) is None:
        return value
    return "".join(_escape(ch) if hidden(ch) else ch for ch in value)


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def escaped_json(text: str) -> str:
    """JSON text with every hidden character as a ``\\uXXXX`` escape: the same JSON value, and
    nothing a terminal acts on (``json.dumps`` without ``ensure_ascii`` leaves C1, DEL and the
    direction marks raw)."""
    if first_hidden(text) is None:
        return text
    return "".join(json.dumps(ch)[1:-1] if hidden(ch) else ch for ch in text)
