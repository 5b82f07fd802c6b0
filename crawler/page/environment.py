"""Who captured, with what: the facts every WARC's warcinfo record states."""

from __future__ import annotations

import platform
import socket
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from archive.seal.archive import default_operator
from crawler.page.config import CaptureConfig

COMPONENTS = ("scrapy", "playwright", "warcio")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def software() -> str:
    parts = ", ".join(f"{name} {_version(name)}" for name in COMPONENTS)
    return f"lastseen {_version('lastseen')} ({parts}; Python {platform.python_version()})"


def environment_record(settings: Any, config: CaptureConfig) -> dict[str, Any]:
    """The browser version is filled in per capture, from the browser that did it."""
    return {
        "software": software(),
        "operator": settings.get("ARCHIVE_OPERATOR") or default_operator(),
        "hostname": socket.gethostname(),
        "viewport": "{}x{}".format(*config.viewport),
        "settings": config.as_record(),
    }
