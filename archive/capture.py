"""The one contract between the crawler and the archive: what a capture recorded.

Plain dataclasses, no behaviour that needs a browser: the crawler fills them while the page
loads, the archive turns them into WARC records, catalog rows and custody entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Headers = list[tuple[str, str]]

# Outcomes a capture can have; the catalog, the CLI and the API use these words.
OUTCOME_OK = "ok"
OUTCOME_HTTP_ERROR = "http-error"
OUTCOME_UNREACHABLE = "unreachable"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_REFUSED = "refused"  # the URL guard refused to fetch it (a private-network address)
# Captured with a browser profile that turned out signed out: the page showed its site's login
# wall instead of itself. Kept as evidence; it says nothing of whether the page is still there.
OUTCOME_LOGIN_WALL = "login-wall"
OUTCOMES = (
    OUTCOME_OK,
    OUTCOME_HTTP_ERROR,
    OUTCOME_UNREACHABLE,
    OUTCOME_TIMEOUT,
    OUTCOME_REFUSED,
    OUTCOME_LOGIN_WALL,
)

# Provenance key of a capture with no PDF of its own because its rendered DOM is that of an
# earlier capture, whose print stands for it: {"capture_id": int, "dom_sha256": hex}.
PDF_PRINT_OF = "pdf_print_of"

# How complete a recorded response body is.
BODY_COMPLETE = "complete"  # every byte the server sent, content-encoding undone
BODY_NONE = "none"  # the exchange has no body (redirect, 204, HEAD, 304)
BODY_UNAVAILABLE = "unavailable"  # the browser got a body we could not read back
BODY_TRUNCATED = "truncated"  # the body never ended within the capture time (a stream)


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: Headers
    body: bytes | None = None
    http_version: str = "HTTP/1.1"


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: Headers
    body: bytes
    body_state: str = BODY_COMPLETE
    http_version: str = "HTTP/1.1"
    # The exact status line and header block as read from the wire (HTTP/1.x only).
    raw_head: bytes | None = None


@dataclass
class Exchange:
    """One request the browser made and what came back (or why nothing did)."""

    request: HttpRequest
    response: HttpResponse | None
    resource_type: str = "Other"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    remote_ip: str | None = None
    remote_port: int | None = None
    protocol: str | None = None  # "http/1.1", "h2"
    tls_protocol: str | None = None  # "tls/1.3"
    tls: dict[str, Any] | None = None  # subject, issuer, validity, cipher as the browser saw them
    error: str | None = None  # why it failed (net::ERR_NAME_NOT_RESOLVED, blocked:...)
    redirected_to: str | None = None


@dataclass
class Resource:
    """Something the capture derived from the page: screenshot, rendered DOM, PDF, TLS chain."""

    kind: str  # "screenshot", "dom", "pdf", "tls-chain"
    content_type: str
    data: bytes


@dataclass
class MediaFile:
    """A complete copy of a video the page showed, made beside the browser (yt-dlp), waiting on
    disk to be sealed: the WARC writer streams it from ``path`` and never holds it in memory."""

    source_url: str  # where the copy came from (a manifest, a media URL, the page for yt-dlp)
    path: str
    content_type: str
    length: int  # bytes of ``path`` to store; fewer than the file holds when ``truncated``
    truncated: str | None = None  # WARC-Truncated's reason ("length", "time"), None when whole
    # What the record's metadata record says: tool and version, yt-dlp's info JSON, ffprobe's
    # output, the executables' SHA-256, declared against captured duration.
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Capture:
    """Everything recorded for one requested URL."""

    requested_url: str
    started_at: datetime
    ended_at: datetime
    outcome: str
    final_url: str | None = None
    http_status: int | None = None
    error: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    # Index in `exchanges` of the response that is "the page" (the last hop of the main chain).
    main_index: int | None = None
    resources: list[Resource] = field(default_factory=list)
    media: list[MediaFile] = field(default_factory=list)  # complete copies of videos (issue 13)
    # Free-form provenance gathered by the crawler: timings, flags, outlinks, failures.
    provenance: dict[str, Any] = field(default_factory=dict)
    # Who, with what: software and browser versions, user agent, viewport, settings.
    environment: dict[str, Any] = field(default_factory=dict)
    case_id: str | None = None
    note: str | None = None
    # Identifier kinds the job asked alerts for (a seed's alert:); derived after sealing.
    alert: tuple[str, ...] = ()
    # The queue's job it answers (a fleet worker's capture): sealed at most once per job.
    job_id: int | None = None

    @property
    def main(self) -> Exchange | None:
        if self.main_index is None:
            return None
        return self.exchanges[self.main_index]

    def resource(self, kind: str) -> Resource | None:
        for res in self.resources:
            if res.kind == kind:
                return res
        return None
