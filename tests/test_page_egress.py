"""The URL guard at the network layer: what the CDP Fetch domain never pauses is refused too.

As in test_service_urlguard.py, the service lets exactly 127.0.0.3 and 127.0.0.4 through (two
"public" sites: two hosts, so a frame of one in a page of the other is cross-site and runs in a
renderer of its own) and an "internal" server on 127.0.0.2 counts every request it gets: a
WebSocket, a popup, a frame or a navigation that reached it fails the test. Each capture's browser context goes through
an egress gate (crawler/page/egress.py) that resolves names itself and refuses at connect time.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from crawler.middlewares.urlguard import UrlGuard, parse_networks
from crawler.page.egress import EgressGate
from tests.service_fixtures import Recorder, Service, html, start_service
from tests.warcs import read_warc


@pytest.fixture(scope="module")
def internal():
    server = Recorder("127.0.0.2", {"/secret": html("<h1>internal admin page</h1>")})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stun() -> Iterator[tuple[int, list[bytes]]]:
    """A UDP port on the internal address, keeping every datagram it receives."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.2", 0))
    sock.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                received.append(sock.recv(2048))
            except TimeoutError:
                continue

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    yield sock.getsockname()[1], received
    stop.set()
    thread.join()
    sock.close()


def _port(server: Recorder) -> int:
    return int(server.server_address[1])


@pytest.fixture(scope="module")
def embedded(internal: Recorder):
    """An embed from another site, whose frame reaches for the internal server itself."""
    secret = internal.url("/secret")
    pages = {
        "/embed": html(
            f'<p>embed</p><iframe src="{secret}"></iframe><script>fetch({secret!r})</script>'
        )
    }
    server = Recorder("127.0.0.4", pages)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def public(internal: Recorder, embedded: Recorder, stun: tuple[int, list[bytes]]):
    secret = internal.url("/secret")
    webrtc_js = f"""
      <script>
        const pc = new RTCPeerConnection({{iceServers: [{{urls: "stun:127.0.0.2:{stun[0]}"}}]}});
        pc.createDataChannel("x");
        pc.createOffer().then((offer) => pc.setLocalDescription(offer));
      </script>"""
    socket_js = """
      <p id=out>nothing</p>
      <script>
        const out = document.getElementById('out');
        for (const url of %s) {
          const ws = new WebSocket(url);
          ws.onmessage = (e) => { out.textContent = 'LEAK' + 'ED ' + e.data; };
          ws.onerror = () => { out.textContent = 'refused'; };
        }
      </script>"""
    pages = {
        "/ws-internal": html(
            socket_js
            % (
                f'["ws://127.0.0.2:{_port(internal)}/socket", '
                f'"ws://localhost:{_port(internal)}/named"]'
            )
        ),
        "/popup-internal": html(f"<h1>ad</h1><script>window.open({secret!r})</script>"),
        "/frame-internal": html(f'<h1>ad</h1><iframe src="{embedded.url("/embed")}"></iframe>'),
        "/refresh-internal": (
            200,
            [("Content-Type", "text/html")],
            f'<meta http-equiv="refresh" content="0;url={secret}"><h1>moving</h1>'.encode(),
        ),
        "/script-internal": html(f"<h1>moving</h1><script>location.href = {secret!r}</script>"),
        "/ad": html("<h1>an ordinary ad</h1>"),
        "/webrtc-internal": html("<h1>ad</h1>" + webrtc_js),
    }
    server = Recorder("127.0.0.3", pages)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory):
    store = tmp_path_factory.mktemp("egress") / "evidence"
    service = start_service(store, None, LASTSEEN_ALLOW_NETWORKS="127.0.0.3/32,127.0.0.4/32")
    yield service
    assert service.stop() == 0


def _capture(service: Service, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    done = service.wait(service.report(url, case="EGRESS")["id"])
    assert done["status"] == "stored", done
    capture = done["capture"]
    meta = next(r for r in read_warc(service.store / capture["warc"]) if r.type == "metadata").json()
    return capture, meta


def test_a_websocket_to_an_internal_address_is_refused_at_connect_time(
    guarded: Service, public: Recorder, internal: Recorder
):
    before = list(internal.hits)
    capture, meta = _capture(guarded, public.url("/ws-internal"))
    assert internal.hits == before, "a WebSocket reached the private network"
    assert capture["outcome"] == "ok"
    refused = {(r["host"], r["port"]): r for r in meta["refused_connections"]}
    by_address = refused[("127.0.0.2", _port(internal))]
    assert by_address["address"] == "127.0.0.2"
    assert "127.0.0.2, a loopback address" in by_address["reason"]
    assert by_address["at"].endswith("Z")
    # Chromium hands the gate the *name*; the gate resolves it once and connects to what it
    # checked, so a DNS answer that changes between two lookups (rebinding) has nothing to change.
    by_name = refused[("localhost", _port(internal))]
    assert by_name["address"] in ("127.0.0.1", "::1")
    assert "localhost resolves to" in by_name["reason"]
    dom = guarded.get(f"/api/captures/{capture['id']}/dom").body.decode()
    assert "LEAKED" not in dom


def test_a_popup_to_an_internal_address_is_refused_closed_and_noted(
    guarded: Service, public: Recorder, internal: Recorder
):
    before = list(internal.hits)
    capture, meta = _capture(guarded, public.url("/popup-internal"))
    assert internal.hits == before, "the popup reached the private network"
    assert capture["outcome"] == "ok"
    assert any(r["address"] == "127.0.0.2" for r in meta["refused_connections"])
    assert meta["popups"] and meta["popups"][0]["closed"] is True


def test_a_cross_site_frame_reaching_for_an_internal_address_is_refused(
    guarded: Service, public: Recorder, embedded: Recorder, internal: Recorder
):
    before = list(internal.hits)
    capture, meta = _capture(guarded, public.url("/frame-internal"))
    assert internal.hits == before, "the frame reached into the private network"
    assert "iframe" in [t["type"] for t in meta["frames_and_workers"]]
    records = read_warc(guarded.store / capture["warc"])
    assert any(r.type == "response" and r.target == embedded.url("/embed") for r in records)
    refused = [f for f in meta["failed_or_blocked"] if f["url"] == internal.url("/secret")]
    assert refused and all("refused by the URL guard" in f["error"] for f in refused)


@pytest.mark.parametrize("path", ["/refresh-internal", "/script-internal"])
def test_a_navigation_by_the_page_to_an_internal_address_is_stored_as_refused(
    guarded: Service, public: Recorder, internal: Recorder, path: str
):
    before = list(internal.hits)
    capture, meta = _capture(guarded, public.url(path))
    assert internal.hits == before
    assert capture["outcome"] == "refused", capture
    assert "127.0.0.2, a loopback address" in capture["error"]
    assert capture["final_url"] == internal.url("/secret")
    assert meta["outcome"] == "refused" and meta["final_url"] == internal.url("/secret")


def test_through_the_gate_the_record_keeps_the_server_address(guarded: Service, public: Recorder):
    capture, meta = _capture(guarded, public.url("/ad"))
    assert capture["outcome"] == "ok"
    assert meta["server_ip"] == "127.0.0.3"
    assert meta["refused_connections"] == []
    page = next(
        r for r in read_warc(guarded.store / capture["warc"]) if r.type == "response" and r.target.endswith("/ad")
    )
    assert page.header("WARC-IP-Address") == "127.0.0.3"


def _socks_connect(port: int, host: str, target_port: int) -> int:
    """A SOCKS5 CONNECT by name, as Chromium sends it; the gate's reply code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert sock.recv(2) == b"\x05\x00"
        name = host.encode()
        sock.sendall(
            b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", target_port)
        )
        return sock.recv(10)[1]


def test_the_gate_connects_to_the_address_it_checked(public: Recorder, internal: Recorder):
    async def run() -> tuple[int, int, EgressGate]:
        gate = await EgressGate(UrlGuard(allowed_networks=parse_networks("127.0.0.3/32"))).start()
        try:
            allowed = await asyncio.to_thread(_socks_connect, gate.port, "127.0.0.3", _port(public))
            refused = await asyncio.to_thread(
                _socks_connect, gate.port, "localhost", _port(internal)
            )
            return allowed, refused, gate
        finally:
            gate.close()

    allowed, refused, gate = asyncio.run(run())
    assert (allowed, refused) == (0, 2)  # succeeded; not allowed by ruleset
    assert gate.connected == {("127.0.0.3", _port(public)): "127.0.0.3"}
    assert [r["host"] for r in gate.refused] == ["localhost"]


def test_webrtc_sends_no_udp_to_an_internal_address(
    guarded: Service, public: Recorder, stun: tuple[int, list[bytes]]
):
    """UDP does not pass a SOCKS5 gate; the browser is told to send none outside a proxy."""
    capture, _ = _capture(guarded, public.url("/webrtc-internal"))
    assert capture["outcome"] == "ok"
    assert stun[1] == [], "WebRTC sent STUN datagrams into the private network"
