"""A small classified-ads site served on localhost: the demo of ``make run`` and the tests' fixture.

It has what makes real ad pages hard to preserve: a price that only JavaScript inserts from an
XHR response, a lazily loaded image far below the fold, a web font, gzip-encoded responses, a
windows-1252 page, a redirect, a page that never goes network-idle, and pages that vanish (404,
410). Ads can be edited and removed while it runs, as on the real sites.
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo import ads, photos


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, built by hand so the site needs no image files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


CSS = b"""
@font-face { font-family: AdFont; src: url(/static/adfont.woff2) format("woff2"); }
body { font-family: AdFont, sans-serif; max-width: 900px; margin: 2em auto; color: #222; }
.price { font-size: 2em; color: #b00; }
.spacer { height: 2600px; background: linear-gradient(#fff, #eee); }
"""

AD_JS = b"""
(function () {
  var id = document.body.getAttribute('data-ad');
  var xhr = new XMLHttpRequest();
  xhr.open('GET', '/api/ad/' + id + '/price');
  xhr.onload = function () {
    var data = JSON.parse(xhr.responseText);
    document.getElementById('price').textContent = 'Price: ' + data.price + ' EUR';
  };
  xhr.send();
})();
"""

NEVER_IDLE_JS = b"""
(function poll() {
  fetch('/poll?t=' + Date.now()).then(function (r) { return r.text(); })
    .then(function (t) { document.getElementById('ticks').textContent = t; poll(); });
})();
"""

# Not a real font: browsers fetch it (the exchange is recorded) and fall back to sans-serif.
FONT = b"wOF2" + bytes(60)

CP1252_PAGE = (
    '<!doctype html><html><head><meta charset="windows-1252"><title>Caf\xe9 \x80 annonce</title>'
    "</head><body><h1>Passage garanti \x96 prix 450 \x80</h1>"
    "<p>Contact: caf\xe9 \x93Chez Ren\xe9\x94</p></body></html>"
).encode("latin-1")


@dataclass
class Ad:
    title: str
    text: str
    price: int
    status: int = 200  # 410 once the ad is removed, 404 if it never existed


class AdSite:
    """Start with ``start()``; ``url(path)`` gives absolute URLs; ads can change while it runs."""

    def __init__(self, ads: int = 3, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ads: dict[int, Ad] = {
            n: Ad(
                title=f"Transport to the UK, seat {n}",
                text=f"Reliable crossing, departure every week. Call +32 470 00 00 {n:02d}.",
                price=400 + 50 * n,
            )
            for n in range(1, ads + 1)
        }
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.robots_txt: str | None = None  # served at /robots.txt when set (404 otherwise)
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://{self.server.server_address[0]}:{self.port}{path}"

    def start(self) -> AdSite:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- changing the site -----------------------------------------------------------------

    def edit(self, n: int, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                setattr(self.ads[n], key, value)

    def remove(self, n: int, status: int = 410) -> None:
        self.edit(n, status=status)

    def add(self, n: int) -> None:
        with self.lock:
            self.ads[n] = Ad(title=f"New ad {n}", text=f"Fresh listing {n}.", price=500 + n)

    # -- pages -------------------------------------------------------------------------------

    def listing(self) -> bytes:
        with self.lock:
            items = "".join(
                f'<li><a href="/ad/{n}">{ad.title}</a></li>'
                for n, ad in sorted(self.ads.items())
                if ad.status == 200
            )
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>Ads</title>'
            '<link rel="stylesheet" href="/static/site.css"></head>'
            f"<body><h1>Transport ads</h1><ul>{items}</ul></body></html>"
        ).encode()

    def ad_page(self, n: int) -> tuple[int, bytes]:
        with self.lock:
            ad = self.ads.get(n)
            if ad is None or ad.status != 200:
                status = 404 if ad is None else ad.status
                return (
                    status,
                    f"<!doctype html><title>{status}</title><h1>Ad {n} not available</h1>".encode(),
                )
            page = (
                '<!doctype html><html><head><meta charset="utf-8">'
                f"<title>{ad.title}</title>"
                '<link rel="stylesheet" href="/static/site.css"></head>'
                f'<body data-ad="{n}"><h1>{ad.title}</h1>'
                f'<p class="text">{ad.text}</p>'
                '<p class="price" id="price">Price: loading...</p>'
                f'<img src="/img/{n}.png" alt="photo" width="320" height="200">'
                '<div class="spacer"></div>'
                f'<img id="lazy" loading="lazy" src="/img/{n}-lazy.png" alt="more photos"'
                ' width="320" height="200">'
                '<p><a href="/">All ads</a></p>'
                '<script src="/static/ad.js"></script></body></html>'
            )
        return 200, page.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "AdSite/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send(
                self,
                status: int,
                body: bytes,
                ctype: str = "text/html; charset=utf-8",
                gzipped: bool = False,
                extra: list[tuple[str, str]] | None = None,
            ) -> None:
                if gzipped and "gzip" in self.headers.get("Accept-Encoding", ""):
                    body = gzip.compress(body)
                else:
                    gzipped = False
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if gzipped:
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Vary", "Accept-Encoding")
                for name, value in extra or []:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site.lock:
                    site.requests.append(path)
                parts = [p for p in path.split("/") if p]
                if path == "/":
                    self.send(200, site.listing(), gzipped=True)
                elif len(parts) == 2 and parts[0] == "ad" and parts[1].isdigit():
                    status, body = site.ad_page(int(parts[1]))
                    cookies = [
                        ("Set-Cookie", "visitor=1; Path=/"),
                        ("Set-Cookie", "lang=en; Path=/"),
                    ]
                    cookies = cookies if status == 200 else []
                    self.send(status, body, gzipped=True, extra=cookies)
                elif len(parts) == 4 and parts[:2] == ["api", "ad"] and parts[3] == "price":
                    ad = site.ads.get(int(parts[2])) if parts[2].isdigit() else None
                    if ad is None:
                        self.send(404, b'{"error": "no such ad"}', "application/json")
                    else:
                        body = json.dumps({"price": ad.price}).encode()
                        self.send(200, body, "application/json", gzipped=True)
                elif len(parts) == 2 and parts[0] == "redirect":
                    self.send(302, b"moved", extra=[("Location", f"/ad/{parts[1]}")])
                elif path == "/static/site.css":
                    self.send(200, CSS, "text/css", gzipped=True)
                elif path == "/static/ad.js":
                    self.send(200, AD_JS, "application/javascript")
                elif path == "/static/never-idle.js":
                    self.send(200, NEVER_IDLE_JS, "application/javascript")
                elif path == "/static/adfont.woff2":
                    self.send(200, FONT, "font/woff2")
                elif len(parts) == 2 and parts[0] == "img" and parts[1].endswith(".png"):
                    lazy = parts[1].endswith("-lazy.png")
                    self.send(
                        200, png(32, 20, (30, 144, 255) if lazy else (255, 140, 0)), "image/png"
                    )
                elif len(parts) == 2 and parts[0] in ("classified", "photo"):
                    self.send(*fixture(parts[0], parts[1]))
                elif path == "/broken":
                    # An ad whose photo host is down: the failed load is part of the evidence.
                    body = (
                        b'<!doctype html><html><head><meta charset="utf-8"><title>Broken</title>'
                        b'</head><body><h1>Photo missing</h1>'
                        b'<img src="http://127.0.0.1:1/photo.jpg" alt="photo"></body></html>'
                    )
                    self.send(200, body)
                elif path == "/cp1252":
                    self.send(200, CP1252_PAGE, "text/html; charset=windows-1252")
                elif path == "/never-idle":
                    body = (
                        b'<!doctype html><html><head><meta charset="utf-8">'
                        b"<title>Live</title></head>"
                        b'<body><h1>Live listing</h1><p>ticks: <span id="ticks">0</span></p>'
                        b'<script src="/static/never-idle.js"></script></body></html>'
                    )
                    self.send(200, body)
                elif path == "/poll":
                    time.sleep(0.4)
                    self.send(200, str(time.time()).encode(), "text/plain")
                elif path == "/hang":
                    time.sleep(60)  # accepts the connection, never answers in time
                    self.send(200, b"too late")
                elif path == "/gone":
                    self.send(
                        410, b"<!doctype html><title>Gone</title><h1>This ad was removed</h1>"
                    )
                elif path == "/price-list.csv":
                    # A link that downloads instead of showing a page, as a seller's price list
                    # or a scanned ID card may.
                    self.send(
                        200,
                        DOWNLOAD_BODY,
                        "text/csv",
                        extra=[("Content-Disposition", 'attachment; filename="price-list.csv"')],
                    )
                elif path == "/robots.txt" and site.robots_txt is not None:
                    self.send(200, site.robots_txt.encode(), "text/plain")
                elif path == "/favicon.ico":
                    self.send(404, b"", "image/x-icon")
                else:
                    self.send(404, b"<!doctype html><title>Not found</title><h1>Not found</h1>")

        return Handler


DOWNLOAD_BODY = b"route,price_eur,phone\nLibya-Lampedusa,2500,+32470000001\n"


def fixture(kind: str, name: str) -> tuple[int, bytes, str]:
    """A fixture ad (``/classified/<slug>``) or one of its photos (``/photo/<name>.jpg``)."""
    if kind == "classified" and (ad := ads.by_slug(name)) is not None:
        return 200, ads.page(ad), "text/html; charset=utf-8"
    if kind == "photo" and name.removesuffix(".jpg") in photos.PHOTOS:
        return 200, photos.photo(name.removesuffix(".jpg")), "image/jpeg"
    return 404, b"<!doctype html><title>Not found</title><h1>Not found</h1>", "text/html"


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the lastseen demo ad site on localhost.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ads", type=int, default=3)
    args = parser.parse_args()
    site = AdSite(ads=args.ads, port=args.port).start()
    print(f"demo ad site on {site.url('/')} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()


if __name__ == "__main__":
    main()
