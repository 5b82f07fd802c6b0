"""What changed between two captures of a page: a unified diff of the rendered page's text.

The text is taken from the rendered DOM (what the reader of the ad saw, JavaScript-inserted
prices included), one line per block of text, so that a diff reads like the page.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from html.parser import HTMLParser

# Elements whose content a reader never sees as text (the head's <title> is kept: it is the
# name the ad shows in the browser's tab and in search results).
_HIDDEN = {"script", "style", "noscript", "template"}
# Elements that start a new line of text.
_BLOCKS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "title", "tr",
    "ul",
}  # fmt: skip


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" [image: {alt}] ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def page_text(html: bytes | str) -> list[str]:
    """The visible text of an HTML document, one line per block, whitespace collapsed."""
    parser = _TextParser()
    parser.feed(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return [line for line in lines if line]


@dataclass(frozen=True)
class TextDiff:
    text: str
    added: int
    removed: int


def text_diff(before: bytes, after: bytes, before_label: str, after_label: str) -> TextDiff:
    """A unified diff of the two rendered pages' text (empty ``text``: no visible change)."""
    lines = list(
        difflib.unified_diff(
            page_text(before), page_text(after), before_label, after_label, lineterm=""
        )
    )
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return TextDiff("\n".join(lines) + ("\n" if lines else ""), added, removed)
