"""The service's settings, read once from the environment into a validated dataclass."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from crawler.exceptions import InputError
from crawler.middlewares.urlguard import IPNetwork, UrlGuard, parse_networks

TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_SECRET = 16
TRUE = ("1", "true", "yes", "on")


# ``:profiles=anna|tipline-*`` in a token's entry: the browser profiles it may capture with.
_PROFILES = re.compile(r":profiles=([^:,]*)")


def profile_grants(value: str | None) -> dict[str, tuple[str, ...]]:
    """The browser profiles each token may capture with (patterns, ``|``-joined, after
    ``:profiles=``); a token without them may use none: a profile is an investigator's account."""
    grants: dict[str, tuple[str, ...]] = {}
    for item in (value or "").split(","):
        found = _PROFILES.search(item)
        if found:
            patterns = tuple(p for p in found.group(1).split("|") if p)
            if not patterns or any(ch.isspace() for p in patterns for ch in p):
                raise InputError(
                    "LASTSEEN_API_TOKEN: profiles= must be profile names or patterns joined by |"
                )
            grants[item.strip().partition(":")[0]] = patterns
    return grants


def parse_tokens(value: str | None) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """``LASTSEEN_API_TOKEN``: ``name:secret`` pairs separated by commas, e.g.
    ``alice:4f9c...,tipline:77ab...``. The name is who the custody log says reported a URL.
    ``name:secret:cases=BXL-2026-*`` (patterns joined by ``|``) limits a token to those cases.
    Returns the secrets and the case patterns of the limited tokens, by name."""
    if not value or not value.strip():
        raise InputError(
            "LASTSEEN_API_TOKEN is not set: give one or more name:secret pairs separated by "
            "commas (e.g. alice:$(openssl rand -hex 24))"
        )
    tokens: dict[str, str] = {}
    scopes: dict[str, tuple[str, ...]] = {}
    for number, item in enumerate(value.split(","), start=1):
        item = _PROFILES.sub("", item)  # profile_grants reads those
        name, sep, secret = item.strip().partition(":")
        if not sep or not TOKEN_NAME.match(name):
            raise InputError(
                f"LASTSEEN_API_TOKEN entry {number} must look like name:secret "
                "(name: letters, digits, . _ @ -)"
            )
        secret, limited, cases = secret.partition(":cases=")
        if len(secret) < MIN_SECRET or any(ch.isspace() for ch in secret):
            raise InputError(
                f"LASTSEEN_API_TOKEN: the secret of {name!r} must be at least {MIN_SECRET} "
                "characters without spaces"
            )
        if name in tokens:
            raise InputError(f"LASTSEEN_API_TOKEN names {name!r} twice")
        if secret in tokens.values():
            raise InputError("LASTSEEN_API_TOKEN gives two names the same secret")
        tokens[name] = secret
        if limited:
            patterns = tuple(cases.split("|"))
            if not all(p and not any(ch.isspace() for ch in p) for p in patterns):
                raise InputError(
                    f"LASTSEEN_API_TOKEN: the cases of {name!r} must be patterns like "
                    "BXL-2026-* joined by |"
                )
            scopes[name] = patterns
    return tokens, scopes


@dataclass(frozen=True)
class ServiceConfig:
    tokens: dict[str, str]
    # Tokens limited to some cases (need-to-know): name -> case patterns (fnmatch, * and ?).
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The browser profiles each token may capture with: name -> profile patterns.
    profiles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)
    # The same URL reported again within this many seconds of its capture shares that capture.
    dedup_seconds: float = 300.0
    max_body: int = 16 * 1024  # bytes: a capture request is a URL, a case number and a note
    # URLs one token may report per minute (and at once, in a burst).
    reports_per_minute: int = 60
    # Capture requests one token may have queued or running at once.
    queued_per_token: int = 100
    # A web session ends this long after sign-in (a working day), whatever happens.
    session_seconds: float = 8 * 3600.0
    # Proxies whose X-Forwarded-Proto/-For are believed (addresses or networks); nobody else's.
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        try:
            dedup = float(env.get("LASTSEEN_DEDUP_SECONDS") or cls.dedup_seconds)
        except ValueError:
            raise InputError("LASTSEEN_DEDUP_SECONDS must be a number of seconds") from None
        if dedup < 0:
            raise InputError("LASTSEEN_DEDUP_SECONDS cannot be negative")
        try:
            hours = float(env.get("LASTSEEN_SESSION_HOURS") or cls.session_seconds / 3600)
        except ValueError:
            raise InputError("LASTSEEN_SESSION_HOURS must be a number of hours") from None
        if not 0 < hours <= 24 * 30:
            raise InputError("LASTSEEN_SESSION_HOURS must be more than 0 and at most 720")
        rate = env.get("LASTSEEN_REPORTS_PER_MINUTE") or str(cls.reports_per_minute)
        if not rate.isdigit() or not 1 <= int(rate) <= 100_000:
            raise InputError("LASTSEEN_REPORTS_PER_MINUTE must be a whole number from 1 to 100000")
        queued = env.get("LASTSEEN_QUEUED_PER_TOKEN") or str(cls.queued_per_token)
        if not queued.isdigit() or not 1 <= int(queued) <= 1_000_000:
            raise InputError("LASTSEEN_QUEUED_PER_TOKEN must be a whole number from 1 to 1000000")
        guard = guard_from_env(env)
        tokens, scopes = parse_tokens(env.get("LASTSEEN_API_TOKEN"))
        return cls(
            tokens=tokens,
            scopes=scopes,
            profiles=profile_grants(env.get("LASTSEEN_API_TOKEN")),
            allow_private=guard.allow_private,
            allowed_networks=guard.allowed_networks,
            dedup_seconds=dedup,
            reports_per_minute=int(rate),
            queued_per_token=int(queued),
            session_seconds=hours * 3600,
            trusted_proxies=parse_proxies(env.get("LASTSEEN_TRUSTED_PROXIES")),
        )

    @property
    def guard(self) -> UrlGuard:
        return UrlGuard(self.allow_private, self.allowed_networks)


def parse_proxies(value: str | None) -> tuple[str, ...]:
    """``LASTSEEN_TRUSTED_PROXIES``: addresses or networks of the TLS proxies in front."""
    proxies = tuple(p.strip() for p in (value or "").split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise InputError(
                f"LASTSEEN_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
            ) from None
    return proxies


def guard_from_env(environ: Mapping[str, str] | None = None) -> UrlGuard:
    """``LASTSEEN_ALLOW_PRIVATE=1`` and ``LASTSEEN_ALLOW_NETWORKS=10.1.2.0/24,...``."""
    env = os.environ if environ is None else environ
    return UrlGuard(
        allow_private=(env.get("LASTSEEN_ALLOW_PRIVATE") or "").lower() in TRUE,
        allowed_networks=parse_networks(env.get("LASTSEEN_ALLOW_NETWORKS")),
    )


def guard_settings(guard: UrlGuard) -> dict[str, object]:
    """The URL guard as Scrapy settings, for a worker."""
    return {
        "URLGUARD_ENABLED": True,
        "URLGUARD_ALLOW_PRIVATE": guard.allow_private,
        "URLGUARD_ALLOWED_NETWORKS": [str(n) for n in guard.allowed_networks],
    }
