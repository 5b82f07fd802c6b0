"""Taking an export bundle apart and putting a tampered one together, for the export tests."""

from __future__ import annotations

import zipfile
from pathlib import Path


def members(path: Path) -> dict[str, bytes]:
    """Every file of the ZIP at ``path``, by name."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(contents: dict[str, bytes], target: Path) -> Path:
    """A ZIP at ``target`` holding ``contents`` (name -> bytes), in that order."""
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return target
