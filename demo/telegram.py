"""A stand-in for Telegram's public channel preview (``https://t.me/s/<channel>``) on loopback.

Its markup is the real one's, as browsertrix-behaviors' Telegram behavior reads it: a
``section.tgme_channel_history.js-message_history`` of ``tgme_widget_message_wrap`` blocks, each
post a ``tgme_widget_message`` with ``data-post="<channel>/<id>"`` and its permalink on the date
(``a.tgme_widget_message_date``). The newest posts come first, at the bottom of the page; older
ones load as the top comes into view, by ``?before=<id>`` as on t.me (a ``POST`` with
``X-Requested-With`` answered by a JSON string of HTML); the same URL fetched as a page gives the
older posts to a browser without scripts. Each post has a permalink page (``/<channel>/<id>``).
"""

from __future__ import annotations

import html
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from demo.site import png

PAGE_SIZE = 20  # as t.me
HTML = "text/html; charset=utf-8"

CHANNEL_JS = b"""
(function () {
  var history = document.querySelector('.js-message_history');
  var loading = false;
  function more() { return history.querySelector('.js-messages_more'); }
  function visible(el) {
    var r = el.getBoundingClientRect();
    return r.bottom >= -200 && r.top <= window.innerHeight + 200;
  }
  function load() {
    var link = more();
    if (!link || loading || !visible(link)) return;
    loading = true;
    var wrap = link.parentNode;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', link.getAttribute('href'));
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.onload = function () {
      var box = document.createElement('div');
      box.innerHTML = JSON.parse(xhr.responseText);
      while (box.firstChild) history.insertBefore(box.firstChild, wrap);
      wrap.className = 'tgme_widget_message_centered';
      wrap.innerHTML = '';
      loading = false;
      setTimeout(load, 50);
    };
    xhr.send();
  }
  window.addEventListener('scroll', load);
  window.addEventListener('load', function () {
    window.scrollTo(0, document.documentElement.scrollHeight);
  });
})();
"""


class TelegramSite:
    """Channels of numbered posts (``posts`` each), on a free loopback port."""

    def __init__(
        self, channels: dict[str, int] | None = None, page_size: int = PAGE_SIZE, port: int = 0
    ) -> None:
        self.channels = dict(channels or {"smugglers_ads": 45})
        self.page_size = page_size
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []  # paths asked for, in order (tests read it)

    def url(self, path: str) -> str:
        return self.origin + path

    def start(self) -> TelegramSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def post_time(self, post: int) -> datetime:
        return datetime(2026, 11, 1, 8, 0, tzinfo=UTC) + timedelta(hours=post)

    def post_html(self, channel: str, post: int) -> str:
        when = self.post_time(post)
        photo = (
            f'<a class="tgme_widget_message_photo_wrap" href="{self.origin}/{channel}/{post}" '
            f"style=\"background-image:url('{self.origin}/img/{channel}-{post}.png')\"></a>"
            if post % 5 == 0
            else ""
        )
        return (
            '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
            f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
            f'data-post="{channel}/{post}" data-view="v{post}">'
            f'<div class="tgme_widget_message_bubble">{photo}'
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">'
            f"Post {post} of {html.escape(channel)}: crossing offered, "
            f"call +32 470 00 {post:02d} 00"
            "</div>"
            '<div class="tgme_widget_message_footer compact js-message_footer">'
            '<div class="tgme_widget_message_info short js-message_info">'
            '<span class="tgme_widget_message_meta">'
            f'<a class="tgme_widget_message_date" href="{self.origin}/{channel}/{post}">'
            f'<time datetime="{when.isoformat()}" class="time">{when:%H:%M}</time></a>'
            "</span></div></div></div></div></div>"
        )

    def history(self, channel: str, before: int | None) -> str:
        """The posts before ``before`` (the newest without it), oldest first, with the "load
        more" link on top when there are older ones."""
        last = self.channels[channel] if before is None else min(before - 1, self.channels[channel])
        first = max(1, last - self.page_size + 1)
        parts = []
        if first > 1:
            parts.append(
                '<div class="tgme_widget_message_centered js-messages_more_wrap">'
                f'<a href="/s/{channel}?before={first}" class="tme_messages_more js-messages_more"'
                f' data-before="{first}">Load more</a></div>'
            )
        parts.extend(self.post_html(channel, post) for post in range(first, last + 1))
        return "".join(parts)

    def channel_page(self, channel: str, before: int | None) -> bytes:
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(channel)} – Telegram</title>"
            "<style>.tgme_widget_message_wrap{min-height:320px}</style></head><body>"
            '<main class="tgme_main"><div class="tgme_container">'
            '<section class="tgme_channel_history js-message_history">'
            f"{self.history(channel, before)}</section></div></main>"
            '<script src="/js/channel.js"></script></body></html>'
        ).encode()

    def post_page(self, channel: str, post: int) -> bytes:
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(channel)}/{post} – Telegram</title></head><body>"
            f'<div class="tgme_page_post">{self.post_html(channel, post)}</div></body></html>'
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def send(
                self, status: int, body: bytes, kind: str = "text/html; charset=utf-8"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.route(xhr=self.headers.get("X-Requested-With") == "XMLHttpRequest")

            def do_GET(self) -> None:
                self.route(xhr=False)

            def route(self, xhr: bool) -> None:
                site.requests.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                url = urlsplit(self.path)
                parts = url.path.strip("/").split("/")
                before_arg = parse_qs(url.query).get("before", [""])[0]
                before = int(before_arg) if before_arg.isdigit() else None
                if len(parts) == 2 and parts[0] == "s" and parts[1] in site.channels:
                    if xhr:
                        fragment = site.history(parts[1], before)
                        self.send(200, json.dumps(fragment).encode(), "application/json")
                    else:
                        self.send(200, site.channel_page(parts[1], before))
                elif (
                    len(parts) == 2
                    and parts[0] in site.channels
                    and parts[1].isdigit()
                    and 1 <= int(parts[1]) <= site.channels[parts[0]]
                ):
                    self.send(200, site.post_page(parts[0], int(parts[1])))
                elif url.path == "/js/channel.js":
                    self.send(200, CHANNEL_JS, "application/javascript")
                elif len(parts) == 2 and parts[0] == "img" and parts[1].endswith(".png"):
                    self.send(200, png(64, 48, (40, 120, 200)), "image/png")
                else:
                    self.send(404, b"<!doctype html><title>Not found</title><h1>Not found</h1>")

        return Handler
