"""What to capture: URLs from the command line or a seed file, as Jobs, checked before anything
runs. A seed file is one URL a line, or YAML with a schedule and follow rules per seed:

```yaml
- url: https://ads.example/transport/
  every: 15m                          # 30s, 15m, 6h, 1d; without it: every run
  case: BXL-2026-0412
  follow: ["https://ads.example/ad/*"]  # links on the page matching these are captured too
  depth: 1                            # levels of links followed (0: none)
  tags: [transport, uk]
  obey_robots: false                  # evidence captures ignore robots.txt unless told
  alert: [phone, telegram, image]     # alert when a capture shows one seen in another case
  profile: anna                       # captured signed in with this browser profile
  media: true                         # a complete copy of its video (yt-dlp), even unseen
```

An error names the file and the line, and the file is not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from archive.derive.alerts import parse_kinds
from archive.exceptions import ConfigError
from archive.job import Job
from crawler.exceptions import InputError
from crawler.invisible import escaped, first_hidden

MAX_DEPTH = 5
MAX_URL_LENGTH = 2 * 1024 * 1024  # Chromium's url::kMaxURLChars
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


def check_url(value: str) -> str:
    """The URL as given, if a browser can capture it; otherwise an InputError saying why."""
    url = value.strip()
    hidden = first_hidden(url)
    if hidden is not None:
        # Printed raw, a control character acts on the analyst's terminal; a direction mark
        # makes the URL read as another one.
        raise InputError(
            f"a URL cannot contain control, invisible or direction-changing characters "
            f"(U+{ord(hidden):04X}): {escaped(url)[:80]}"
        )
    if len(url) > MAX_URL_LENGTH:
        raise InputError(
            f"a URL of {len(url):,} characters is longer than a browser accepts "
            f"({MAX_URL_LENGTH:,}): {url[:60]!r}..."
        )
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


def parse_every(value: str) -> int:
    """``30s``, ``15m``, ``6h``, ``1d`` as seconds."""
    match = _EVERY.match(value)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"every must look like 30s, 15m, 6h or 1d, not {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_every(seconds: int | None) -> str:
    if not seconds:
        return "every run"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_pattern(value: str) -> str:
    """A follow rule: a URL glob (``*``, ``?``, ``[...]``), absolute or a path on the site."""
    pattern = value.strip()
    if not pattern or any(ch.isspace() for ch in pattern):
        raise ValueError(f"a follow pattern cannot be empty or contain spaces: {value!r}")
    if "://" in pattern:
        parts = urlsplit(pattern)
        if parts.scheme not in ("http", "https", "*", "http*", "http?"):
            raise ValueError(f"a follow pattern must be an http(s) URL or a path: {value!r}")
        if not parts.netloc:
            raise ValueError(f"no host in follow pattern {value!r}")
    elif not pattern.startswith(("/", "*")):
        raise ValueError(f"a follow pattern is a URL or starts with / or *: {value!r}")
    return pattern


def read_seed_file(path: str | Path, case: str | None = None) -> list[Job]:
    """Every seed of a seed file, YAML or one URL a line; ``case`` is the default for seeds
    without one of their own."""
    text = _read_text(path)
    if is_yaml(path, text):
        jobs = parse_yaml(text, path)
        return [job if job.case or not case else replace(job, case=case) for job in jobs]
    return [Job(url=url, case=case, line=number) for number, url in _plain_urls(text, path)]


def is_yaml(path: str | Path, text: str) -> bool:
    """By suffix, or by its first line that is not blank or a comment starting a YAML list."""
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        return True
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("- ") or stripped == "-" or stripped.startswith("---")
    return False


def _read_text(path: str | Path) -> str:
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


def _plain_urls(text: str, path: str | Path) -> list[tuple[int, str]]:
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


class _Error(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1


def _scalar(node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
        raise _Error(node, f"{what} must be a single value")
    return str(node.value)


def _strings(node: yaml.Node, what: str) -> list[tuple[yaml.Node, str]]:
    """A value or a list of values."""
    if isinstance(node, yaml.SequenceNode):
        return [(item, _scalar(item, f"each entry of {what}")) for item in node.value]
    return [(node, _scalar(node, what))]


def _url(node: yaml.Node) -> str:
    try:
        return check_url(_scalar(node, "url"))
    except InputError as exc:
        raise _Error(node, str(exc)) from None


def _every(node: yaml.Node) -> int:
    raw = _scalar(node, "every")
    try:
        seconds = int(raw) if node.tag.endswith(":int") else parse_every(raw)
    except ValueError as exc:
        raise _Error(node, str(exc)) from None
    if seconds <= 0:
        raise _Error(node, "every must be more than 0 seconds")
    return seconds


def _case(node: yaml.Node) -> str | None:
    return _scalar(node, "case").strip() or None


def _follow(node: yaml.Node) -> tuple[str, ...]:
    patterns = []
    for item, value in _strings(node, "follow"):
        try:
            patterns.append(check_pattern(value))
        except ValueError as exc:
            raise _Error(item, str(exc)) from None
    return tuple(patterns)


def _depth(node: yaml.Node) -> int:
    raw = _scalar(node, "depth")
    if not node.tag.endswith(":int") or not 0 <= int(raw) <= MAX_DEPTH:
        raise _Error(node, f"depth must be a whole number from 0 to {MAX_DEPTH}, not {raw!r}")
    return int(raw)


def _tags(node: yaml.Node) -> tuple[str, ...]:
    return tuple(value for _, value in _strings(node, "tags"))


def _obey_robots(node: yaml.Node) -> bool:
    raw = _scalar(node, "obey_robots")
    if not node.tag.endswith(":bool"):
        raise _Error(node, f"obey_robots must be true or false, not {raw!r}")
    return raw.lower() in ("true", "yes", "on", "y")


def _alert(node: yaml.Node) -> tuple[str, ...]:
    try:
        return tuple(sorted(parse_kinds([value for _, value in _strings(node, "alert")])))
    except ConfigError as exc:
        raise _Error(node, f"alert: {exc}") from None


def _profile(node: yaml.Node) -> str:
    from crawler.profiles.store import check_name

    try:
        return check_name(_scalar(node, "profile").strip())
    except InputError as exc:
        raise _Error(node, str(exc)) from None


def _media(node: yaml.Node) -> bool:
    raw = _scalar(node, "media")
    if not node.tag.endswith(":bool"):
        raise _Error(node, f"media must be true or false, not {raw!r}")
    return raw.lower() in ("true", "yes", "on", "y")


# A YAML seed's keys besides url, each read into the Job field of the same name (checked in this
# order, whatever the file's).
_FIELDS: dict[str, Callable[[yaml.Node], Any]] = {
    "every": _every,
    "case": _case,
    "follow": _follow,
    "depth": _depth,
    "tags": _tags,
    "obey_robots": _obey_robots,
    "alert": _alert,
    "profile": _profile,
    "media": _media,
}
KEYS = ("url", *_FIELDS)


def _seed(node: yaml.Node) -> Job:
    if isinstance(node, yaml.ScalarNode):  # "- https://..." : a seed with nothing but a URL
        return Job(url=_url(node), line=node.start_mark.line + 1)
    if not isinstance(node, yaml.MappingNode):
        raise _Error(node, "each seed must be a URL or a mapping with url: ...")
    values: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, "a key")
        if key not in KEYS:
            raise _Error(key_node, f"unknown key {key!r} (expected one of: {', '.join(KEYS)})")
        if key in values:
            raise _Error(key_node, f"{key} is given twice for this seed")
        values[key] = value_node
    if "url" not in values:
        raise _Error(node, "this seed has no url")
    url = _url(values["url"])
    fields = {key: read(values[key]) for key, read in _FIELDS.items() if key in values}
    return Job(url=url, line=node.start_mark.line + 1, **fields)


def parse_yaml(text: str, path: str | Path = "<seeds>") -> list[Job]:
    """Check a YAML seed list; the first problem is an InputError naming its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark else ""
        raise InputError(f"{path}{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    if root is None:
        raise InputError(f"seed file has no seeds: {path}")
    jobs: list[Job] = []
    lines: dict[str, int] = {}
    try:
        if not isinstance(root, yaml.SequenceNode):
            raise _Error(root, "expected a list of seeds, each starting with '- url: ...'")
        for item in root.value:
            job = _seed(item)
            if job.url in lines:
                raise _Error(item, f"{job.url} is already listed at line {lines[job.url]}")
            lines[job.url] = job.line or 0
            jobs.append(job)
    except _Error as exc:
        raise InputError(f"{path}, line {exc.line}: {exc}") from None
    if not jobs:
        raise InputError(f"seed file has no seeds: {path}")
    return jobs
