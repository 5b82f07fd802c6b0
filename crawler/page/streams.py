"""Read HLS and DASH manifests as recorded: which renditions they offer, which segments each has.

Only reading: a manifest is stored byte for byte as the server sent it and never rewritten; this
tells the media completer (``crawler.page.media``) what else to fetch so the stream replays.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

HLS_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl")
DASH_TYPES = ("application/dash+xml",)
_URI_ATTR = re.compile(r'URI="([^"]+)"')
_BANDWIDTH = re.compile(r"(?:^|[:,])BANDWIDTH=(\d+)")
_RESOLUTION = re.compile(r"RESOLUTION=(\d+)x(\d+)")
# ReplayWeb.page (wabac.js) replays the best rendition within these; pywb the best of all.
REPLAY_MAX_BANDWIDTH = 1_000_000
REPLAY_MAX_PIXELS = 1280 * 720


@dataclass
class Manifest:
    url: str
    kind: str  # "hls" or "dash"
    variants: list[str] = field(default_factory=list)  # media playlists a master offers (HLS)
    # Segments per rendition (DASH: per Representation id; HLS media playlist: its own URL).
    segments: dict[str, list[str]] = field(default_factory=dict)
    declared_seconds: float | None = None
    live: bool = False
    # Bandwidth and pixels per rendition (HLS: variant URL; DASH: Representation id).
    options: dict[str, tuple[int, int]] = field(default_factory=dict)

    def replayed(self) -> set[str]:
        """The renditions replay tools keep when they rewrite the manifest for replay: pywb the
        highest bandwidth, ReplayWeb.page the best within 1 Mbit/s and 720p. The stream replays
        only if those are in the WARC whole."""
        if not self.options:
            return set()
        chosen = {max(self.options, key=lambda k: self.options[k][0])}
        capped = [
            k
            for k, (bandwidth, pixels) in self.options.items()
            if bandwidth <= REPLAY_MAX_BANDWIDTH and pixels <= REPLAY_MAX_PIXELS
        ]
        if capped:
            chosen.add(max(capped, key=lambda k: self.options[k]))
        return chosen


def manifest_kind(url: str, content_type: str | None) -> str | None:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    path = urlsplit(url).path.lower()
    if mime in HLS_TYPES or path.endswith(".m3u8"):
        return "hls"
    if mime in DASH_TYPES or path.endswith(".mpd"):
        return "dash"
    return None


def parse_hls(url: str, text: str) -> Manifest:
    manifest = Manifest(url, "hls")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    segments: list[str] = []
    total = 0.0
    expect_variant: tuple[int, int] | None = None
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF"):
            bandwidth = _BANDWIDTH.search(line)
            size = _RESOLUTION.search(line)
            expect_variant = (
                int(bandwidth.group(1)) if bandwidth else 0,
                int(size.group(1)) * int(size.group(2)) if size else 0,
            )
        elif line.startswith(("#EXT-X-MEDIA:", "#EXT-X-I-FRAME-STREAM-INF")):
            found = _URI_ATTR.search(line)
            if found and line.startswith("#EXT-X-MEDIA:"):
                manifest.variants.append(urljoin(url, found.group(1)))
        elif line.startswith(("#EXT-X-MAP", "#EXT-X-KEY")):
            found = _URI_ATTR.search(line)
            if found and not found.group(1).startswith(("data:", "skd:")):
                segments.append(urljoin(url, found.group(1)))
        elif line.startswith("#EXTINF:"):
            try:
                total += float(line[8:].split(",", 1)[0])
            except ValueError:
                pass
        elif not line.startswith("#"):
            if expect_variant is not None:
                manifest.variants.append(urljoin(url, line))
                manifest.options[urljoin(url, line)] = expect_variant
                expect_variant = None
            else:
                segments.append(urljoin(url, line))
    if segments:
        manifest.segments[url] = list(dict.fromkeys(segments))
        manifest.declared_seconds = round(total, 3)
        manifest.live = "#EXT-X-ENDLIST" not in lines
    return manifest


def _seconds(value: str | None) -> float | None:
    """An xs:duration such as PT20S or PT1M2.5S."""
    found = re.fullmatch(r"P(?:\d+D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", value or "")
    if not found:
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_dash(url: str, text: str) -> Manifest:
    """SegmentList and SegmentTemplate ($Number$/$Time$ with a timeline or a fixed duration)."""
    manifest = Manifest(url, "dash")
    root = ET.fromstring(text)
    manifest.live = root.get("type") == "dynamic"
    manifest.declared_seconds = _seconds(root.get("mediaPresentationDuration"))
    total = manifest.declared_seconds or 0.0

    def base(node: ET.Element, inherited: str) -> str:
        for child in node:
            if _local(child.tag) == "BaseURL" and child.text:
                return urljoin(inherited, child.text.strip())
        return inherited

    root_base = base(root, url)
    for period in (n for n in root if _local(n.tag) == "Period"):
        period_base = base(period, root_base)
        for adaptation in (n for n in period if _local(n.tag) == "AdaptationSet"):
            set_base = base(adaptation, period_base)
            set_template = _child(adaptation, "SegmentTemplate")
            for rep in (n for n in adaptation if _local(n.tag) == "Representation"):
                rep_id = rep.get("id") or str(len(manifest.segments))
                rep_base = base(rep, set_base)
                urls = _dash_segments(rep, rep_id, rep_base, set_template, total)
                manifest.segments[rep_id] = urls or [rep_base]
                width, height = (
                    int(rep.get(k) or adaptation.get(k) or 0) for k in ("width", "height")
                )
                manifest.options[rep_id] = (int(rep.get("bandwidth") or 0), width * height)
    return manifest


def _child(node: ET.Element, name: str) -> ET.Element | None:
    return next((n for n in node if _local(n.tag) == name), None)


def _dash_segments(
    rep: ET.Element, rep_id: str, base: str, inherited: ET.Element | None, total: float
) -> list[str]:
    seg_list = _child(rep, "SegmentList")
    if seg_list is not None:
        urls = [
            urljoin(base, n.get("media") or "") for n in seg_list if _local(n.tag) == "SegmentURL"
        ]
        init = _child(seg_list, "Initialization")
        if init is not None and init.get("sourceURL"):
            urls.insert(0, urljoin(base, init.get("sourceURL") or ""))
        return urls
    template = _child(rep, "SegmentTemplate") or inherited
    if template is None:
        return []

    def fill(pattern: str, number: int | None = None, time: int | None = None) -> str:
        out = pattern.replace("$RepresentationID$", rep_id)
        out = re.sub(
            r"\$Number(?:%0(\d+)d)?\$", lambda m: str(number).zfill(int(m.group(1) or 0)), out
        )
        out = out.replace("$Time$", str(time))
        out = out.replace("$Bandwidth$", rep.get("bandwidth") or "")
        return urljoin(base, out)

    urls = [fill(template.get("initialization") or "")] if template.get("initialization") else []
    media = template.get("media") or ""
    start = int(template.get("startNumber") or 1)
    timescale = int(template.get("timescale") or 1)
    timeline = _child(template, "SegmentTimeline")
    if timeline is not None:
        number, time = start, 0
        for entry in (n for n in timeline if _local(n.tag) == "S"):
            time = int(entry.get("t") or time)
            for _ in range(int(entry.get("r") or 0) + 1):
                urls.append(fill(media, number, time))
                time += int(entry.get("d") or 0)
                number += 1
    elif template.get("duration") and total:
        count = int(-(-total * timescale // int(template.get("duration") or 1)))
        urls += [fill(media, start + i) for i in range(count)]
    return urls


def parse_manifest(url: str, kind: str, body: bytes) -> Manifest | None:
    try:
        text = body.decode("utf-8-sig", "replace")
        return parse_hls(url, text) if kind == "hls" else parse_dash(url, text)
    except (ET.ParseError, ValueError):
        return None
