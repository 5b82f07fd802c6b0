"""The README stays true: every setting, environment variable and command is documented."""

from __future__ import annotations

import re

import click

import crawler.settings
from crawler.cli import main
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    """Every command and subcommand, its module imported (`lastseen` loads them lazily)."""
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix + name + " "))
    return found


def test_every_lastseen_setting_is_documented():
    settings = [n for n in dir(crawler.settings) if re.match(r"(CAPTURE|ARCHIVE)_[A-Z_]+$", n)]
    assert settings
    missing = [name for name in settings if f"`{name}`" not in README]
    assert missing == []


def test_every_environment_variable_is_documented():
    envvars = {"LASTSEEN_BROWSER"}
    for _, command in [("", main), *_commands(main)]:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if envvar:
                envvars.update([envvar] if isinstance(envvar, str) else envvar)
    missing = sorted(v for v in envvars if f"`{v}`" not in README)
    assert missing == []


def test_every_command_and_option_has_help_and_appears_in_the_readme():
    for name, command in _commands(main):
        assert command.help, f"lastseen {name} has no help text"
        assert f"lastseen {name}" in README, f"`lastseen {name}` is not in the README"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"lastseen {name} {param.opts[0]} has no help"


def test_the_readme_starts_with_the_two_commands():
    setup = README.split("## ", 2)[1]
    assert "make run" in setup and "make test" in setup
