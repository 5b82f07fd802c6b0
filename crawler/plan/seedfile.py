"""Seed files for scheduled crawls: YAML with a schedule per seed, or one URL per line.

```yaml
- url: https://ads.example/transport/
  every: 15m                          # 30s, 15m, 6h, 1d; without it: every run
  case: BXL-2026-0412
  follow: ["https://ads.example/ad/*"]  # links on the page matching these are captured too
  depth: 1                            # levels of links followed (0: none)
  tags: [transport, uk]
  obey_robots: false                  # evidence captures ignore robots.txt unless told
```

Everything is checked before anything runs; an error names the line and the file is not used.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from archive.job import Job
from crawler.exceptions import InputError
from crawler.plan.seeds import check_url, plain_urls, read_text

KEYS = ("url", "every", "case", "follow", "depth", "tags", "obey_robots")
MAX_DEPTH = 5
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


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


def is_yaml(path: str | Path, text: str) -> bool:
    """By suffix, or by its first line that is not blank or a comment starting a YAML list."""
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        return True
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("- ") or stripped == "-" or stripped.startswith("---")
    return False


def read_watch_file(path: str | Path, case: str | None = None) -> list[Job]:
    """Every seed of a YAML or plain seed file; ``case`` is the default for seeds without one."""
    text = read_text(path)
    if is_yaml(path, text):
        specs = parse_yaml(text, path)
        return [spec if spec.case or not case else replace(spec, case=case) for spec in specs]
    return [Job(url=url, case=case, line=number) for number, url in plain_urls(text, path)]


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
    fields: dict[str, Any] = {"url": _url(values["url"]), "line": node.start_mark.line + 1}
    if "every" in values:
        every = values["every"]
        raw = _scalar(every, "every")
        try:
            fields["every"] = int(raw) if every.tag.endswith(":int") else parse_every(raw)
        except ValueError as exc:
            raise _Error(every, str(exc)) from None
        if fields["every"] <= 0:
            raise _Error(every, "every must be more than 0 seconds")
    if "case" in values:
        fields["case"] = _scalar(values["case"], "case").strip() or None
    if "follow" in values:
        patterns = []
        for item, value in _strings(values["follow"], "follow"):
            try:
                patterns.append(check_pattern(value))
            except ValueError as exc:
                raise _Error(item, str(exc)) from None
        fields["follow"] = tuple(patterns)
    if "depth" in values:
        depth = values["depth"]
        raw = _scalar(depth, "depth")
        if not depth.tag.endswith(":int") or not 0 <= int(raw) <= MAX_DEPTH:
            raise _Error(depth, f"depth must be a whole number from 0 to {MAX_DEPTH}, not {raw!r}")
        fields["depth"] = int(raw)
    if "tags" in values:
        fields["tags"] = tuple(value for _, value in _strings(values["tags"], "tags"))
    if "obey_robots" in values:
        robots = values["obey_robots"]
        raw = _scalar(robots, "obey_robots")
        if not robots.tag.endswith(":bool"):
            raise _Error(robots, f"obey_robots must be true or false, not {raw!r}")
        fields["obey_robots"] = raw.lower() in ("true", "yes", "on", "y")
    return Job(**fields)


def _url(node: yaml.Node) -> str:
    try:
        return check_url(_scalar(node, "url"))
    except InputError as exc:
        raise _Error(node, str(exc)) from None


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
    specs: list[Job] = []
    lines: dict[str, int] = {}
    try:
        if not isinstance(root, yaml.SequenceNode):
            raise _Error(root, "expected a list of seeds, each starting with '- url: ...'")
        for item in root.value:
            spec = _seed(item)
            if spec.url in lines:
                raise _Error(item, f"{spec.url} is already listed at line {lines[spec.url]}")
            lines[spec.url] = spec.line or 0
            specs.append(spec)
    except _Error as exc:
        raise InputError(f"{path}, line {exc.line}: {exc}") from None
    if not specs:
        raise InputError(f"seed file has no seeds: {path}")
    return specs
