"""Record every network exchange of a page through the Chrome DevTools Protocol.

Two CDP domains on one session of our own:

- ``Network`` events give the exchange as the browser saw it: the raw request and response headers
  (``*ExtraInfo`` events, with the exact status line for HTTP/1.x), the server's IP address, the
  protocol, TLS details, redirects, failures and what was blocked.
- ``Fetch`` at the *Response* stage pauses each response once its headers are in, so that
  ``Fetch.getResponseBody`` hands back the exact bytes the server sent (content-encoding undone):
  ``Network.getResponseBody`` and Playwright's ``response.body()`` re-encode text as UTF-8, which
  would lose a windows-1252 page's bytes.

Nothing else intercepts the page's requests (lastseen's browser handler routes nothing), and the
page still renders its XHR content while they are paused (tests prove it).

A cross-site frame runs in another renderer, and a worker in a thread of its own: each is a CDP
target of its own, whose requests the page's session never sees. So the recorder auto-attaches to
every target the page creates, recursively, and each new target waits (``waitForDebuggerOnStart``)
until Network and Fetch are enabled on it, so that not even its first request is missed; all of
them record into the same capture. Playwright's CDP session does not route the messages of
flattened child sessions to Python, so the children are reached through their parent's session
(``Target.sendMessageToTarget`` / ``receivedMessageFromTarget``). Popups are closed and noted.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archive.capture import (
    BODY_COMPLETE,
    BODY_NONE,
    BODY_TRUNCATED,
    BODY_UNAVAILABLE,
    Exchange,
    Headers,
    HttpRequest,
    HttpResponse,
)
from archive.times import rfc3339

logger = logging.getLogger(__name__)

META_KEY = "capture_recorder"
GUARD_META_KEY = "capture_urlguard"  # set by crawler.middlewares.urlguard
REFUSED = "refused by the URL guard"

# Responses that are streams by design: reading their body would wait for ever.
STREAMING_TYPES = ("text/event-stream", "multipart/x-mixed-replace")
RECORDED_SCHEMES = ("http", "https")
# Targets whose own requests Fetch pauses; a worker's requests are paused by its frame's Fetch.
FETCH_TARGETS = ("page", "iframe")
CHILD_TIMEOUT = 30.0  # a child target's answer; a closed target never answers

NETWORK_EVENTS = {
    "Network.requestWillBeSent": "_on_request",
    "Network.requestWillBeSentExtraInfo": "_on_request_extra",
    "Network.responseReceived": "_on_response",
    "Network.responseReceivedExtraInfo": "_on_response_extra",
    "Network.loadingFinished": "_on_finished",
    "Network.loadingFailed": "_on_failed",
}
EVENTS = (
    *NETWORK_EVENTS,
    "Fetch.requestPaused",
    "Target.attachedToTarget",
    "Target.receivedMessageFromTarget",
    "Target.detachedFromTarget",
)


def split_headers(headers: dict[str, str] | None) -> Headers:
    """CDP joins repeated headers (Set-Cookie) with newlines; give them back one per line."""
    out: Headers = []
    for name, value in (headers or {}).items():
        for part in str(value).split("\n"):
            out.append((name, part))
    return out


def parse_head(text: str) -> tuple[str, int, str, Headers]:
    """Parse a raw HTTP/1.x response head: (version, status, reason, headers in wire order)."""
    lines = text.split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    headers: Headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    return version, int(code), reason, headers


def _without_pseudo(headers: Headers) -> Headers:
    """HTTP/2 pseudo-headers (:status, :path ...) are not header fields in an HTTP/1.1 block."""
    out: Headers = []
    for name, value in headers:
        if name == ":authority":
            out.append(("Host", value))
        elif not name.startswith(":"):
            out.append((name, value))
    return out


def tls_protocol(name: str | None) -> str | None:
    """CDP's "TLS 1.3" as the WARC-Protocol value "tls/1.3"."""
    if not name:
        return None
    label, _, ver = name.partition(" ")
    return f"{label.lower()}/{ver}" if ver else label.lower()


@dataclass
class _Body:
    url: str
    status: int | None
    data: bytes | None
    state: str
    note: str | None = None
    # The response head as the Fetch domain paused it: the only one there is when the Network
    # events of the response went to a target not yet attached (a worker's own script).
    head: dict[str, Any] | None = None


@dataclass
class _Hop:
    """One request of the browser, or one hop of a redirect chain (same CDP request id)."""

    request_id: str
    url: str
    method: str
    headers: Headers
    resource_type: str
    frame_id: str | None
    loader_id: str | None
    wall_start: float
    post_data: bytes | None = None
    raw_request_headers: Headers | None = None
    response: dict[str, Any] | None = None
    raw_response: dict[str, Any] | None = None
    redirected_to: str | None = None
    ended_at: float | None = None
    error: str | None = None
    body: _Body | None = None

    @property
    def is_document(self) -> bool:
        return self.resource_type == "Document"


@dataclass
class _RequestState:
    hops: list[_Hop] = field(default_factory=list)
    pending_request_extra: list[dict[str, Any]] = field(default_factory=list)
    pending_response_extra: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[_Body] = field(default_factory=list)


class _ChildSession:
    """A target the page created (a frame, a worker), spoken to through its parent's session."""

    def __init__(self, recorder: NetworkRecorder, parent: Any, session_id: str) -> None:
        self._recorder = recorder
        self._parent = parent
        self.session_id = session_id
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message_id = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = answer
        message = {"id": message_id, "method": method, "params": params or {}}
        try:
            await self._parent.send(
                "Target.sendMessageToTarget",
                {"sessionId": self.session_id, "message": json.dumps(message)},
            )
            return await asyncio.wait_for(answer, CHILD_TIMEOUT)
        finally:
            self._pending.pop(message_id, None)

    def deliver(self, text: str) -> None:
        message = json.loads(text)
        if "id" in message:
            answer = self._pending.get(message["id"])
            if answer is None or answer.done():
                return
            if "error" in message:
                answer.set_exception(RuntimeError(message["error"].get("message", "CDP error")))
            else:
                answer.set_result(message.get("result") or {})
        elif "method" in message:
            self._recorder._dispatch(self, message["method"], message.get("params") or {})

    def detached(self) -> None:
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(RuntimeError("the target was closed"))


class NetworkRecorder:
    """Attached to one page before it navigates; ``exchanges()`` gives what it recorded."""

    def __init__(self, cdp: Any, guard: Any = None, gate: Any = None) -> None:
        self._cdp = cdp
        # With a URL guard (crawler.middlewares.urlguard), every request, each redirect hop
        # included, is paused before it is sent too, and a refused one is failed there.
        self.guard = guard
        # With the guard, the context's connections go through this gate (crawler.page.egress).
        self.gate = gate
        self.refusals: dict[str, str] = {}  # URL -> why the guard refused it
        self._requests: dict[str, _RequestState] = {}
        self._order: list[_Hop] = []
        self._body_tasks: set[asyncio.Task[None]] = set()
        self._clock_offset: float | None = None  # wall time minus CDP monotonic time
        self.main_frame_id: str | None = None
        self.recording = True
        self._inflight: set[str] = set()
        self._last_activity = time.monotonic()
        self._children: dict[str, _ChildSession] = {}
        self.targets: list[dict[str, Any]] = []  # frames and workers attached, for provenance
        self.popups: list[dict[str, Any]] = []

    def begin(self) -> None:
        """The capture starts now (a recorder attached ahead of its request waited idle)."""
        self._last_activity = time.monotonic()

    @classmethod
    async def attach(cls, page: Any, guard: Any = None, gate: Any = None) -> NetworkRecorder:
        cdp = await page.context.new_cdp_session(page)
        recorder = cls(cdp, guard, gate)
        for event in EVENTS:
            cdp.on(event, lambda params, event=event: recorder._dispatch(cdp, event, params))
        await recorder._enable(cdp, "page")
        tree = await cdp.send("Page.getFrameTree")
        recorder.main_frame_id = tree["frameTree"]["frame"]["id"]
        page.on("popup", recorder._on_popup)
        return recorder

    async def _enable(self, session: Any, kind: str) -> None:
        """Record a target's exchanges, and attach to the targets it creates, before it runs."""
        # Bodies are read through Fetch, never Network.getResponseBody: the browser need not keep
        # a second copy of every body for this session.
        await session.send("Network.enable", {"maxTotalBufferSize": 0, "maxResourceBufferSize": 0})
        # Every use of a resource goes to the network and is recorded, as it would be with the
        # cache of a first visit; a memory-cache hit would leave no exchange to record.
        await session.send("Network.setCacheDisabled", {"cacheDisabled": True})
        if kind in FETCH_TARGETS:
            patterns = [{"urlPattern": "*", "requestStage": "Response"}]
            if self.guard is not None:
                patterns.append({"urlPattern": "*", "requestStage": "Request"})
            await session.send("Fetch.enable", {"patterns": patterns})
        await session.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": False},
        )

    def _dispatch(self, session: Any, event: str, params: dict[str, Any]) -> None:
        if event == "Fetch.requestPaused":
            self._on_paused(session, params)
        elif event == "Target.attachedToTarget":
            self._adopt(session, params)
        elif event == "Target.receivedMessageFromTarget":
            child = self._children.get(params.get("sessionId", ""))
            if child is not None:
                child.deliver(params["message"])
        elif event == "Target.detachedFromTarget":
            child = self._children.pop(params.get("sessionId", ""), None)
            if child is not None:
                child.detached()
        elif event in NETWORK_EVENTS:
            getattr(self, NETWORK_EVENTS[event])(params)

    # -- child targets -----------------------------------------------------------------------

    def _adopt(self, parent: Any, params: dict[str, Any]) -> None:
        info = params.get("targetInfo") or {}
        child = _ChildSession(self, parent, params["sessionId"])
        self._children[child.session_id] = child
        self.targets.append({"type": info.get("type"), "url": info.get("url") or None})
        self._spawn(self._prepare(child, info.get("type") or ""))

    async def _prepare(self, child: _ChildSession, kind: str) -> None:
        try:
            if self.recording:
                await self._enable(child, kind)
        except Exception as exc:  # a worker without a domain, a frame closed meanwhile
            logger.debug("recording a %s target: %s", kind, exc)
        finally:
            try:
                await child.send("Runtime.runIfWaitingForDebugger")
            except Exception as exc:
                logger.debug("could not resume a %s target: %s", kind, exc)

    def _on_popup(self, popup: Any) -> None:
        """A window the page opened is not part of the page's capture: closed and noted (its
        connections went through the same guard while it lived)."""
        self.popups.append({"url": popup.url, "at": rfc3339(datetime.now(UTC)), "closed": True})
        self._spawn(popup.close())

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._body_tasks.add(task)
        task.add_done_callback(self._body_tasks.discard)

    # -- time -------------------------------------------------------------------------------

    def _wall(self, monotonic: float | None) -> float | None:
        if monotonic is None or self._clock_offset is None:
            return None
        return monotonic + self._clock_offset

    @staticmethod
    def _dt(wall: float | None) -> datetime | None:
        return datetime.fromtimestamp(wall, UTC) if wall is not None else None

    # -- Network events ----------------------------------------------------------------------

    def _state(self, request_id: str) -> _RequestState:
        return self._requests.setdefault(request_id, _RequestState())

    def _current(self, request_id: str) -> _Hop | None:
        state = self._requests.get(request_id)
        return state.hops[-1] if state and state.hops else None

    def _on_request(self, params: dict[str, Any]) -> None:
        if not self.recording:
            return
        req = params["request"]
        if urlsplit(req["url"]).scheme not in RECORDED_SCHEMES:
            return
        if self._clock_offset is None and "wallTime" in params:
            self._clock_offset = params["wallTime"] - params["timestamp"]
        rid = params["requestId"]
        state = self._state(rid)
        if not params.get("redirectResponse") and state.hops and state.hops[-1].url == req["url"]:
            return  # a frame's navigation, told by its parent's session and by its own
        if params.get("redirectResponse") and state.hops:
            prev = state.hops[-1]
            prev.response = params["redirectResponse"]
            prev.redirected_to = req["url"]
            prev.ended_at = self._wall(params.get("timestamp"))
        post = req.get("postData")
        if post is None and req.get("postDataEntries"):
            post = "".join(
                base64.b64decode(e.get("bytes", "")).decode("latin-1")
                for e in req["postDataEntries"]
            )
        hop = _Hop(
            request_id=rid,
            url=req["url"],
            method=req["method"],
            headers=split_headers(req.get("headers")),
            resource_type=params.get("type", "Other"),
            frame_id=params.get("frameId"),
            loader_id=params.get("loaderId"),
            wall_start=params.get("wallTime") or self._wall(params.get("timestamp")) or 0.0,
            post_data=post.encode("latin-1", "replace") if isinstance(post, str) else None,
        )
        if state.pending_request_extra:
            hop.raw_request_headers = split_headers(
                state.pending_request_extra.pop(0).get("headers")
            )
        if state.pending_response_extra:
            hop.raw_response = state.pending_response_extra.pop(0)
        state.hops.append(hop)
        self._order.append(hop)
        self._inflight.add(rid)
        self._last_activity = time.monotonic()

    def _on_request_extra(self, params: dict[str, Any]) -> None:
        # ExtraInfo events may come before or after the event they complete.
        state = self._state(params["requestId"])
        for hop in state.hops:
            if hop.raw_request_headers is None:
                hop.raw_request_headers = split_headers(params.get("headers"))
                return
        state.pending_request_extra.append(params)

    def _on_response_extra(self, params: dict[str, Any]) -> None:
        state = self._state(params["requestId"])
        for hop in state.hops:
            if hop.raw_response is None:
                hop.raw_response = params
                return
        state.pending_response_extra.append(params)

    def _on_response(self, params: dict[str, Any]) -> None:
        hop = self._current(params["requestId"])
        if hop is None:
            return
        hop.response = params["response"]
        hop.resource_type = params.get("type", hop.resource_type)

    def _settled(self, request_id: str) -> None:
        self._inflight.discard(request_id)
        self._last_activity = time.monotonic()

    def _on_finished(self, params: dict[str, Any]) -> None:
        self._settled(params["requestId"])
        hop = self._current(params["requestId"])
        if hop is not None:
            hop.ended_at = self._wall(params.get("timestamp"))

    def _on_failed(self, params: dict[str, Any]) -> None:
        self._settled(params["requestId"])
        hop = self._current(params["requestId"])
        if hop is None:
            return
        hop.ended_at = self._wall(params.get("timestamp"))
        reason = params.get("errorText") or "failed"
        refused = self.refusals.get(hop.url) or self._refused_connection(hop.url)
        if refused:
            reason = f"{REFUSED}: {refused}"
        elif params.get("blockedReason"):
            reason = f"blocked: {params['blockedReason']} ({reason})"
        elif params.get("corsErrorStatus"):
            reason = f"blocked: CORS {params['corsErrorStatus'].get('corsError')} ({reason})"
        elif params.get("canceled"):
            reason = f"canceled ({reason})"
        hop.error = reason

    def _refused_connection(self, url: str) -> str | None:
        """Why the egress gate refused the connection this URL needed, if it did."""
        if self.gate is None:
            return None
        refused: str | None = self.gate.refusal(url)
        return f"{refused} (connection refused by the egress gate)" if refused else None

    # -- Fetch: exact response bodies ---------------------------------------------------------

    def _on_paused(self, session: Any, params: dict[str, Any]) -> None:
        at_response = "responseStatusCode" in params or "responseErrorReason" in params
        if at_response:
            self._unannounced(params)
            self._spawn(self._read_body(session, params))
        else:
            self._spawn(self._check_request(session, params))

    def _unannounced(self, params: dict[str, Any]) -> None:
        """A response whose request no Network event announced: a target that was attached
        while its first request was under way (a worker's). Fetch knows the request: record it."""
        network_id = params.get("networkId")
        req = params["request"]
        if not network_id or not self.recording or self._current(network_id) is not None:
            return
        if urlsplit(req["url"]).scheme not in RECORDED_SCHEMES:
            return
        hop = _Hop(
            request_id=network_id,
            url=req["url"],
            method=req["method"],
            headers=split_headers(req.get("headers")),
            resource_type=params.get("resourceType", "Other"),
            frame_id=params.get("frameId"),
            loader_id=None,
            wall_start=time.time(),
        )
        self._state(network_id).hops.append(hop)
        self._order.append(hop)

    async def _check_request(self, session: Any, params: dict[str, Any]) -> None:
        """Request stage (only with a guard): send the request, or fail it if refused."""
        url = params["request"]["url"]
        try:
            reason = await self.guard.refusal(url)
        except Exception as exc:  # a guard that cannot decide refuses
            reason = f"the URL guard failed: {exc}"
        try:
            if reason:
                self.refusals[url] = reason
                await session.send(
                    "Fetch.failRequest",
                    {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
                )
            else:
                await session.send("Fetch.continueRequest", {"requestId": params["requestId"]})
        except Exception as exc:  # target closed meanwhile
            logger.debug("could not release %s: %s", url, exc)

    async def _read_body(self, session: Any, params: dict[str, Any]) -> None:
        fetch_id = params["requestId"]
        status = params.get("responseStatusCode")
        url = params["request"]["url"]
        body: _Body
        try:
            if status is None or params.get("responseErrorReason"):
                body = _Body(url, status, None, BODY_UNAVAILABLE, params.get("responseErrorReason"))
            elif 300 <= status < 400 and any(
                h["name"].lower() == "location" for h in params.get("responseHeaders", [])
            ):
                # The browser does not read redirect bodies; there is nothing to ask for.
                body = _Body(url, status, None, BODY_NONE)
            elif any(
                h["name"].lower() == "content-type"
                and h["value"].split(";")[0].strip().lower() in STREAMING_TYPES
                for h in params.get("responseHeaders", [])
            ):
                body = _Body(url, status, None, BODY_TRUNCATED, "stream: body not recorded")
            else:
                result = await session.send("Fetch.getResponseBody", {"requestId": fetch_id})
                raw = (
                    base64.b64decode(result["body"])
                    if result.get("base64Encoded")
                    else result["body"].encode("utf-8")
                )
                body = _Body(url, status, raw, BODY_COMPLETE)
        except Exception as exc:  # the page closed, the request was cancelled ...
            body = _Body(url, status, None, BODY_UNAVAILABLE, str(exc).splitlines()[0][:200])
        if status is not None:
            body.head = {
                "url": url,
                "status": status,
                "statusText": params.get("responseStatusText") or "",
                "headers": _joined(params.get("responseHeaders")),
            }
        network_id = params.get("networkId")
        if network_id and self.recording:
            self._state(network_id).bodies.append(body)
        try:
            await session.send("Fetch.continueRequest", {"requestId": fetch_id})
        except Exception as exc:  # target closed while we were reading
            logger.debug("could not continue %s: %s", url, exc)

    async def wait_idle(self, timeout: float, quiet: float = 0.5) -> bool:
        """Wait until no request has been in flight for ``quiet`` seconds; False on timeout.

        Playwright's "networkidle" is a state reached once per navigation; this one is measured
        now, so it also tells when what scrolling triggered has finished loading.
        """
        end = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if not self._inflight and now - self._last_activity >= quiet:
                return True
            if now >= end:
                return False
            await asyncio.sleep(min(0.05, max(0.0, end - now)))

    # -- results -----------------------------------------------------------------------------

    async def stop(self, grace: float = 5.0) -> None:
        """Stop recording: let bodies being read finish (bounded), then stop intercepting."""
        if self._body_tasks:
            await asyncio.wait(set(self._body_tasks), timeout=grace)
        self.recording = False
        sessions = [self._cdp, *self._children.values()]
        results = await asyncio.gather(
            *(session.send("Fetch.disable") for session in sessions), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                logger.debug("Fetch.disable failed: %s", result)

    async def certificate_chain(self, url: str) -> list[bytes]:
        """DER certificates the browser holds for this https origin (leaf first)."""
        parts = urlsplit(url)
        if parts.scheme != "https":
            return []
        try:
            result = await self._cdp.send(
                "Network.getCertificate", {"origin": f"{parts.scheme}://{parts.netloc}"}
            )
        except Exception as exc:
            logger.debug("no certificate for %s: %s", url, exc)
            return []
        return [base64.b64decode(der) for der in result.get("tableNames", [])]

    def hops(self) -> list[_Hop]:
        self._match_bodies()
        return list(self._order)

    def _match_bodies(self) -> None:
        for state in self._requests.values():
            # hops() may be called while recording (the media completer reads what was seen):
            # a body matched by an earlier call stays with its hop.
            taken = {id(hop.body) for hop in state.hops if hop.body is not None}
            pending = [body for body in state.bodies if id(body) not in taken]
            for hop in state.hops:
                if hop.body is not None or (hop.response is None and hop.error):
                    continue
                for i, body in enumerate(pending):
                    if body.url == hop.url and (hop.response is not None or body.head):
                        hop.body = pending.pop(i)
                        hop.response = hop.response or body.head
                        break

    def exchange(self, hop: _Hop) -> Exchange:
        exchange = hop_to_exchange(hop, self._dt(hop.wall_start), self._dt(hop.ended_at))
        if self.gate is not None and exchange.remote_port == self.gate.port:
            # Through the gate, Chromium knows only the gate's address; the server's is the one
            # the gate connected to for this host and port.
            exchange.remote_ip, exchange.remote_port = self.gate.address(hop.url) or (None, None)
        return exchange


def hop_to_exchange(hop: _Hop, started: datetime | None, ended: datetime | None) -> Exchange:
    request_headers = _without_pseudo(hop.raw_request_headers or hop.headers)
    request = HttpRequest(
        method=hop.method, url=hop.url, headers=request_headers, body=hop.post_data
    )
    exchange = Exchange(
        request=request,
        response=None,
        resource_type=hop.resource_type,
        started_at=started,
        ended_at=ended,
        error=hop.error,
        redirected_to=hop.redirected_to,
    )
    resp = hop.response
    if resp is None:
        return exchange
    raw = hop.raw_response or {}
    protocol = (resp.get("protocol") or "").lower() or None
    head_text = raw.get("headersText")
    if head_text:
        version, status, reason, headers = parse_head(head_text)
        raw_head = head_text.encode("latin-1", "replace")
    else:
        version = "HTTP/1.1"  # h2/h3 have no status line; WARC-Protocol tells the truth
        status = raw.get("statusCode") or resp["status"]
        reason = resp.get("statusText", "")
        headers = _without_pseudo(split_headers(raw.get("headers") or resp.get("headers")))
        raw_head = None
    body = hop.body
    if body is None:
        state, data = (BODY_NONE if hop.redirected_to else BODY_UNAVAILABLE), b""
    else:
        state, data = body.state, body.data or b""
    exchange.response = HttpResponse(
        status=status,
        reason=reason,
        headers=headers,
        body=data,
        body_state=state,
        http_version=version if version.upper().startswith("HTTP/1") else "HTTP/1.1",
        raw_head=raw_head,
    )
    exchange.remote_ip = resp.get("remoteIPAddress") or None
    if exchange.remote_ip and ":" in exchange.remote_ip:
        exchange.remote_ip = exchange.remote_ip.strip("[]")
    exchange.remote_port = resp.get("remotePort")
    exchange.protocol = protocol if protocol not in (None, "unknown") else None
    security = resp.get("securityDetails")
    if security:
        exchange.tls_protocol = tls_protocol(security.get("protocol"))
        exchange.tls = {
            "protocol": security.get("protocol"),
            "cipher": security.get("cipher"),
            "key_exchange": security.get("keyExchange") or security.get("keyExchangeGroup"),
            "subject": security.get("subjectName"),
            "san": security.get("sanList"),
            "issuer": security.get("issuer"),
            "valid_from": _iso(security.get("validFrom")),
            "valid_to": _iso(security.get("validTo")),
            "certificate_transparency": security.get("certificateTransparencyCompliance"),
        }
    if body is not None and body.note:
        exchange.error = exchange.error or body.note
    return exchange


def _joined(headers: list[dict[str, str]] | None) -> dict[str, str]:
    """Fetch's header list as CDP's header object (repeated names joined by newlines)."""
    out: dict[str, str] = {}
    for header in headers or []:
        name, value = header["name"], header["value"]
        out[name] = f"{out[name]}\n{value}" if name in out else value
    return out


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

