"""The capture browser's only way out: a SOCKS5 gate that refuses private addresses at connect time.

The URL guard's per-request check (``crawler.page.recorder``, CDP Fetch request stage) sees only
what the Fetch domain pauses: not WebSockets, not a popup opened with ``window.open``, not every
request of a cross-site frame, and it resolves a name that Chromium then resolves again (a DNS
server that answers differently the second time, DNS rebinding, gets through). So, with the guard
on, each capture's browser context is sent through a gate of its own: a SOCKS5 server in
lastseen's own process on 127.0.0.1 and a random port. Chromium hands it the host *name* (SOCKS5
resolves on the proxy side) and Playwright proxies loopback too (``<-loopback>``), so every TCP
connection of the page, whatever its kind, comes here; the gate resolves the name itself, refuses
the connection when any address of the name is refused, and otherwise connects to the address it
checked, never resolving again. Every refused connection is kept (host, port, address, time, why)
for the capture's provenance, and the address each name was connected to stands for the server's
address in the record (Chromium itself only knows it talked to the gate).

One gate per capture, so that what it refused is attributed to the capture that asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archive.times import rfc3339

logger = logging.getLogger(__name__)

META_KEY = "capture_egress"

# SOCKS5 (RFC 1928): version, commands, address types, replies.
VERSION = 5
NO_AUTH, NO_ACCEPTABLE = 0, 0xFF
CONNECT = 1
ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 1, 3, 4
SUCCEEDED, GENERAL_FAILURE, NOT_ALLOWED, HOST_UNREACHABLE = 0, 1, 2, 4
CONNECTION_REFUSED, COMMAND_NOT_SUPPORTED = 5, 7

HANDSHAKE_TIMEOUT = 10.0
CONNECT_TIMEOUT = 15.0
CHUNK = 64 * 1024


class _Refused(Exception):
    def __init__(self, code: int, reason: str, address: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.address = address


@dataclass
class EgressGate:
    """One capture's SOCKS5 gate. ``guard`` is a ``crawler.middlewares.urlguard.UrlGuard``."""

    guard: Any
    refused: list[dict[str, Any]] = field(default_factory=list)
    # (host, port) as Chromium asked for it -> the address the gate connected to.
    connected: dict[tuple[str, int], str] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> EgressGate:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "the gate is not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def proxy(self) -> dict[str, str]:
        """Playwright's ``proxy`` option of a browser context."""
        return {"server": f"socks5://127.0.0.1:{self.port}"}

    def close(self) -> None:
        """Stop accepting and cut what is still open: the capture's page is gone."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._pipes):
            task.cancel()

    def refusal(self, url: str) -> str | None:
        """Why the gate refused the connection a URL needed, if it did."""
        endpoint = _endpoint(url)
        for entry in reversed(self.refused):
            if (entry["host"], entry["port"]) == endpoint:
                return str(entry["reason"])
        return None

    def address(self, url: str) -> tuple[str, int] | None:
        """The server address and port the gate connected to for a URL's host and port."""
        endpoint = _endpoint(url)
        address = self.connected.get(endpoint) if endpoint else None
        return (address, endpoint[1]) if address and endpoint else None

    # -- one connection ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._pipes.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            host, port = await asyncio.wait_for(self._handshake(reader, writer), HANDSHAKE_TIMEOUT)
            try:
                up_reader, upstream, address = await self._connect(host, port)
            except _Refused as exc:
                if exc.code == NOT_ALLOWED:
                    self._note_refusal(host, port, exc.address, exc.reason)
                await self._reply(writer, exc.code)
                return
            self.connected[(host, port)] = address
            await self._reply(writer, SUCCEEDED)
            await _pipe_both(reader, writer, up_reader, upstream)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, _BadRequest) as exc:
            logger.debug("egress: %s", exc)
        except asyncio.CancelledError:
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()
            if task is not None:
                self._pipes.discard(task)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int]:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != VERSION:
            raise _BadRequest(f"not SOCKS5 (version {version})")
        if NO_AUTH not in methods:
            writer.write(bytes([VERSION, NO_ACCEPTABLE]))
            raise _BadRequest("the client offers no method without authentication")
        writer.write(bytes([VERSION, NO_AUTH]))
        version, command, _, atyp = await reader.readexactly(4)
        if atyp == ATYP_IPV4:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == ATYP_IPV6:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif atyp == ATYP_DOMAIN:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna").lower()
        else:
            raise _BadRequest(f"unknown address type {atyp}")
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != CONNECT:
            await self._reply(writer, COMMAND_NOT_SUPPORTED)
            raise _BadRequest(f"SOCKS command {command} (only CONNECT is served)")
        return host, port

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
        """Resolve once, check every address, connect to a checked one: no second lookup."""
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError) as exc:
                raise _Refused(HOST_UNREACHABLE, f"{host} does not resolve ({exc})") from None
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            why = self.guard.check_addresses(f"socks5://{_netloc(host, port)}/", [address])
            if why:
                raise _Refused(NOT_ALLOWED, why, address)
        last: OSError | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(address, port), CONNECT_TIMEOUT
                )
                return reader, writer, address
            except (OSError, TimeoutError) as exc:
                last = exc if isinstance(exc, OSError) else OSError(str(exc) or "timed out")
        raise _Refused(CONNECTION_REFUSED, f"{host}:{port}: {last}")

    async def _reply(self, writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(bytes([VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0]))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _note_refusal(self, host: str, port: int, address: str | None, reason: str) -> None:
        entry = {
            "host": host,
            "port": port,
            "address": address,
            "at": rfc3339(datetime.now(UTC)),
            "reason": reason,
        }
        self.refused.append(entry)
        logger.info("egress refused %s:%s (%s)", host, port, reason)


class _BadRequest(Exception):
    """The client did not speak SOCKS5 CONNECT: the connection is dropped."""


def _endpoint(url: str) -> tuple[str, int] | None:
    """A URL's host and port, as Chromium asks the gate for them."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return None
    return (parts.hostname or "").lower(), port


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _pipe_both(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until either side is done."""
    done, pending = await asyncio.wait(
        [
            asyncio.ensure_future(_copy(client_reader, up_writer)),
            asyncio.ensure_future(_copy(up_reader, client_writer)),
        ],
        return_when=asyncio.FIRST_COMPLETED,
    )
    for task in pending:
        task.cancel()
    for task in done:
        task.exception()  # retrieved, so a reset connection is not reported as unhandled


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError:
        pass


def release(meta: dict[str, Any]) -> None:
    """Close the capture's gate, once (the capture is over: its page and context are closed)."""
    gate = meta.pop(META_KEY, None)
    if gate is not None:
        gate.close()
