"""Refuse to capture what lives inside private networks: the service's guard against SSRF.

Someone who can report a URL must not be able to make the capture browser fetch the cloud
metadata endpoint, a router's admin page or the service's own port, and then read the answer in
the screenshot. So an address is refused unless it is globally routable: loopback, private,
link-local (169.254.169.254, the metadata address), carrier-grade NAT, multicast, reserved and
unspecified addresses all are. A host name is checked by what it resolves to, every address of it.

The check runs four times: when a report is submitted (the API answers with the refusal), in
this downloader middleware before the browser opens a page, inside the browser for every request
the page makes, including each hop of a redirect (the recorder pauses every request at the CDP
Fetch request stage and fails the refused ones: Playwright's routing never sees redirect hops),
and at the network layer for every connection the capture's browser context opens, whatever its
kind (``crawler.page.egress``: WebSockets, popups, cross-site frames, and DNS rebinding, which
the request-stage check cannot see). A refused request is recorded: the capture's outcome is
``refused`` and its WARC keeps what was fetched before, the refused hop and why; every refused
connection is in the capture's provenance.

``URLGUARD_ALLOW_PRIVATE`` switches the guard off (tests against a site on 127.0.0.1);
``URLGUARD_ALLOWED_NETWORKS`` lets chosen networks through (an intranet site to capture).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.exceptions import InputError
from crawler.page import egress
from crawler.page.meta import CONTEXT_KEY
from crawler.page.recorder import GUARD_META_KEY, REFUSED

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services, named in refusals because they are what SSRF goes after.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}


class UrlRefused(IgnoreRequest):
    """The URL's host is, or resolves to, an address the guard refuses."""


def parse_networks(value: str | Iterable[str] | None) -> tuple[IPNetwork, ...]:
    """``10.1.2.0/24,192.168.7.9`` (a comma-separated string or a list) as networks."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InputError(f"not an IP network: {item!r} (expected e.g. 10.1.2.0/24)") from None
    return tuple(networks)


def kind_of(ip: IPAddress) -> str | None:
    """Why an address is refused ("loopback", "private" ...), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return kind_of(ip.ipv4_mapped)
    if ip in METADATA:
        return "cloud metadata"
    for kind in ("unspecified", "loopback", "link_local", "private", "multicast", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if not ip.is_global:
        return "non-global"
    return None


@dataclass(frozen=True)
class UrlGuard:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, settings: Any) -> UrlGuard:
        return cls(
            allow_private=settings.getbool("URLGUARD_ALLOW_PRIVATE", False),
            allowed_networks=parse_networks(settings.get("URLGUARD_ALLOWED_NETWORKS")),
        )

    def refuses(self, ip: IPAddress) -> str | None:
        if self.allow_private:
            return None
        if any(ip.version == net.version and ip in net for net in self.allowed_networks):
            return None
        return kind_of(ip)

    def check_addresses(self, url: str, addresses: Iterable[str]) -> str | None:
        for text in addresses:
            ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
            kind = self.refuses(ip)
            if kind:
                host = urlsplit(url).hostname
                shown = "" if host == str(ip) else f"{host} resolves to "
                article = "an" if kind[0] in "aeiou" else "a"
                return f"{shown}{ip}, {article} {kind} address"
        return None

    async def refusal(self, url: str, fail_unresolved: bool = True) -> str | None:
        """Why ``url`` may not be fetched, or None. A host that does not resolve is refused
        when ``fail_unresolved`` (the browser would resolve it on its own, maybe differently)."""
        if self.allow_private:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None  # data:, blob:, about: never reach the network
        host = parts.hostname
        if not host:
            return f"no host in {url}"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return f"bad port in {url}"
        try:
            return self.check_addresses(url, [str(ipaddress.ip_address(host))])
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            return f"{host} does not resolve ({exc})" if fail_unresolved else None
        return self.check_addresses(url, [info[4][0] for info in infos])


class UrlGuardMiddleware:
    """Downloader middleware: checks each request before the browser opens a page for it, hands
    the guard to the page's recorder, which checks every request the page makes, and sends the
    capture's browser context through an egress gate of its own, which checks every connection."""

    def __init__(self, guard: UrlGuard, stats: Any) -> None:
        self.guard = guard
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UrlGuardMiddleware:
        if not crawler.settings.getbool("URLGUARD_ENABLED"):
            raise NotConfigured
        guard = UrlGuard.from_settings(crawler.settings)
        if guard.allow_private:
            raise NotConfigured
        return cls(guard, crawler.stats)

    async def process_request(self, request: Any, spider: Any = None) -> None:
        reason = await self.guard.refusal(request.url)
        if reason:
            self.stats.inc_value("urlguard/refused")
            raise UrlRefused(f"{REFUSED}: {reason}")
        request.meta[GUARD_META_KEY] = self.guard
        gate = await egress.EgressGate(self.guard).start()
        request.meta[egress.META_KEY] = gate  # closed by the capturer with the page
        context = dict(request.meta.get(CONTEXT_KEY) or {})
        context["proxy"] = gate.proxy
        request.meta[CONTEXT_KEY] = context
