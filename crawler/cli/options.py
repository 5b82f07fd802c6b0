"""The options several ``lastseen`` commands share, written once so they read and behave alike.

Only click is imported here: ``lastseen --help`` must not pay for what a command needs to run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# archive.bundle.keys.ENV; repeated here because that module imports cryptography.
KEY_ENV = "LASTSEEN_SIGNING_KEY"


def json_option(help: str) -> Callable[[F], F]:
    """``--json``: machine-readable output, passed to the command as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def case_option(
    help: str, *, from_env: bool = False, required: bool = False, metavar: str = "ID"
) -> Callable[[F], F]:
    """``--case ID``; commands that file or export evidence also read ``LASTSEEN_CASE``."""
    return click.option(
        "--case",
        "case",
        required=required,
        envvar="LASTSEEN_CASE" if from_env else None,
        metavar=metavar,
        help=help,
    )


def timeout_option(help: str) -> Callable[[F], F]:
    """``--timeout S`` (``LASTSEEN_TIMEOUT``): every command that captures takes it alike."""
    return click.option(
        "--timeout", type=float, default=None, envvar="LASTSEEN_TIMEOUT", metavar="S", help=help
    )


def key_option(help: str) -> Callable[[F], F]:
    """``--key FILE`` (``LASTSEEN_SIGNING_KEY``): the operator's Ed25519 signing key."""
    return click.option(
        "--key",
        "key_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=KEY_ENV,
        metavar="FILE",
        help=help,
    )
