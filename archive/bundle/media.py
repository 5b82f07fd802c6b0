"""Videos in a bundle (issue 13): each complete copy taken out of its WARC under
``captures/<id>/media/``, byte for byte the payload of its record, with its description and a
strip of keyframes for the report; and the verifier's check of each copy against its record.

The keyframe strip is derived data (made with ffmpeg at export, from the file beside it): the
report labels it so, and it is covered by SHA256SUMS like every file, not by a WARC record.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

MEDIA = "media/"
STRIP_FRAMES = 8  # at most this many keyframes a strip
STRIP_EVERY = 4.0  # seconds between two keyframes of a short video
_EXTENSIONS = {
    "video/mp4": ".mp4", "audio/mp4": ".m4a", "video/webm": ".webm", "video/x-matroska": ".mkv",
    "video/mp2t": ".ts", "audio/mpeg": ".mp3", "video/quicktime": ".mov",
}  # fmt: skip


def _number(kind: str, prefix: str) -> str | None:
    head, _, number = kind.partition("#")
    return number if head == prefix and number.isdigit() else None


def member_name(kind: str, ref: Any) -> str | None:
    """The file name, in a capture's folder, of a media kind of the catalog's ``records``
    (``media#1``, ``media-info#1``) or of a strip made at export (``keyframes#1``)."""
    if number := _number(kind, "media"):
        content_type = ref.get("content_type") if isinstance(ref, dict) else None
        return f"{MEDIA}{number}{_EXTENSIONS.get(content_type or '', '.bin')}"
    if number := _number(kind, "media-info"):
        return f"{MEDIA}{number}.json"
    if number := _number(kind, "keyframes"):
        return f"{MEDIA}{number}-keyframes.jpg"
    return None


def keyframes(video: Path, out: Path, seconds: float | None) -> float | None:
    """A strip of frames across the video, one every few seconds; the seconds between two, or
    None when ffmpeg is missing or cannot read the file."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or not seconds or seconds <= 0:
        return None
    frames = max(1, min(STRIP_FRAMES, math.ceil(seconds / STRIP_EVERY)))
    every = seconds / frames
    proc = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(video),
         "-vf", f"fps=1/{every:.3f},scale=200:-2,tile={frames}x1",
         "-frames:v", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", str(out)],
        capture_output=True, timeout=600,
    )  # fmt: skip
    return round(every, 1) if proc.returncode == 0 and out.exists() else None


def add_keyframes(files: dict[str, Path]) -> dict[str, float]:
    """Make the strip of each video among a capture's files taken out (kind -> path); the
    seconds between two keyframes of each strip made, by video number."""
    made: dict[str, float] = {}
    for kind, path in sorted(files.items()):
        number = _number(kind, "media")
        info_path = files.get(f"media-info#{number}")
        if number is None or info_path is None:
            continue
        info = json.loads(info_path.read_bytes())
        seconds = (info.get("duration") or {}).get("captured")
        strip = path.parent / (member_name(f"keyframes#{number}", None) or "").removeprefix(MEDIA)
        every = keyframes(path, strip, seconds)
        if every is not None:
            files[f"keyframes#{number}"] = strip
            made[number] = every
    return made


def videos(folder: str, files: dict[str, Path], every: dict[str, float]) -> list[dict[str, Any]]:
    """What the report shows of each video: file, duration, resolution, SHA-256, strip."""
    out = []
    for kind in sorted(files, key=lambda k: int(_number(k, "media") or 0)):
        number = _number(kind, "media")
        info_path = files.get(f"media-info#{number}")
        if number is None or info_path is None:
            continue
        info = json.loads(info_path.read_bytes())
        duration = info.get("duration") or {}
        strip = f"keyframes#{number}"
        out.append(
            {
                "number": int(number),
                "file": folder + MEDIA + files[kind].name,
                "source_url": info.get("source_url"),
                "sha256": info.get("sha256"),
                "record": info.get("resource"),
                "captured": _seconds(duration.get("captured")),
                "declared": _seconds(duration.get("declared")),
                "complete": bool(duration.get("complete")),
                "resolution": info.get("resolution"),
                "notes": list((info.get("notes") or {}).values()),
                "keyframes": folder + MEDIA + files[strip].name if strip in files else None,
                "every": f"{every[number]:g}" if number in every else None,
            }
        )
    return out


def _seconds(value: Any) -> str:
    return f"{float(value):.1f}" if isinstance(value, int | float) else "?"


def check(
    folder: str, names: Collection[str], record_ids: list[str]
) -> Iterator[tuple[str, str | None, str]]:
    """For verify: each video record of the WARC and the member that must be its payload (None
    when the bundle has no such file), in the order the provenance lists them."""
    for number, record_id in enumerate(record_ids, 1):
        prefix = f"{folder}{MEDIA}{number}."
        found = sorted(n for n in names if n.startswith(prefix) and not n.endswith(".json"))
        yield record_id, (found[0] if found else None), f"video {number}"
