"""Profiles at rest: each one a Fernet token (AES-128-CBC + HMAC-SHA256, ``cryptography``).

The key is ``LASTSEEN_PROFILE_KEY`` or, failing that, ``profile.key`` in the profiles folder,
made on first use with mode 0600. Profiles live in that folder (``LASTSEEN_PROFILES``, default
``~/.config/lastseen/profiles``), never in the evidence store; with a PostgreSQL catalog they live
in its ``profiles`` table instead, so that every worker sharing the catalog (and the key) can use
them. Nothing here logs or prints a cookie value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from archive.times import rfc3339
from crawler.exceptions import InputError, SetupError
from crawler.profiles.formats import sites

KEY_ENV = "LASTSEEN_PROFILE_KEY"
FOLDER_ENV = "LASTSEEN_PROFILES"
KEY_FILE = "profile.key"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"a profile name is 1 to 64 letters, digits, '.', '_' or '-', not {name[:80]!r}"
        )
    return name


@dataclass(frozen=True)
class Profile:
    """One account's signed-in browser state and how to tell its pages apart."""

    name: str
    account: str  # who the investigator is signed in as, in their words ("Anna V., undercover")
    state: dict[str, Any]  # Playwright storage_state: cookies and local storage
    secret_headers: tuple[str, ...] = ()  # besides Cookie, Authorization, Set-Cookie ...
    secret_fields: tuple[str, ...] = ()  # form fields of request bodies (a CSRF token)
    signed_in: dict[str, str] = field(default_factory=dict)  # {"selector": ...} or {"text": ...}
    login_wall: dict[str, Any] = field(default_factory=dict)  # {"urls": [glob], "selector": ...}
    max_pages: int = 1  # pages that may use the profile at once
    created_at: str = ""
    updated_at: str = ""
    signed_out_since: str | None = None  # the first capture that met a login wall since
    signed_out_url: str | None = None

    @property
    def sites(self) -> list[str]:
        return sites(self.state)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Profile:
        fields = json.loads(data)
        fields["secret_headers"] = tuple(fields.get("secret_headers", ()))
        fields["secret_fields"] = tuple(fields.get("secret_fields", ()))
        return cls(**fields)


def default_folder() -> Path:
    configured = os.environ.get(FOLDER_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lastseen" / "profiles"


def _private_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise SetupError(f"cannot make the profiles folder {folder}: {exc}") from None
    return folder


def load_key(folder: Path) -> bytes:
    """The profiles' key: from the environment, else the folder's key file (made if missing)."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        key = configured.strip().encode("ascii", "replace")
        try:
            Fernet(key)
        except ValueError:
            raise SetupError(
                f"{KEY_ENV} is not a profile key (32 bytes, URL-safe base64, as "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())'`"
                " makes)"
            ) from None
        return key
    path = _private_folder(folder) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise SetupError(f"{path} can be read by others: chmod 600 it") from None
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        key = Fernet.generate_key()
        out.write(key + b"\n")
    return key


class _Folder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.profile"

    def load(self, name: str) -> str | None:
        try:
            return self.path(name).read_text(encoding="ascii")
        except FileNotFoundError:
            return None

    def save(self, name: str, sealed: str) -> None:
        folder = _private_folder(self.folder)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(sealed)
        os.replace(tmp, self.path(name))

    def delete(self, name: str) -> bool:
        try:
            self.path(name).unlink()
            return True
        except FileNotFoundError:
            return False

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name.removesuffix(".profile") for p in self.folder.glob("*.profile"))


class _Catalog:
    def __init__(self, db_url: str) -> None:
        from archive.catalog.db import Catalog

        self.catalog = Catalog(db_url)
        self.catalog.migrate()

    @contextmanager
    def _session(self) -> Iterator[Any]:
        with self.catalog.session() as session:
            yield session

    def load(self, name: str) -> str | None:
        from archive.catalog import profiles

        with self._session() as s:
            return profiles.load(s, name)

    def save(self, name: str, sealed: str) -> None:
        from archive.catalog import profiles

        with self._session() as s:
            profiles.save(s, name, sealed, datetime.now(UTC))

    def delete(self, name: str) -> bool:
        from archive.catalog import profiles

        with self._session() as s:
            return profiles.delete(s, name)

    def names(self) -> list[str]:
        from archive.catalog import profiles

        with self._session() as s:
            return profiles.names(s)


class ProfileStore:
    """Profiles by name, encrypted at rest; ``open_profiles`` picks where they are kept."""

    def __init__(self, backend: _Folder | _Catalog, folder: Path) -> None:
        self._backend = backend
        self.folder = folder
        # The shared catalog's engine (advisory locks hold a profile across machines), if any.
        self.engine = backend.catalog.engine if isinstance(backend, _Catalog) else None
        self.where = (
            f"catalog {backend.catalog.safe_url}" if isinstance(backend, _Catalog) else str(folder)
        )
        self._fernet: Fernet | None = None

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(load_key(self.folder))
        return self._fernet

    def names(self) -> list[str]:
        return self._backend.names()

    def find(self, name: str) -> Profile | None:
        sealed = self._backend.load(check_name(name))
        if sealed is None:
            return None
        try:
            return Profile.from_json(self.fernet.decrypt(sealed.encode("ascii")))
        except InvalidToken:
            raise SetupError(
                f"profile {name} cannot be decrypted with this key ({KEY_ENV} or "
                f"{self.folder / KEY_FILE}): it was saved with another one"
            ) from None

    def get(self, name: str) -> Profile:
        profile = self.find(name)
        if profile is None:
            raise InputError(f"no profile named {name!r} (lastseen profile ls)")
        return profile

    def put(self, profile: Profile) -> None:
        check_name(profile.name)
        now = rfc3339(datetime.now(UTC))
        profile = replace(profile, created_at=profile.created_at or now, updated_at=now)
        self._backend.save(profile.name, self.fernet.encrypt(profile.to_json()).decode("ascii"))

    def remove(self, name: str) -> bool:
        return self._backend.delete(check_name(name))

    def all(self) -> list[Profile]:
        return [p for p in (self.find(n) for n in self.names()) if p is not None]

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """The browser's state after a capture that was signed in (sites rotate their session
        cookies); a profile marked signed out is signed in again: its scheduled captures resume."""
        self.put(replace(self.get(name), state=state, signed_out_since=None, signed_out_url=None))

    def signed_out(self, name: str, at: str, url: str) -> Profile:
        """A capture met a login wall: the profile is signed out from then on (the first time
        counts); its scheduled captures wait until it is imported or signed in again."""
        profile = self.get(name)
        if profile.signed_out_since is None:
            profile = replace(profile, signed_out_since=at, signed_out_url=url)
            self.put(profile)
        return profile


def open_profiles(db_url: str | None = None, folder: Path | None = None) -> ProfileStore:
    """The profiles of this installation: in a PostgreSQL catalog's table when the catalog is
    one, else in the profiles folder (a SQLite catalog lives in the evidence store)."""
    folder = folder or default_folder()
    if db_url and db_url.startswith("postgresql"):
        return ProfileStore(_Catalog(db_url), folder)
    return ProfileStore(_Folder(folder), folder)
