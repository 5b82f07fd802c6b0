"""What to capture: URLs from the command line or a seed file, checked before anything runs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from archive.job import Job
from crawler.exceptions import InputError


def check_url(value: str) -> str:
    """The URL as given, if a browser can capture it; otherwise an InputError saying why."""
    url = value.strip()
    parts = urlsplit(url)
    if not parts.scheme:
        raise InputError(f"not a URL: {value!r} (expected something like https://example.org/ad/1)")
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"only http and https URLs can be captured, not {parts.scheme}: {value!r}")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InputError(f"not a valid URL: {value!r}") from None
    if not host:
        raise InputError(f"no host name in URL: {value!r}")
    if any(ch.isspace() for ch in url):
        raise InputError(f"a URL cannot contain spaces: {value!r}")
    return url


def read_text(path: str | Path) -> str:
    """The seed file's text, or an InputError saying why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"seed file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"seed file is a folder: {path}") from None
    except UnicodeDecodeError:
        raise InputError(f"seed file is not UTF-8 text: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read seed file {path}: {exc.strerror}") from None


def plain_urls(text: str, path: str | Path) -> list[tuple[int, str]]:
    """(line number, URL) of a one-URL-a-line seed file, each URL once; blank lines and ``#``
    comments are skipped. A bad line is an InputError naming it; so is a file with no URL."""
    urls: list[tuple[int, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        try:
            url = check_url(line)
        except InputError as exc:
            raise InputError(f"{path}, line {number}: {exc}") from None
        if url not in seen:
            seen.add(url)
            urls.append((number, url))
    if not urls:
        raise InputError(f"seed file has no URLs: {path}")
    return urls


def read_seed_file(path: str | Path, case: str | None = None) -> list[Job]:
    """One URL per line; blank lines and ``#`` comments are ignored. Errors name the line.

    A YAML seed file (``crawler.plan.seedfile``) is read too: its seeds' own cases come first.
    """
    from crawler.plan.seedfile import is_yaml, parse_yaml

    text = read_text(path)
    if is_yaml(path, text):
        return [Job(url=spec.url, case=spec.case or case) for spec in parse_yaml(text, path)]
    return [Job(url=url, case=case) for _, url in plain_urls(text, path)]
