"""The bundle's report for people: HTML from a Jinja2 template, PDF from that HTML (WeasyPrint).

Every word a reader sees is in ``templates/<language>/report.html``; the layout they share is
``templates/report.css``. A report in another language is a copy of the ``en`` folder, translated.
The PDF carries no creation date, so that the same captures give the same PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from archive.exceptions import InvalidRequest

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE = "en"


def languages() -> list[str]:
    return sorted(p.parent.name for p in TEMPLATES.glob("*/report.html"))


def check_language(lang: str) -> None:
    if lang not in languages():
        raise InvalidRequest(
            f"no report template for language {lang!r}; available: {', '.join(languages())}"
        )


def render_html(model: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    check_language(lang)
    env = Environment(
        loader=FileSystemLoader([TEMPLATES / lang, TEMPLATES]),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html").render(lang=lang, **model)


# The report's files seem to live here: WeasyPrint names images after their URL, and the PDF
# must not depend on the folder it was made in.
BUNDLE_URL = "file:///bundle/"


def render_pdf(html: str, files: Path) -> bytes:
    """Print the report; relative links (the screenshots) are read from the folder ``files``,
    and nothing else is fetched: the report is made offline, from the bundle alone."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    root = files.resolve()

    class BundleFiles(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            path = (root / url2pathname(urlsplit(url).path).removeprefix("/bundle/")).resolve()
            if not url.startswith(BUNDLE_URL) or root not in path.parents:
                raise ValueError(f"the report may only show files of the bundle, not {url}")
            return super().fetch(path.as_uri(), headers)

    fetcher = BundleFiles(allowed_protocols={"file"}, fail_on_errors=True)
    document = HTML(string=html, base_url=BUNDLE_URL, url_fetcher=fetcher)
    return bytes(document.write_pdf())
