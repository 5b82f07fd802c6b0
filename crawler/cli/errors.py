"""How our own errors reach the user: one line, no traceback; bad input exits 2.

Kept apart from common.py (rich, the archive): `lastseen verify` needs only these.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from archive.exceptions import ArchiveError, ConfigError
from crawler.exceptions import InputError, SetupError


class UserError(click.ClickException):
    """Bad input: one clear line on stderr, exit 2, nothing written."""

    exit_code = 2


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our own errors into one-line messages instead of tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (InputError, ConfigError) as exc:
            raise UserError(str(exc)) from None
        except (SetupError, ArchiveError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper
