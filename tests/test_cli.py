"""The `lastseen` command itself: it starts fast because each command is imported when it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from crawler.cli import COMMANDS, main

HEAVY = ("scrapy", "sqlalchemy", "boto3")
PREHOUSE_BUNDLE = Path(__file__).parent / "fixtures" / "prehouse-bundle.zip"
PREHOUSE_SIGNER = (PREHOUSE_BUNDLE.parent / "prehouse-signer.txt").read_text().split()[-1]


def _modules_imported_by(*args: str) -> set[str]:
    """Run `lastseen ARGS` in a fresh interpreter and list the top-level packages it imported."""
    code = (
        "import sys\n"
        "from crawler.cli import main\n"
        "try:\n"
        f"    main({list(args)!r}, prog_name='lastseen')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(proc.stderr.split())


def test_help_imports_neither_scrapy_nor_sqlalchemy_nor_boto3():
    imported = _modules_imported_by("--help")
    assert "click" in imported
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


@pytest.mark.parametrize(
    "args", [["verify", "--help"], ["verify", str(PREHOUSE_BUNDLE), "--key", PREHOUSE_SIGNER]]
)
def test_verify_imports_neither_scrapy_nor_sqlalchemy_nor_boto3(args):
    imported = _modules_imported_by(*args)
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listing_shows_each_commands_own_short_help(name):
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.help
    assert COMMANDS[name].help == command.get_short_help_str(limit=1000)
