"""A page whose pictures a plain browser visit does not load, on loopback: what in-page behaviors
(browsertrix-behaviors' autofetch) are for.

``/gallery`` shows a photo with ``srcset`` variants (the browser loads only the one its screen
needs; the 2x one is on a second origin, as on a CDN, so the library fetches it in no-cors mode)
and a lazy background (``data-bg``) that the page's own script would set only on a click. The
pictures are large and sent slowly in chunks, so that a fetch abandoned early could not be
recorded whole by accident.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

IMAGE_SIZE = 600_000
CHUNK = 32_768


def picture(name: str) -> bytes:
    """Incompressible bytes behind a PNG signature: the body is what matters, not the picture."""
    rng = random.Random(name)
    return b"\x89PNG\r\n\x1a\n" + rng.randbytes(IMAGE_SIZE - 8)


# What the library's no-cors autofetch means to do (it passes its AbortController under the
# wrong option name, so today's release never aborts): give up on the body once the head is in.
ABORT_PAGE = (
    b'<!doctype html><html><head><meta charset="utf-8"><title>Abort</title></head><body>'
    b"<script>const c = new AbortController();"
    b"fetch('/pic/lazy-bg.png', {mode: 'no-cors', signal: c.signal})"
    b".then(() => { c.abort(); document.title = 'aborted'; });</script></body></html>"
)


class MediaSite:
    """The gallery on 127.0.0.1; its "CDN" is the same server reached as ``localhost``."""

    def __init__(self, port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self.server.server_address[1]
        self.pictures = {name: picture(name) for name in ("photo-1x", "photo-2x", "lazy-bg")}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cdn(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"

    def sha256(self, name: str) -> str:
        return hashlib.sha256(self.pictures[name]).hexdigest()

    def start(self) -> MediaSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def gallery(self) -> bytes:
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>Gallery</title>'
            "<style>.bg{width:300px;height:200px;background:#ddd}</style></head><body>"
            "<h1>Gallery</h1>"
            f'<img alt="photo" width="300" src="{self.url("/pic/photo-1x.png")}" '
            f'srcset="{self.url("/pic/photo-1x.png")} 1x, {self.cdn("/pic/photo-2x.png")} 2x">'
            f'<div class="bg" data-bg="/pic/lazy-bg.png">contact behind the picture</div>'
            "<script>document.querySelector('.bg').addEventListener('click', function (e) {"
            "e.target.style.backgroundImage = 'url(' + e.target.dataset.bg + ')'; });</script>"
            "</body></html>"
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                name = path.removeprefix("/pic/").removesuffix(".png")
                if path == "/gallery":
                    body, kind = site.gallery(), "text/html; charset=utf-8"
                elif path == "/abort":
                    body, kind = ABORT_PAGE, "text/html; charset=utf-8"
                elif path.startswith("/pic/") and name in site.pictures:
                    body, kind = site.pictures[name], "image/png"
                else:
                    body, kind = b"not found", "text/plain"
                self.send_response(200 if body != b"not found" else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for start in range(0, len(body), CHUNK):
                        self.wfile.write(body[start : start + CHUNK])
                        if kind == "image/png":
                            time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
