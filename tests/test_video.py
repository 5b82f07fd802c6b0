"""Video kept whole (issue 13): streams completed in the browser, a yt-dlp copy sealed beside.

The stand-in site (demo/video.py) makes its 20-second test video with ffmpeg at start; the pages
play it through hls.js (MSE), from 206 ranges, and from a blob: URL. The captures are made once
per module with the real CLI and browser; each test reads what they sealed.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from crawler.browser import find_browser, launch_args
from demo.video import DURATION, HLSJS, VideoSite
from tests.conftest import run_cli
from tests.pywb import pywb_serving
from tests.warcs import Rec, read_warc


@pytest.fixture(scope="module")
def video() -> Iterator[VideoSite]:
    assert HLSJS.exists(), "hls.js is missing: run `make setup` (media-deps)"
    site = VideoSite().start()
    yield site
    site.stop()


def crawl(
    site: VideoSite, folder: Path, pages: list[str], *options: str, **env: str
) -> dict[str, dict]:
    """Capture ``pages`` in one crawl; each page's capture summary and its WARC's records."""
    store = folder / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    seeds = folder / "seeds.txt"
    seeds.write_text("".join(site.url(p) + "\n" for p in pages))
    proc = run_cli("crawl", str(seeds), "--json", *options, store=store, timeout=400, **env)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        summary = json.loads(line)
        path = "/" + summary["url"].split("/", 3)[3]
        records = read_warc(summary["warc"])
        out[path] = {"summary": summary, "records": records, "store": store}
    return out


@pytest.fixture(scope="module")
def captured(video: VideoSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return crawl(
        video,
        tmp_path_factory.mktemp("video"),
        ["/hls.html", "/hls-paused.html", "/mp4.html", "/blob.html"],
    )


def responses(records: list[Rec], url: str) -> list[Rec]:
    return [r for r in records if r.type == "response" and r.target == url]


def provenance(records: list[Rec]) -> dict:
    return next(r.json() for r in records if r.target.startswith("urn:provenance:"))


def media_records(records: list[Rec]) -> list[tuple[Rec, dict]]:
    resources = [r for r in records if r.target.startswith("urn:media:")]
    infos = {r.header("WARC-Refers-To"): r.json() for r in records
             if r.target.startswith("urn:media-info:")}  # fmt: skip
    return [(r, infos[r.header("WARC-Record-ID")]) for r in resources]


def probe_seconds(data: bytes, folder: Path) -> float:
    path = folder / "copy.bin"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(out.strip())


def test_hls_manifests_are_raw_and_every_segment_of_the_played_rendition_is_recorded(
    video: VideoSite, captured: dict[str, dict]
) -> None:
    records = captured["/hls.html"]["records"]
    folder = video.folder / "hls"
    for name in ("master.m3u8", "low/index.m3u8"):
        (manifest,) = responses(records, video.url(f"/hls/{name}"))[:1]
        assert manifest.payload == (folder / name).read_bytes()  # byte for byte, not rewritten
    segments = sorted((folder / "low").glob("seg*.ts"))
    assert len(segments) == DURATION // 2
    for segment in segments:
        recorded = responses(records, video.url(f"/hls/low/{segment.name}"))
        assert recorded and recorded[0].payload == segment.read_bytes(), segment.name
    # And the renditions replay tools show (pywb: top, ReplayWeb.page: high), not the others.
    for rendition in ("high", "top"):
        for segment in sorted((folder / rendition).glob("seg*.ts")):
            recorded = responses(records, video.url(f"/hls/{rendition}/{segment.name}"))
            assert recorded and recorded[0].payload == segment.read_bytes(), segment.name
    assert not responses(records, video.url("/hls/mid/index.m3u8"))
    assert not responses(records, video.url("/hls/mid/seg009.ts"))
    media = provenance(records)["media"]
    fetched = media["fetched_by_lastseen"]
    assert "not requested by the page" in fetched["why"]
    for rendition in ("high", "top"):  # the player never chose them: lastseen fetched them
        assert video.url(f"/hls/{rendition}/seg009.ts") in fetched["urls"]
    assert media["not_recorded_whole"] == []


def test_segments_beyond_the_players_buffer_are_fetched_when_the_viewer_stops_watching(
    video: VideoSite, captured: dict[str, dict]
) -> None:
    """However long a capture keeps the page open, a player that plays on fetches the whole
    stream itself; this page's viewer pauses at 4 s, so its player buffers a few seconds more
    and stops: the rest of the rendition it played is there only because lastseen fetched it."""
    records = captured["/hls-paused.html"]["records"]
    folder = video.folder / "hls"
    for segment in sorted((folder / "low").glob("seg*.ts")):
        recorded = responses(records, video.url(f"/hls/low/{segment.name}"))
        assert recorded and recorded[0].payload == segment.read_bytes(), segment.name
    media = provenance(records)["media"]
    fetched = media["fetched_by_lastseen"]["urls"]
    assert video.url("/hls/low/seg009.ts") in fetched  # beyond the paused player's buffer
    assert video.url("/hls/low/seg000.ts") not in fetched  # the player's own
    assert media["not_recorded_whole"] == []


def test_the_hls_stream_replays_offline_in_pywb_past_15_seconds(
    video: VideoSite, captured: dict[str, dict], tmp_path: Path
) -> None:
    summary = captured["/hls.html"]["summary"]
    stamp = re.sub(r"\D", "", summary["captured_at"])[:14]
    url = summary["url"]
    with pywb_serving([summary["warc"]], tmp_path / "pywb") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(find_browser()), args=launch_args())
        page = browser.new_page()
        page.goto(f"{base}/{stamp}/{url}")
        player = page.frame_locator("iframe").first.locator("#v")
        player.wait_for(state="attached", timeout=20_000)
        played = 0.0
        for _ in range(300):  # the stream plays in real time: about 16 s to get past 15 s
            played = player.evaluate("v => v.currentTime")
            if played > 15:
                break
            page.wait_for_timeout(100)
        browser.close()
    assert played > 15, f"the replayed player stopped at {played:.1f} s"


@pytest.fixture(scope="module")
def captured_plain(video: VideoSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The MP4 page without in-page behaviors: their autoplay may itself fetch the file whole
    (a request without Range), and then lastseen has nothing left to complete."""
    folder = tmp_path_factory.mktemp("plain")
    return crawl(video, folder, ["/mp4.html"], LASTSEEN_BEHAVIORS_SCRIPT="")


def test_an_mp4_served_in_ranges_only_is_completed_by_lastseen(
    video: VideoSite, captured_plain: dict[str, dict]
) -> None:
    records = captured_plain["/mp4.html"]["records"]
    clip = (video.folder / "clip.mp4").read_bytes()
    recorded = responses(records, video.url("/media/clip.mp4"))
    assert any(r.http_status == 206 for r in recorded)  # what the player fetched, as it was
    whole = [r for r in recorded if r.http_status == 200]
    assert len(whole) == 1 and whole[0].payload == clip
    media = provenance(records)["media"]
    assert media["partial_responses"] == [video.url("/media/clip.mp4")]
    assert media["fetched_by_lastseen"]["urls"] == [video.url("/media/clip.mp4")]


def test_an_mp4_served_in_ranges_only_is_whole_in_the_warc_with_behaviors(
    video: VideoSite, captured: dict[str, dict]
) -> None:
    records = captured["/mp4.html"]["records"]
    clip = (video.folder / "clip.mp4").read_bytes()
    recorded = responses(records, video.url("/media/clip.mp4"))
    whole = [r for r in recorded if r.http_status == 200]
    assert len(whole) == 1 and whole[0].payload == clip
    media = provenance(records)["media"]
    assert media["not_recorded_whole"] == []
    # Completed by lastseen, or already fetched whole by the page's own behaviors: never both.
    fetched = (media.get("fetched_by_lastseen") or {}).get("urls", [])
    assert fetched == media["partial_responses"]
    assert fetched in ([], [video.url("/media/clip.mp4")])


@pytest.mark.parametrize("page", ["/hls.html", "/mp4.html", "/blob.html"])
def test_the_yt_dlp_copy_is_whole_with_its_metadata_record(
    page: str, captured: dict[str, dict], tmp_path: Path
) -> None:
    records = captured[page]["records"]
    page_url = captured[page]["summary"]["url"]
    ((resource, info),) = media_records(records)
    assert resource.target == f"urn:media:{page_url}#1"
    main = next(r for r in records if r.type == "response" and r.target == page_url)
    assert resource.header("WARC-Concurrent-To") == main.header("WARC-Record-ID")
    assert resource.header("WARC-Payload-Digest") == f"sha256:{info['sha256']}"
    assert abs(probe_seconds(resource.payload, tmp_path) - DURATION) <= 0.5
    assert info["duration"]["complete"] is True
    assert abs(info["duration"]["captured"] - DURATION) <= 0.5
    assert info["yt_dlp_version"] and info["yt_dlp_info"]["extractor"] == "generic"
    for tool in ("yt-dlp", "ffmpeg", "ffprobe"):
        assert re.fullmatch(r"[0-9a-f]{64}", info["executables"][tool]["sha256"]), tool
    assert info["ffprobe"]["format"]["duration"] and "h264" in info["codecs"]
    assert info["started_at"] <= info["ended_at"]  # the copy's own times, after the page's
    assert info["resolution"]


def test_every_rendition_with_media_all_and_limits_are_stated(
    video: VideoSite, tmp_path: Path
) -> None:
    got = crawl(
        video, tmp_path, ["/hls.html", "/mp4.html", "/live.html"],
        "--media", "all", "--media-max-bytes", "1000000", "--media-live-seconds", "4",
    )  # fmt: skip
    hls = got["/hls.html"]["records"]
    for rendition in ("low", "mid", "high", "top"):
        for segment in sorted((video.folder / "hls" / rendition).glob("seg*.ts")):
            recorded = responses(hls, video.url(f"/hls/{rendition}/{segment.name}"))
            assert recorded and recorded[0].payload == segment.read_bytes()
    # The MP4 (1.7 MB) is over the size limit: no copy, and the provenance says why.
    mp4 = provenance(got["/mp4.html"]["records"])["media"]
    assert media_records(got["/mp4.html"]["records"]) == []
    (note,) = mp4["copies"]
    assert "CAPTURE_MEDIA_MAX_BYTES (1000000 bytes)" in note["size_limit"]
    assert mp4["limits"]["CAPTURE_MEDIA_MAX_BYTES"] == 1000000
    # The live stream is recorded for at most 4 s and said partial.
    live = got["/live.html"]["records"]
    ((resource, info),) = media_records(live)
    assert resource.header("WARC-Truncated") == "time"
    assert "CAPTURE_MEDIA_LIVE_SECONDS (4 s); partial" in info["notes"]["live"]
    assert info["duration"]["complete"] is False and info["duration"]["captured"] <= 4.5
    assert provenance(live)["media"]["live"]
