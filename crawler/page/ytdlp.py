"""A complete, best-quality copy of each video a page showed, made with yt-dlp (issue 13).

yt-dlp runs as a program of its own beside the browser: with the capture context's cookies (a
temporary cookies.txt, deleted afterwards and never stored), the capture's proxy (the egress gate
under the URL guard) and its user agent; never through a third-party service. What it wrote is
described with ffprobe and handed to the WARC writer as files on disk (``MediaFile``), which
streams them into ``resource`` records. Everything that limited a copy (the size limit, a live
stream's time limit, a failure) is said in its metadata and the capture's provenance.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.capture import MediaFile
from archive.times import rfc3339

logger = logging.getLogger(__name__)

# Sites for which yt-dlp has an extractor of its own: the page URL is the best source.
DEDICATED = (
    "facebook.com", "fb.watch", "instagram.com", "tiktok.com", "x.com", "twitter.com",
    "t.me", "telegram.org", "youtube.com", "youtu.be", "vimeo.com",
)  # fmt: skip
MAX_SOURCES = 5
COMPLETE_WITHIN = 0.5  # seconds between declared and captured duration for a "complete" copy
_SECRET_KEYS = ("cookies", "cookie", "authorization")


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int = 4 * 1024**3
    live_seconds: float = 60.0
    timeout: float = 600.0  # all yt-dlp runs of one capture


def dedicated(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in DEDICATED)


def executable(name: str) -> str | None:
    beside = Path(sys.executable).parent / name  # the project's own pinned yt-dlp
    return str(beside) if beside.exists() else shutil.which(name)


@functools.cache
def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(os.path.realpath(path), "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def tools() -> dict[str, Any]:
    """yt-dlp's version and the SHA-256 of the executables a copy is made with."""
    from yt_dlp.version import __version__

    executables: dict[str, Any] = {}
    for name in ("yt-dlp", "ffmpeg", "ffprobe"):
        path = executable(name)
        executables[name] = {"path": path, "sha256": _sha256(path) if path else None}
    return {"yt_dlp_version": __version__, "executables": executables}


def redact(value: Any) -> Any:
    """yt-dlp's info JSON carries the cookies and headers it sent: each secret value becomes the
    SHA-256 of the original, as everywhere in lastseen's evidence."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if str(key).lower() in _SECRET_KEYS and isinstance(item, str):
                out[key] = "redacted sha256:" + hashlib.sha256(item.encode()).hexdigest()
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def cookies_txt(cookies: list[dict[str, Any]]) -> str:
    """Playwright's cookies in the Netscape format yt-dlp reads."""
    lines = ["# Netscape HTTP Cookie File"]
    for c in cookies:
        domain = str(c.get("domain") or "")
        lines.append(
            "\t".join(
                [
                    domain,
                    "TRUE" if domain.startswith(".") else "FALSE",
                    str(c.get("path") or "/"),
                    "TRUE" if c.get("secure") else "FALSE",
                    str(int(c["expires"])) if (c.get("expires") or -1) > 0 else "0",
                    str(c.get("name")),
                    str(c.get("value")),
                ]
            )
        )
    return "\n".join(lines) + "\n"


async def ffprobe(path: str) -> dict[str, Any]:
    probe = executable("ffprobe")
    if probe is None:
        return {"error": "ffprobe not found"}
    proc = await asyncio.create_subprocess_exec(
        probe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        return {"error": err.decode("utf-8", "replace").strip()[:500]}
    found: dict[str, Any] = json.loads(out or b"{}")
    return found


async def measured(path: str) -> float | None:
    """The seconds of media the file really holds: ffmpeg reads every packet (copying, not
    decoding); the container's header can declare a duration the bytes do not hold."""
    ffmpeg = executable("ffmpeg")
    if ffmpeg is None:
        return None
    proc = await asyncio.create_subprocess_exec(
        ffmpeg, "-nostdin", "-hide_banner", "-v", "info", "-i", path, "-map", "0",
        "-c", "copy", "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    times = re.findall(r"time=(\d+):(\d+):([\d.]+)", err.decode("utf-8", "replace"))
    if not times:
        return None
    hours, minutes, seconds = times[-1]
    return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 3)


def summary(probe: dict[str, Any]) -> dict[str, Any]:
    """Duration, codecs and resolution out of ffprobe's output."""
    streams = probe.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    duration = (probe.get("format") or {}).get("duration")
    return {
        "duration": float(duration) if duration else None,
        "codecs": [s.get("codec_name") for s in streams if s.get("codec_name")],
        "resolution": f"{video['width']}x{video['height']}" if video.get("width") else None,
    }


def _content_type(path: Path) -> str:
    return {
        ".mp4": "video/mp4", ".m4a": "audio/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
        ".ts": "video/mp2t", ".mp3": "audio/mpeg", ".mov": "video/quicktime",
    }.get(path.suffix.lower(), "application/octet-stream")  # fmt: skip


def _command(
    url: str, folder: Path, limits: MediaLimits, live: bool, cookies: Path | None,
    proxy: str | None, user_agent: str | None,
) -> list[str]:  # fmt: skip
    cmd = [
        str(executable("yt-dlp")), "--ignore-config", "--no-playlist", "--no-progress",
        "--no-cache-dir", "--no-mtime", "--no-part", "--write-info-json",
        "-f", "bv*+ba/b", "--max-filesize", str(limits.max_bytes),
        # Not --http-chunk-size: against a server that caps its ranges yt-dlp then stops after
        # the second range and reports success. A plain GET gets a whole answer where the
        # server gives one; what is short is told by the captured duration.
        "-o", str(folder / "media.%(ext)s"),
    ]  # fmt: skip
    ffmpeg = executable("ffmpeg")
    if ffmpeg:
        cmd += ["--ffmpeg-location", ffmpeg]
    if live:
        cmd += ["--downloader-args", f"ffmpeg_o:-t {limits.live_seconds:g}"]
    if cookies is not None:
        cmd += ["--cookies", str(cookies)]
    if proxy:
        cmd += ["--proxy", proxy]
    if user_agent:
        cmd += ["--user-agent", user_agent]
    return [*cmd, "--", url]


def _shown(cmd: list[str]) -> list[str]:
    """The command as recorded: the temporary cookie file's path says nothing worth keeping."""
    return [
        "<the capture context's cookies, not kept>" if i and cmd[i - 1] == "--cookies" else arg
        for i, arg in enumerate(cmd)
    ]


async def copy_one(
    url: str, folder: Path, limits: MediaLimits, live: bool, declared: float | None,
    seconds: float, cookies: Path | None, proxy: str | None, user_agent: str | None,
) -> tuple[MediaFile | None, dict[str, Any]]:  # fmt: skip
    """One yt-dlp run: the copy (None when there is none) and what to say about it."""
    folder.mkdir(parents=True)
    cmd = _command(url, folder, limits, live, cookies, proxy, user_agent)
    # The copy is made after the page was closed: its own times, in UTC.
    note: dict[str, Any] = {
        "source_url": url,
        "command": _shown(cmd),
        "started_at": rfc3339(datetime.now(UTC)),
    }
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=max(1.0, seconds))
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        note["stopped"] = f"yt-dlp did not finish within {seconds:g} s (CAPTURE_MEDIA_TIMEOUT)"
    text = (out + err).decode("utf-8", "replace")
    note["exit_status"] = proc.returncode
    note["ended_at"] = rfc3339(datetime.now(UTC))
    if "max-filesize" in text or "larger than max" in text:
        note["size_limit"] = (
            f"not kept: larger than CAPTURE_MEDIA_MAX_BYTES ({limits.max_bytes} bytes)"
        )
    files = [p for p in folder.iterdir() if not p.name.endswith((".json", ".part", ".ytdl"))]
    info_file = next(folder.glob("*.info.json"), None)
    info = json.loads(info_file.read_text()) if info_file else {}
    if not files:
        note["error"] = text.strip().splitlines()[-1][:500] if text.strip() else "no file written"
        return None, note
    path = max(files, key=lambda p: p.stat().st_size)
    probe = await ffprobe(str(path))
    described = summary(probe)
    # Declared: what the site (yt-dlp's info), the manifest or the container's header says;
    # captured: what the file's packets hold.
    declared = info.get("duration") or declared or described["duration"]
    captured = await measured(str(path))
    is_live = live or bool(info.get("is_live"))
    complete = (
        not is_live
        and declared is not None
        and captured is not None
        and abs(float(declared) - captured) <= COMPLETE_WITHIN
    )
    size = path.stat().st_size
    truncated = "length" if size > limits.max_bytes else ("time" if is_live else None)
    if size > limits.max_bytes:
        note["size_limit"] = (
            f"cut at CAPTURE_MEDIA_MAX_BYTES ({limits.max_bytes} bytes) of {size} bytes written"
        )
    if is_live:
        note["live"] = (
            f"a live stream: recorded for at most CAPTURE_MEDIA_LIVE_SECONDS "
            f"({limits.live_seconds:g} s); partial"
        )
    duration = {"declared": declared, "captured": captured, "complete": complete}
    note.update(described)
    note["duration"] = duration
    media = MediaFile(
        source_url=url,
        path=str(path),
        content_type=_content_type(path),
        length=min(size, limits.max_bytes),
        truncated=truncated,
        info={
            "tool": "yt-dlp",
            **tools(),
            **described,
            "duration": duration,
            "notes": {k: v for k, v in note.items() if k in ("size_limit", "live", "stopped")},
            "command": note["command"],
            "started_at": note["started_at"],
            "ended_at": note["ended_at"],
            "ffprobe": probe,
            "yt_dlp_info": redact(info),
        },
    )
    return media, note


async def copy_media(
    sources: list[tuple[str, bool, float | None]],
    limits: MediaLimits,
    cookies: list[dict[str, Any]],
    proxy: str | None,
    user_agent: str | None,
) -> tuple[list[MediaFile], list[dict[str, Any]]]:
    """Copies of ``sources`` (URL, live, declared seconds), within ``limits.timeout`` for all."""
    if executable("yt-dlp") is None:
        return [], [{"error": "yt-dlp not found: no complete copy made"}]
    loop = asyncio.get_running_loop()
    end = loop.time() + limits.timeout
    work = Path(tempfile.mkdtemp(prefix="lastseen-media-"))
    jar: Path | None = None
    if cookies:
        jar = work / "cookies.txt"
        jar.touch(mode=0o600)
        jar.write_text(cookies_txt(cookies))
    copies: list[MediaFile] = []
    notes: list[dict[str, Any]] = []
    try:
        for n, (url, live, declared) in enumerate(sources[:MAX_SOURCES], 1):
            left = end - loop.time()
            if left <= 1:
                notes.append({"source_url": url, "stopped": "CAPTURE_MEDIA_TIMEOUT reached"})
                continue
            seconds = min(left, limits.live_seconds + 60) if live else left
            media, note = await copy_one(
                url, work / str(n), limits, live, declared, seconds, jar, proxy, user_agent
            )
            notes.append(note)
            if media is not None:
                copies.append(media)
    finally:
        if jar is not None:
            with contextlib.suppress(OSError):
                jar.unlink()
        if not copies:
            shutil.rmtree(work, ignore_errors=True)
    return copies, notes


def discard(media: list[MediaFile]) -> None:
    """Remove the copies' working folder once they are sealed (or the capture was lost)."""
    for folder in {Path(m.path).parent.parent for m in media}:
        if folder.name.startswith("lastseen-media-"):
            shutil.rmtree(folder, ignore_errors=True)
