"""A small social network served on localhost: the stand-in for Facebook groups in the tests of
signed-in capture, login walls and in-page behaviors.

It behaves the way the real sites do where it matters for evidence:

- ``/login`` is a form (user name, password, a hidden per-form token); signing in sets a session
  cookie ``sid`` (HttpOnly) and a long-lived ``device`` cookie, and redirects to ``next``.
- Every page served to a signed-in visitor rotates the session: it answers with a fresh ``sid``
  and the old one stops working ``grace`` seconds later (so a browser state that is not saved back
  after a capture is signed out soon after, as on the real sites).
- ``/group/<slug>`` is a group's feed: the first posts are in the page, the next ones are loaded
  by an XHR (``POST /api/graphql``, a form with the cursor and the page's ``dtsg`` token, as
  Facebook does) when the reader scrolls to the bottom; long texts end in "See more".
- ``/post/<n>`` is one post; every post has a photo in ``srcset`` (320, 640 and 1280 pixels wide).
- Without a valid session, a page redirects to ``/login?next=...`` (the login wall) and the API
  answers 401.

Start it with ``SocialSite().start()`` (tests: the ``social`` fixture), or from a shell with
``python -m demo.social`` to sign in by hand (user ``anna.v``, password ``correct horse``).
``sign_in`` logs in over HTTP and gives the cookies as a browser would hold them; ``storage_state``
and ``cookies_txt`` write them in the two formats ``lastseen profile import`` reads.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import secrets
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from demo.site import png

GROUP = "crossings"
ACCOUNTS = {"anna.v": ("correct horse", "Anna Vermeulen")}
WIDTHS = (320, 640, 1280)

CSS = b"""
body { font-family: sans-serif; max-width: 700px; margin: 1em auto; color: #1c1e21; }
header { display: flex; justify-content: space-between; border-bottom: 1px solid #ccc; }
.post { border: 1px solid #ddd; border-radius: 8px; padding: 1em; margin: 1.5em 0;
        min-height: 420px; }
.post img { width: 100%; height: auto; }
.more { display: none; }
.post.open .more { display: inline; }
.post.open .see-more { display: none; }
"""

# The feed: more posts by XHR when the bottom comes into view; "See more" opens a long text.
FEED_JS = b"""
(function () {
  var feed = document.getElementById('feed');
  var token = document.querySelector('meta[name=dtsg]').content;
  var loading = false;
  function wire(root) {
    root.querySelectorAll('button.see-more').forEach(function (b) {
      b.addEventListener('click', function () { b.closest('.post').classList.add('open'); });
    });
  }
  function more() {
    var cursor = feed.getAttribute('data-cursor');
    if (loading || !cursor) return;
    loading = true;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/graphql');
    xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.setRequestHeader('X-FB-LSD', token);
    xhr.onload = function () {
      loading = false;
      if (xhr.status !== 200) { feed.setAttribute('data-cursor', ''); return; }
      var data = JSON.parse(xhr.responseText);
      var box = document.createElement('div');
      box.innerHTML = data.html;
      wire(box);
      while (box.firstChild) feed.appendChild(box.firstChild);
      feed.setAttribute('data-cursor', data.next || '');
      check();
    };
    xhr.send('group=' + encodeURIComponent(feed.getAttribute('data-group')) +
             '&cursor=' + encodeURIComponent(cursor) + '&dtsg=' + encodeURIComponent(token));
  }
  function check() {
    var end = document.getElementById('end').getBoundingClientRect().top;
    if (end < window.innerHeight + 200) more();
  }
  wire(document);
  window.addEventListener('scroll', check, {passive: true});
})();
"""


@dataclass(frozen=True)
class Post:
    n: int
    author: str
    text: str
    more: str  # the rest of the text, behind "See more"


def _posts(count: int) -> list[Post]:
    towns = ["Calais", "Dunkerque", "Zeebrugge", "Hoek van Holland", "Cherbourg", "Ostend"]
    return [
        Post(
            n,
            f"member{n:02d}",
            f"Post {n}: crossing from {towns[n % len(towns)]} this week, places left.",
            f"Hidden detail of post {n}: call +32 470 55 {n:02d} {n:02d}, "
            f"deposit {300 + 10 * n} EUR, meeting at the car park at 22:{n:02d}.",
        )
        for n in range(1, count + 1)
    ]


@dataclass
class Session:
    user: str
    expires: float  # when the server forgets it, whatever the browser holds
    retired_at: float | None = None  # replaced by a newer sid; works until retired_at + grace


class SocialSite:
    """Start with ``start()``; ``url(path)`` gives absolute URLs."""

    def __init__(
        self,
        posts: int = 12,
        page_size: int = 3,
        grace: float = 60.0,
        session_ttl: float = 86400.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.posts = _posts(posts)
        self.page_size = page_size
        self.grace = grace
        self.session_ttl = session_ttl
        self.lock = threading.Lock()
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, str] = {}  # dtsg token -> user
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, user or None)
        # What a test needs to prove the session never reaches the evidence: every cookie value
        # the site gave out, and each Cookie header it received and Set-Cookie header it sent.
        self.issued: list[str] = []
        self.headers_seen: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> SocialSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- sessions ------------------------------------------------------------------------------

    def _new_session(self, user: str) -> str:
        sid = secrets.token_urlsafe(24)
        self.sessions[sid] = Session(user, time.time() + self.session_ttl)
        self.issued.append(sid)
        return sid

    def user_of(self, sid: str | None) -> str | None:
        with self.lock:
            session = self.sessions.get(sid or "")
            now = time.time()
            if session is None or session.expires < now:
                return None
            if session.retired_at is not None and session.retired_at + self.grace < now:
                return None
            return session.user

    def rotate(self, sid: str) -> str:
        """A fresh sid for the holder of ``sid``; the old one keeps working ``grace`` seconds."""
        with self.lock:
            old = self.sessions[sid]
            if old.retired_at is None:
                old.retired_at = time.time()
            return self._new_session(old.user)

    def sign_out_everyone(self) -> None:
        """The server forgets every session (a password change, a ban, a timeout)."""
        with self.lock:
            self.sessions.clear()

    def retire_rotated(self) -> None:
        """Sids that were replaced stop working at once (as if their grace had run out)."""
        with self.lock:
            for sid in [s for s, v in self.sessions.items() if v.retired_at is not None]:
                del self.sessions[sid]

    def token_for(self, user: str) -> str:
        with self.lock:
            for token, owner in self.tokens.items():
                if owner == user:
                    return token
            token = "AQ" + secrets.token_urlsafe(18)
            self.tokens[token] = user
            return token

    def sign_in(self, user: str = "anna.v", password: str | None = None) -> dict[str, str]:
        """Sign in through the login form over HTTP, as a browser would: the cookies it got."""
        password = ACCOUNTS[user][0] if password is None else password
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        body = f"username={quote(user)}&password={quote(password)}&next=/"
        conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        cookies: dict[str, str] = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            cookies.update({name: morsel.value for name, morsel in parsed.items()})
        conn.close()
        if "sid" not in cookies:
            raise ValueError(f"could not sign in as {user}")
        return cookies

    def storage_state(
        self, cookies: dict[str, str], expires: float | None = None
    ) -> dict[str, Any]:
        """Playwright's ``storage_state`` for these cookies on this site."""
        until = time.time() + 30 * 86400 if expires is None else expires
        return {
            "cookies": [
                {
                    "name": name, "value": value, "domain": self.host, "path": "/",
                    "expires": until, "httpOnly": name == "sid", "secure": False,
                    "sameSite": "Lax",
                }
                for name, value in cookies.items()
            ],
            "origins": [
                {"origin": self.url("").rstrip("/"),
                 "localStorage": [{"name": "last_group", "value": GROUP}]},
            ],
        }  # fmt: skip

    def cookies_txt(self, cookies: dict[str, str], expires: float | None = None) -> str:
        """The cookies as a Netscape ``cookies.txt``, as browser extensions export them."""
        until = int(time.time() + 30 * 86400 if expires is None else expires)
        lines = ["# Netscape HTTP Cookie File", "# exported by a browser extension", ""]
        for name, value in cookies.items():
            prefix = "#HttpOnly_" if name == "sid" else ""
            lines.append(f"{prefix}{self.host}\tFALSE\t/\tFALSE\t{until}\t{name}\t{value}")
        return "\n".join(lines) + "\n"

    # -- pages -----------------------------------------------------------------------------------

    def _post_html(self, post: Post, link: bool = True) -> str:
        sizes = ", ".join(f"/media/{post.n}-{w}.png {w}w" for w in WIDTHS)
        title = f'<a href="/post/{post.n}">Post {post.n}</a>' if link else f"Post {post.n}"
        return (
            f'<article class="post" id="post-{post.n}" data-post="{post.n}">'
            f'<h2>{title}</h2><p class="author">{html.escape(post.author)}</p>'
            f'<p class="text">{html.escape(post.text)} <span class="more">'
            f'{html.escape(post.more)}</span> <button class="see-more">See more</button></p>'
            f'<img loading="lazy" src="/media/{post.n}-320.png" srcset="{sizes}" '
            f'sizes="(max-width: 700px) 100vw, 700px" alt="photo of post {post.n}" '
            'width="640" height="360"></article>'
        )

    def feed_page(self, start: int = 0) -> tuple[str, str | None]:
        """The posts from ``start`` (one screen), and the cursor of the next, if any."""
        chunk = self.posts[start : start + self.page_size]
        following = start + self.page_size
        html_text = "".join(self._post_html(p) for p in chunk)
        return html_text, (str(following) if following < len(self.posts) else None)

    def _frame(self, user: str, title: str, body: str, token: str = "") -> bytes:
        name = ACCOUNTS[user][1]
        meta = f'<meta name="dtsg" content="{token}">' if token else ""
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
            f"<title>{html.escape(title)}</title>"
            '<link rel="stylesheet" href="/static/social.css"></head><body>'
            f'<header><a href="/group/{GROUP}">Crossings (group)</a>'
            f'<a data-testid="account" href="/me">{html.escape(name)}</a></header>'
            f"{body}</body></html>"
        ).encode()

    def group(self, user: str, slug: str) -> bytes:
        posts, cursor = self.feed_page()
        body = (
            f"<h1>Group: {html.escape(slug)}</h1>"
            f'<div id="feed" data-group="{html.escape(slug)}" data-cursor="{cursor or ""}">'
            f'{posts}</div><div id="end">Loading more posts...</div>'
            '<script src="/static/feed.js"></script>'
        )
        return self._frame(user, f"Crossings | {slug}", body, self.token_for(user))

    def post(self, user: str, n: int) -> bytes | None:
        if not 1 <= n <= len(self.posts):
            return None
        post = self.posts[n - 1]
        body = self._post_html(post, link=False) + f'<p><a href="/group/{GROUP}">Back</a></p>'
        return self._frame(user, f"Post {n} | Crossings", body)

    @staticmethod
    def login_page(next_url: str, failed: bool = False) -> bytes:
        error = '<p class="error">Wrong user name or password.</p>' if failed else ""
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in</title>'
            '<link rel="stylesheet" href="/static/social.css"></head><body>'
            f"<h1>Log in to see this page</h1>{error}"
            '<form id="login-form" method="post" action="/login">'
            f'<input type="hidden" name="lsd" value="{secrets.token_hex(8)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
            '<label>User name <input name="username" autocomplete="username"></label>'
            '<label>Password <input name="password" type="password"></label>'
            '<button type="submit">Log in</button></form></body></html>'
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "SocialSite/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def cookie(self, name: str) -> str | None:
                parsed: SimpleCookie = SimpleCookie()
                parsed.load(self.headers.get("Cookie", ""))
                morsel = parsed.get(name)
                return morsel.value if morsel is not None else None

            def send(
                self,
                status: int,
                body: bytes,
                ctype: str = "text/html; charset=utf-8",
                extra: list[tuple[str, str]] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Cache-Control", "private, no-store")
                for name, value in extra or []:
                    self.send_header(name, value)
                    if name == "Set-Cookie":
                        with site.lock:
                            site.headers_seen.append((name, value))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def session_cookie(self, sid: str) -> tuple[str, str]:
                expires = formatdate(time.time() + site.session_ttl, usegmt=True)
                return ("Set-Cookie", f"sid={sid}; Path=/; Expires={expires}; HttpOnly; "
                        "SameSite=Lax")  # fmt: skip

            def wall(self) -> None:
                target = quote(self.path, safe="")
                self.send(302, b"", extra=[("Location", f"/login?next={target}")])

            def record(self, user: str | None) -> None:
                with site.lock:
                    site.requests.append((self.command, self.path, user))
                    for value in self.headers.get_all("Cookie") or []:
                        site.headers_seen.append(("Cookie", value))

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                parts = [p for p in url.path.split("/") if p]
                sid = self.cookie("sid")
                user = site.user_of(sid)
                self.record(user)
                if url.path == "/static/social.css":
                    return self.send(200, CSS, "text/css")
                if url.path == "/static/feed.js":
                    return self.send(200, FEED_JS, "application/javascript")
                if len(parts) == 2 and parts[0] == "media" and parts[1].endswith(".png"):
                    n, _, width = parts[1].removesuffix(".png").partition("-")
                    if n.isdigit() and width.isdigit() and int(width) in WIDTHS:
                        shade = (40 + 15 * int(n)) % 256
                        return self.send(200, png(int(width) // 10, int(width) // 18,
                                                  (shade, 90, 160)), "image/png")  # fmt: skip
                    return self.send(404, b"not found", "text/plain")
                if url.path == "/login":
                    next_url = parse_qs(url.query).get("next", ["/"])[0]
                    return self.send(200, site.login_page(next_url))
                if url.path == "/favicon.ico":
                    return self.send(404, b"", "image/x-icon")
                if user is None or sid is None:
                    return self.wall()
                body: bytes | None = None
                if url.path in ("/", "/me"):
                    body = site.group(user, GROUP)
                elif len(parts) == 2 and parts[0] == "group":
                    body = site.group(user, parts[1])
                elif len(parts) == 2 and parts[0] == "post" and parts[1].isdigit():
                    body = site.post(user, int(parts[1]))
                if body is None:
                    return self.send(404, b"<!doctype html><title>Not found</title>")
                self.send(200, body, extra=[self.session_cookie(site.rotate(sid))])

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                user = site.user_of(self.cookie("sid"))
                self.record(user)
                if self.path == "/login":
                    name = form.get("username", "")
                    account = ACCOUNTS.get(name)
                    if account is None or form.get("password") != account[0]:
                        return self.send(200, site.login_page(form.get("next", "/"), True))
                    with site.lock:
                        sid = site._new_session(name)
                    device = secrets.token_hex(12)
                    with site.lock:
                        site.issued.append(device)
                    target = form.get("next", "/")
                    target = target if target.startswith("/") else "/"
                    return self.send(302, b"", extra=[
                        ("Location", target), self.session_cookie(sid),
                        ("Set-Cookie", f"device={device}; Path=/; Max-Age=31536000; HttpOnly"),
                    ])  # fmt: skip
                if self.path == "/api/graphql":
                    token = form.get("dtsg", "")
                    if user is None or site.tokens.get(token) != user:
                        return self.send(401, b'{"error": "login required"}', "application/json")
                    cursor = form.get("cursor", "0")
                    posts, following = site.feed_page(int(cursor) if cursor.isdigit() else 0)
                    data = json.dumps({"html": posts, "next": following}).encode()
                    return self.send(200, data, "application/json")
                self.send(404, b"not found", "text/plain")

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the stand-in social site on localhost.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--posts", type=int, default=12)
    args = parser.parse_args()
    site = SocialSite(posts=args.posts, port=args.port).start()
    print(f"stand-in social site on {site.url('/group/' + GROUP)}")
    print("sign in as anna.v / correct horse (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()


if __name__ == "__main__":
    main()
