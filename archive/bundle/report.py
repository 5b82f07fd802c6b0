"""The bundle's report for people: HTML from a Jinja2 template, PDF from that HTML (WeasyPrint).

One template, ``templates/report.html``, in English; its sentences are the messages of the
gettext catalogues ``locale/<language>/LC_MESSAGES/report.po`` (Babel), so that a report in
another language is one more catalogue, never a copy of the template. The catalogues are
compiled when a report is made, so what is printed is always what the ``.po`` file says. Times
are shown in UTC and, beside it, in the case's time zone (``LASTSEEN_TZ``); numbers in the
language's format. The PDF carries no creation date, so that the same captures give the same PDF.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from archive.exceptions import InvalidRequest

TEMPLATES = Path(__file__).parent / "templates"
LOCALE = Path(__file__).parent / "locale"
DOMAIN = "report"
DEFAULT_LANGUAGE = "en"  # the language of the template itself: it needs no catalogue
TZ_ENV = "LASTSEEN_TZ"
DEFAULT_TIME_ZONE = "Europe/Brussels"


def catalogue(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> list[str]:
    return sorted(
        [DEFAULT_LANGUAGE, *(p.parent.parent.name for p in LOCALE.glob(f"*/*/{DOMAIN}.po"))]
    )


def check_language(lang: str) -> None:
    if lang not in languages():
        raise InvalidRequest(
            f"no report template for language {lang!r}; available: {', '.join(languages())}"
        )


def time_zone(environ: Mapping[str, str] | None = None) -> ZoneInfo:
    """The case's time zone, shown beside UTC: ``LASTSEEN_TZ``, an IANA name."""
    env = os.environ if environ is None else environ
    name = env.get(TZ_ENV) or DEFAULT_TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"{TZ_ENV}={name!r} is not a time zone (an IANA name such as {DEFAULT_TIME_ZONE})"
        ) from None


@cache
def translations(lang: str) -> NullTranslations:
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    with open(catalogue(lang), "rb") as fh:
        messages = read_po(fh, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def environment(lang: str, tz: ZoneInfo) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # A sentence's line breaks in the template are not part of the message.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]

    def when(value: str | None) -> str | None:
        """An RFC 3339 UTC time as recorded, then the same moment in the case's time zone."""
        if not value:
            return value
        try:
            moment = datetime.fromisoformat(value).astimezone(tz)
        except ValueError:
            return value  # not a time lastseen wrote: show it as it is
        offset = moment.strftime("%z")
        local = f"{format_date(moment, 'long', locale=lang)} {moment:%H:%M:%S}"
        return f"{value} ({local} {tz.key}, UTC{offset[:3]}:{offset[3:]})"

    def number(value: int) -> str:
        return str(format_decimal(value, locale=lang))

    env.filters.update(when=when, number=number)
    return env


def render_html(
    model: dict[str, Any], lang: str = DEFAULT_LANGUAGE, tz: ZoneInfo | None = None
) -> str:
    check_language(lang)
    zone = tz or time_zone()
    template = environment(lang, zone).get_template("report.html")
    return template.render(lang=lang, time_zone=zone.key, **model)


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
