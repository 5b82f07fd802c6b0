"""The videos of a capture on the service (issue 13): each complete copy to download, streamed
from its WARC record, and a strip of its keyframes (derived, made with ffmpeg when asked).

Every file handed out is an access in the custody log, as for the other files of a capture.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response, StreamingResponse

from archive.bundle.media import keyframes, member_name
from archive.warc.media import payload_chunks
from crawler.service.auth import ApiUser
from crawler.service.desk import Desk, DeskDep, Stored
from crawler.service.headers import captured_headers

router = APIRouter()


def numbers(records: dict[str, object]) -> list[int]:
    """The capture's videos, by number (``media#1`` ...)."""
    found = [k.partition("#")[2] for k in records if k.startswith("media#")]
    return sorted(int(n) for n in found if n.isdigit())


def _video(desk: Desk, report_id: int, number: int, user: str) -> tuple[Stored, dict[str, str]]:
    stored = desk.stored(report_id, user)
    ref = stored.capture.records.get(f"media#{number}")
    if not isinstance(ref, dict):
        raise HTTPException(404, f"capture {stored.capture.id} has no video {number}")
    return stored, ref


def _chunks(desk: Desk, warc: str, offset: int) -> Iterator[bytes]:
    with desk.archive.open_file(warc) as stream:
        yield from payload_chunks(stream, offset)


@router.get(
    "/api/captures/{report_id}/media/{number}",
    tags=["captures"],
    summary="A complete copy of a video of the capture (recorded in the custody log)",
    response_class=Response,
)
def get_video(report_id: int, number: int, user: ApiUser, desk: DeskDep) -> StreamingResponse:
    stored, ref = _video(desk, report_id, number, user)
    desk.log_access(user, stored, f"media#{number}", str(ref.get("sha256") or ""))
    name = f"capture-{stored.capture.id}-" + (member_name(f"media#{number}", ref) or "").replace(
        "/", "-"
    )
    return StreamingResponse(
        _chunks(desk, stored.capture.warc_name, int(ref["offset"])),
        media_type=str(ref.get("content_type") or "application/octet-stream"),
        headers={**captured_headers(name), "Cache-Control": "private, max-age=86400, immutable"},
    )


@router.get(
    "/api/captures/{report_id}/media/{number}/keyframes.jpg",
    tags=["captures"],
    summary="Keyframes of a video, one every few seconds (derived, made with ffmpeg)",
    response_class=Response,
)
def get_keyframes(report_id: int, number: int, user: ApiUser, desk: DeskDep) -> Response:
    stored, ref = _video(desk, report_id, number, user)
    info = json.loads(desk.archive.read_record(stored.capture, f"media-info#{number}"))
    desk.log_access(user, stored, f"keyframes#{number}", str(ref.get("sha256") or ""))
    with tempfile.TemporaryDirectory(prefix="lastseen-keyframes-") as work:
        video, strip = Path(work) / "video", Path(work) / "keyframes.jpg"
        with open(video, "wb") as out:
            for chunk in _chunks(desk, stored.capture.warc_name, int(ref["offset"])):
                out.write(chunk)
        if keyframes(video, strip, (info.get("duration") or {}).get("captured")) is None:
            raise HTTPException(404, f"no keyframes could be made of video {number}")
        data = strip.read_bytes()
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400, immutable"},
    )
