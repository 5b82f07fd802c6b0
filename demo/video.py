"""A stand-in video site on loopback (issue 13): what makes video hard to preserve.

- ``/hls.html`` plays an HLS stream of two renditions through MSE (hls.js, served from the npm
  cache ``make setup`` fills), buffering only a few seconds ahead as real players do, so a
  browser capture sees a few segments and nothing more, unless the page stays open while it
  plays on; ``/hls-paused.html`` is the same page whose viewer pauses at 4 seconds.
- ``/mp4.html`` plays an MP4 served with ``206`` ranges of at most ``CHUNK`` bytes: the browser
  never holds the file whole.
- ``/blob.html`` fetches the MP4 by script and plays it from a ``blob:`` URL.
- ``/live.html`` plays ``/live/index.m3u8``, a live playlist (no ``#EXT-X-ENDLIST``) whose
  window moves on.

The 20-second test video is made with ffmpeg when the site starts; nothing is shipped.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HLSJS = ROOT / ".cache" / "npm-hls" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
DURATION = 20  # seconds of test video
SEGMENT = 2  # seconds per HLS segment
CHUNK = 64 * 1024  # the largest range the MP4 server answers
# The player stays on "low"; ReplayWeb.page replays "high" (the best within 1 Mbit/s), pywb "top"
# (the best of all); nobody needs "mid", which only --media all keeps.
RENDITIONS = {
    "low": (320, 180, "300k"),
    "mid": (480, 270, "600k"),
    "high": (640, 360, "900k"),
    "top": (854, 480, "1500k"),
}

_SOURCE = [
    "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={DURATION}",
    "-f", "lavfi", "-i", f"sine=frequency=440:duration={DURATION}",
]  # fmt: skip
_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
         "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k"]  # fmt: skip

# The player stays on the first rendition (as a player on a slow line would), so that what it
# chose is known; a few seconds of buffer, as real players keep.
HLS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Promo film (HLS)</title>
</head><body><h1>Crossing promo, HLS</h1><video id="v" muted autoplay playsinline width="640">
</video><script src="/static/hls.min.js"></script><script>
var video = document.getElementById('v');
var hls = new Hls({maxBufferLength: 4, maxMaxBufferLength: 6, startLevel: 0});
hls.loadSource('%s');
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, function () { hls.currentLevel = 0; video.play(); });
%s</script></body></html>"""

# A viewer who stops watching after 4 seconds: the player then buffers no further than its few
# seconds ahead however long the page stays open, so what lies beyond is known to be lastseen's.
LEAVES = """video.addEventListener('timeupdate', function () {
  if (video.currentTime >= 4) { video.pause(); }
});
"""

MP4_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Promo film (MP4)</title>
</head><body><h1>Crossing promo, MP4</h1>
<video src="/media/clip.mp4" muted autoplay playsinline width="640"></video></body></html>"""

BLOB_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Promo film (blob)</title>
</head><body><h1>Crossing promo, blob</h1><video id="v" muted autoplay playsinline width="640">
</video><script>
fetch('/media/blob.mp4').then(function (r) { return r.blob(); }).then(function (b) {
  var video = document.getElementById('v');
  video.src = URL.createObjectURL(b);
  video.play();
});
</script></body></html>"""


def make_media(folder: Path) -> None:
    """The test video as one MP4 and as HLS renditions of ``SEGMENT``-second segments."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *_SOURCE, "-s", "320x180", *_H264,
         "-movflags", "+faststart", "-t", str(DURATION), str(folder / "clip.mp4")],
        check=True, capture_output=True,
    )  # fmt: skip
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name, (width, height, rate) in RENDITIONS.items():
        out = folder / "hls" / name
        out.mkdir(parents=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", *_SOURCE, "-s", f"{width}x{height}", *_H264,
             "-b:v", rate, "-t", str(DURATION), "-f", "hls", "-hls_time", str(SEGMENT),
             "-hls_playlist_type", "vod", "-hls_segment_filename", str(out / "seg%03d.ts"),
             str(out / "index.m3u8")],
            check=True, capture_output=True,
        )  # fmt: skip
        bandwidth = int(rate.rstrip("k")) * 1000 + 64_000
        master.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},"
            f'CODECS="avc1.42c01e,mp4a.40.2"'
        )
        master.append(f"{name}/index.m3u8")
    (folder / "hls" / "master.m3u8").write_text("\n".join(master) + "\n")


class VideoSite:
    """Start with ``start()``; ``url(path)`` gives absolute URLs; ``stop()`` removes the media."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="lastseen-video-")
        self.folder = Path(self._tmp.name)
        make_media(self.folder)
        self.requests: list[tuple[str, str | None]] = []  # path, Range header
        self.live_started = time.monotonic()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://{self.server.server_address[0]}:{self.port}{path}"

    def start(self) -> VideoSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._tmp.cleanup()

    def live_playlist(self) -> bytes:
        """A live window of three segments that moves on every ``SEGMENT`` seconds, for ever."""
        first = int((time.monotonic() - self.live_started) / SEGMENT)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]  # fmt: skip
        for n in range(first, first + 3):
            lines += [f"#EXTINF:{SEGMENT}.0,", f"/hls/low/seg{n % (DURATION // SEGMENT):03d}.ts"]
        return ("\n".join(lines) + "\n").encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a player or yt-dlp that read what it wanted and hung up

            def _send(self, status: int, ctype: str, body: bytes, extra: Any = ()) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.requests.append((path, self.headers.get("Range")))
                pages = {
                    "/hls.html": HLS_PAGE % ("/hls/master.m3u8", ""),
                    "/hls-paused.html": HLS_PAGE % ("/hls/master.m3u8", LEAVES),
                    "/live.html": HLS_PAGE % ("/live/index.m3u8", ""),
                    "/mp4.html": MP4_PAGE,
                    "/blob.html": BLOB_PAGE,
                }
                if path in pages:
                    self._send(200, "text/html; charset=utf-8", pages[path].encode())
                elif path == "/static/hls.min.js" and HLSJS.exists():
                    self._send(200, "text/javascript", HLSJS.read_bytes())
                elif path == "/live/index.m3u8":
                    self._send(200, "application/vnd.apple.mpegurl", site.live_playlist())
                elif path.startswith("/hls/") and ".." not in path:
                    self._file(site.folder / path.lstrip("/"))
                elif path in ("/media/clip.mp4", "/media/blob.mp4"):
                    self._ranged(site.folder / "clip.mp4")
                else:
                    self._send(404, "text/plain", b"not found")

            def _file(self, file: Path) -> None:
                if not file.is_file():
                    self._send(404, "text/plain", b"not found")
                    return
                ctype = "application/vnd.apple.mpegurl" if file.suffix == ".m3u8" else "video/mp2t"
                self._send(200, ctype, file.read_bytes())

            def _ranged(self, file: Path) -> None:
                """Ranges of at most CHUNK bytes; the whole file only to a request without one."""
                data = file.read_bytes()
                asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
                if asked is None:
                    self._send(200, "video/mp4", data, [("Accept-Ranges", "bytes")])
                    return
                start = int(asked.group(1))
                end = min(int(asked.group(2) or len(data) - 1), start + CHUNK - 1, len(data) - 1)
                if start >= len(data):
                    self._send(416, "text/plain", b"", [("Content-Range", f"bytes */{len(data)}")])
                    return
                span = f"bytes {start}-{end}/{len(data)}"
                self._send(
                    206, "video/mp4", data[start : end + 1],
                    [("Accept-Ranges", "bytes"), ("Content-Range", span)],
                )  # fmt: skip

        return Handler


if __name__ == "__main__":
    site = VideoSite(port=8090).start()
    for page in ("/hls.html", "/mp4.html", "/blob.html"):
        print(site.url(page))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        site.stop()
