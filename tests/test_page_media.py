"""What the media completer and yt-dlp are given, without a browser: sources, secrets, limits."""

from __future__ import annotations

from crawler.page.media import Seen, copy_sources
from crawler.page.streams import parse_manifest
from crawler.page.ytdlp import cookies_txt, redact

MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nlow.m3u8\n"
LOW = b"#EXTM3U\n#EXTINF:2.0,\ns0.ts\n#EXTINF:2.0,\ns1.ts\n#EXT-X-ENDLIST\n"


def test_yt_dlp_gets_the_master_manifest_and_media_files_not_renditions_or_segments():
    master = parse_manifest("https://v.example/master.m3u8", "hls", MASTER)
    low = parse_manifest("https://v.example/low.m3u8", "hls", LOW)
    assert master is not None and low is not None
    seen = Seen(manifests=[master, low], media=["https://v.example/clip.mp4"])
    assert copy_sources(seen, "https://ads.example/ad/1", "auto", None) == [
        ("https://v.example/master.m3u8", False, 4.0),
        ("https://v.example/clip.mp4", False, None),
    ]
    assert copy_sources(seen, "https://ads.example/ad/1", "auto", False) == []
    assert copy_sources(seen, "https://ads.example/ad/1", "off", True) == []


def test_the_page_itself_on_a_site_with_an_extractor_or_when_asked():
    nothing = Seen()
    assert copy_sources(nothing, "https://ads.example/ad/1", "auto", None) == []
    assert copy_sources(nothing, "https://ads.example/ad/1", "on", None) == [
        ("https://ads.example/ad/1", False, None)
    ]
    assert copy_sources(nothing, "https://ads.example/ad/1", "auto", True) == [
        ("https://ads.example/ad/1", False, None)
    ]
    tiktok = "https://www.tiktok.com/@someone/video/1"
    assert copy_sources(nothing, tiktok, "auto", None) == [(tiktok, False, None)]


def test_secrets_in_yt_dlp_s_info_are_replaced_by_their_sha256():
    info = {"formats": [{"url": "u", "cookies": "sid=secret", "http_headers": {"Cookie": "x=1"}}]}
    out = redact(info)
    fmt = out["formats"][0]
    assert fmt["url"] == "u"
    assert fmt["cookies"].startswith("redacted sha256:") and "secret" not in str(out)
    assert fmt["http_headers"]["Cookie"].startswith("redacted sha256:")


def test_the_context_cookies_become_a_netscape_cookie_file():
    text = cookies_txt(
        [{"name": "sid", "value": "v", "domain": ".ads.example", "path": "/", "secure": True,
          "expires": 1900000000.5}]
    )  # fmt: skip
    assert text.splitlines()[1] == ".ads.example\tTRUE\t/\tTRUE\t1900000000\tsid\tv"
