"""Which lastseen made a file: the installed package's version, stated in warcinfo and reports."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version


@cache
def lastseen_version() -> str:
    try:
        return installed_version("lastseen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
