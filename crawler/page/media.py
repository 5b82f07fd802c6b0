"""Complete in the browser what the player only partly fetched (issue 13).

A player keeps only what it needs for the seconds the page is open: ``206`` byte ranges of an MP4,
a few segments of one HLS or DASH rendition. So, while the recorder still records, lastseen
fetches from the page itself (same browser context, cookies, proxy and URL guard) the whole of
each media response recorded only as a partial ``206``, and the segments of each rendition the
player chose (every rendition with ``--media all``) that it did not fetch. Each is recorded by
the recorder as its own request/response pair, exactly as any other, and the provenance lists
them as fetched by lastseen, not by the page. Manifests are never rewritten.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from archive.capture import BODY_COMPLETE
from crawler.page.streams import Manifest, manifest_kind, parse_manifest
from crawler.page.ytdlp import dedicated

logger = logging.getLogger(__name__)

PLAYED = "played"  # the renditions the player chose
ALL = "all"  # every rendition a manifest offers
MEDIA_MODES = ("off", PLAYED, ALL)
PARALLEL = 4
MAX_FETCHES = 2000  # segments per capture: a stream of hours is for yt-dlp, not the browser
WHY = (
    "fetched by lastseen from the page (same browser context and cookies) to complete a "
    "partial response or a stream the player only partly loaded; not requested by the page"
)

# The page's own fetch(), so that the browser's network stack, its recorder, cookies, proxy and
# URL guard apply. no-cors: a cross-origin video CDN sends no CORS headers; the recorder reads
# the body at the network level all the same.
FETCH_JS = """
async ({urls, parallel}) => {
  const out = {};
  let next = 0;
  async function worker() {
    while (next < urls.length) {
      const url = urls[next++];
      try {
        const r = await fetch(url, {mode: 'no-cors', credentials: 'include', cache: 'no-store'});
        await r.arrayBuffer();
        out[url] = r.type === 'opaque' ? 'opaque' : r.status;
      } catch (e) { out[url] = String(e).slice(0, 200); }
    }
  }
  await Promise.all(Array.from({length: parallel}, worker));
  return out;
}
"""


def _mime(hop: Any) -> str:
    headers = (hop.response or {}).get("headers") or {}
    for name, value in headers.items():
        if name.lower() == "content-type":
            return str(value).split(";", 1)[0].strip().lower()
    return str((hop.response or {}).get("mimeType") or "").lower()


def is_media(hop: Any) -> bool:
    return hop.resource_type == "Media" or _mime(hop).startswith(("video/", "audio/"))


def _status(hop: Any) -> int | None:
    return (hop.response or {}).get("status")


def _whole(hop: Any) -> bool:
    return (
        _status(hop) == 200
        and hop.body is not None
        and hop.body.state == BODY_COMPLETE
        and hop.body.data is not None
    )


@dataclass
class Seen:
    """What the page's exchanges say about its video."""

    partial: list[str] = field(default_factory=list)  # media URLs recorded only as 206
    whole: set[str] = field(default_factory=set)  # URLs recorded whole (200, complete)
    manifests: list[Manifest] = field(default_factory=list)
    media: list[str] = field(default_factory=list)  # media URLs that are not segments

    @property
    def any(self) -> bool:
        return bool(self.partial or self.manifests or self.media)


def survey(hops: list[Any]) -> Seen:
    seen = Seen()
    for hop in hops:
        if _whole(hop):
            seen.whole.add(hop.url)
    segments: set[str] = set()
    for hop in hops:
        kind = manifest_kind(hop.url, _mime(hop))
        if kind and _whole(hop) and hop.url not in {m.url for m in seen.manifests}:
            manifest = parse_manifest(hop.url, kind, hop.body.data)
            if manifest is not None:
                seen.manifests.append(manifest)
                segments.update(u for urls in manifest.segments.values() for u in urls)
    for hop in hops:
        if not is_media(hop) or hop.url in segments or hop.url in seen.media:
            continue
        if _status(hop) == 206 and hop.url not in seen.whole and hop.url not in seen.partial:
            seen.partial.append(hop.url)
        if _status(hop) in (200, 206) and not urlsplit(hop.url).path.endswith((".ts", ".m4s")):
            seen.media.append(hop.url)
    return seen


def _wanted(seen: Seen, mode: str, requested: set[str]) -> tuple[list[str], list[str]]:
    """Media playlists to fetch, then segments: of the renditions the player chose and those a
    replay tool will show (``all``: of every rendition)."""
    playlists: list[str] = []
    segments: list[str] = []
    for manifest in seen.manifests:
        replayed = manifest.replayed()
        wanted = [v for v in manifest.variants if mode == ALL or v in replayed]
        playlists += [v for v in wanted if v not in requested]
        for rendition, urls in manifest.segments.items():
            chosen = (
                mode == ALL
                or manifest.kind == "hls"  # a media playlist is there because it was chosen
                or rendition in replayed
                or any(u in requested for u in urls)
            )
            if chosen and not manifest.live:
                segments += [u for u in urls if u not in seen.whole]
    return list(dict.fromkeys(playlists)), list(dict.fromkeys(segments))


async def _fetch(page: Any, urls: list[str], seconds: float) -> dict[str, Any]:
    if not urls or seconds <= 0:
        return {}
    try:
        result = await asyncio.wait_for(
            page.evaluate(FETCH_JS, {"urls": urls, "parallel": PARALLEL}), timeout=seconds
        )
        return dict(result)
    except Exception as exc:  # the time ran out, the page navigated away
        logger.debug("media completion stopped: %s", exc)
        return {"error": str(exc).splitlines()[0][:200]}


async def complete(page: Any, recorder: Any, mode: str, seconds: float) -> dict[str, Any]:
    """Fetch what completes the page's video within ``seconds``; the provenance of it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    seen = survey(recorder.hops())
    if not seen.any:
        return {}
    requested = {hop.url for hop in recorder.hops()}
    fetched: dict[str, Any] = {}
    if seen.partial:
        fetched.update(await _fetch(page, seen.partial, end - loop.time()))
    playlists, _ = _wanted(seen, mode, requested)
    if playlists:  # renditions the player never chose, then their segments
        fetched.update(await _fetch(page, playlists, end - loop.time()))
        await recorder.wait_idle(max(0.0, min(5.0, end - loop.time())))
        seen = survey(recorder.hops())
    _, segments = _wanted(seen, mode, requested)
    truncated = len(segments) > MAX_FETCHES
    fetched.update(await _fetch(page, segments[:MAX_FETCHES], end - loop.time()))
    await recorder.wait_idle(max(0.0, min(5.0, end - loop.time())))
    after = survey(recorder.hops())
    missing = [u for u in [*seen.partial, *segments] if u not in after.whole]
    out: dict[str, Any] = {
        "mode": mode,
        "manifests": [
            {
                "url": m.url,
                "kind": m.kind,
                "renditions": len(m.variants) or len(m.segments),
                "segments": sum(len(urls) for urls in m.segments.values()),
                "declared_seconds": m.declared_seconds,
                "live": m.live,
            }
            for m in seen.manifests
        ],
        "partial_responses": seen.partial,
        "fetched_by_lastseen": {"why": WHY, "urls": list(fetched)} if fetched else None,
        "not_recorded_whole": missing,
    }
    if truncated:
        out["segments_capped"] = f"only the first {MAX_FETCHES} of {len(segments)} segments"
    if any(m.live for m in seen.manifests):
        out["live"] = "a live stream: its segments change as it runs; see the yt-dlp copy"
    return out


def copy_sources(
    seen: Seen, page_url: str, mode: str, job_media: bool | None
) -> list[tuple[str, bool, float | None]]:
    """What yt-dlp copies: (URL, live, declared seconds). The page itself on a site yt-dlp has
    an extractor for; else each stream manifest (a master, not its renditions) and media file
    the browser saw; else, when asked to (``--media on``, ``media: true``), the page."""
    if mode == "off" or job_media is False:
        return []
    forced = job_media is True or mode in ("on", ALL)
    live = any(m.live for m in seen.manifests)
    if dedicated(page_url) and (forced or seen.any or mode == "auto"):
        return [(page_url, live, None)]
    by_url = {m.url: m for m in seen.manifests}
    renditions = {v for m in seen.manifests for v in m.variants}
    out: list[tuple[str, bool, float | None]] = []
    for manifest in seen.manifests:
        if manifest.url in renditions:
            continue
        parts = [by_url[v] for v in manifest.variants if v in by_url] or [manifest]
        declared = max((p.declared_seconds or 0.0 for p in parts), default=0.0) or None
        out.append((manifest.url, any(p.live for p in parts), declared))
    out += [(url, False, None) for url in seen.media]
    if not out and forced:
        out.append((page_url, False, None))
    return out
