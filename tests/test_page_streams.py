"""Stream manifests read as recorded: renditions, segments, declared duration, live or not."""

from __future__ import annotations

from crawler.page.streams import manifest_kind, parse_manifest

MASTER = b"""#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=364000,RESOLUTION=320x180
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=964000,RESOLUTION=640x360
high/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2564000,RESOLUTION=1920x1080
https://cdn.example/top/index.m3u8
"""

MEDIA = b"""#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.0,
seg0.m4s
#EXTINF:1.5,
seg1.m4s
#EXT-X-ENDLIST
"""

MPD = b"""<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S">
 <Period><AdaptationSet mimeType="video/mp4">
  <SegmentTemplate initialization="$RepresentationID$/init.mp4"
     media="$RepresentationID$/$Number%03d$.m4s" startNumber="1" timescale="1000">
   <SegmentTimeline><S t="0" d="2000" r="1"/></SegmentTimeline></SegmentTemplate>
  <Representation id="v360" bandwidth="800000" width="640" height="360"/>
  <Representation id="v1080" bandwidth="4000000" width="1920" height="1080"/>
 </AdaptationSet></Period></MPD>
"""


def test_an_hls_master_lists_its_renditions_and_the_ones_replay_tools_show():
    master = parse_manifest("https://v.example/m/master.m3u8", "hls", MASTER)
    assert master is not None and master.segments == {}
    assert master.variants[:2] == [
        "https://v.example/m/low/index.m3u8",
        "https://v.example/m/high/index.m3u8",
    ]
    # pywb replays the highest bandwidth, ReplayWeb.page the best within 1 Mbit/s and 720p.
    assert master.replayed() == {
        "https://cdn.example/top/index.m3u8",
        "https://v.example/m/high/index.m3u8",
    }


def test_an_hls_media_playlist_lists_its_segments_and_duration():
    media = parse_manifest("https://v.example/m/low/index.m3u8", "hls", MEDIA)
    assert media is not None and not media.live
    assert media.segments["https://v.example/m/low/index.m3u8"] == [
        "https://v.example/m/low/init.mp4",
        "https://v.example/m/low/seg0.m4s",
        "https://v.example/m/low/seg1.m4s",
    ]
    assert media.declared_seconds == 3.5
    live = parse_manifest("https://v.example/live.m3u8", "hls", MEDIA.replace(b"#EXT-X-ENDLIST", b""))
    assert live is not None and live.live


def test_a_dash_template_with_a_timeline_gives_every_segment_of_each_representation():
    mpd = parse_manifest("https://v.example/d/manifest.mpd", "dash", MPD)
    assert mpd is not None and mpd.declared_seconds == 4.0
    assert mpd.segments["v360"] == [
        "https://v.example/d/v360/init.mp4",
        "https://v.example/d/v360/001.m4s",
        "https://v.example/d/v360/002.m4s",
    ]
    assert mpd.replayed() == {"v1080", "v360"}
    assert manifest_kind("https://v.example/x.mpd", None) == "dash"
    assert manifest_kind("https://v.example/x", "application/vnd.apple.mpegurl") == "hls"
