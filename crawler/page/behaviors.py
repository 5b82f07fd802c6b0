"""In-page behaviors: Webrecorder's browsertrix-behaviors, injected into every frame of a capture.

The library (npm ``browsertrix-behaviors``, installed by ``make setup``) scrolls feeds until they
stop growing, plays media, fetches what a page only loads on demand (``srcset`` variants, lazy
backgrounds, ``data-*`` URLs) and runs the site behaviors of Instagram, X, TikTok and Telegram
(its Facebook behavior is switched off upstream). As Browsertrix and Scoop do, it is added as an
init script with ``self.__bx_behaviors.init({...})``, so that it is in every frame before the
page's own scripts run, and started with ``run()`` in every frame once the page has loaded.

Its log callback (``__bx_log``) and its link callback (``__bx_addLink``) are bindings to Python;
the links a feed shows while it is scrolled are collected as well, since a feed may drop the
posts it scrolled past. What ran, for how long, what it said and whether it finished goes into
the capture's provenance.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.exceptions import InputError
from crawler.page.recorder import META_KEY as RECORDER_KEY
from crawler.page.recorder import NetworkRecorder

logger = logging.getLogger(__name__)

META_KEY = "capture_behaviors"  # the request's meta: what to inject (a plain dict)
STATE_KEY = "capture_behavior_state"  # set by install(): the log and links of this page
LIBRARY = "browsertrix-behaviors"
# A site behavior (or a page captured with a profile) gets this long unless the setting says.
SITE_BEHAVIOR_TIMEOUT = 20.0
MAX_LOG = 400  # messages kept per capture; a feed logs one per post
MAX_LINKS = 5000
MAX_LINK_LENGTH = 65_536

# The sites whose behaviors the library has, as it matches them (its own ``isMatch()``) and by
# its behavior ids. Production matching is the library's: this list decides the time budget and
# lets a host be mapped to a site (CAPTURE_SITE_HOSTS), as a stand-in on loopback needs.
SITES: dict[str, tuple[str, tuple[str, ...]]] = {
    "telegram": (r"^https://t\.me/s/\w\w+", ("Telegram",)),
    "instagram": (r"^https://(www\.)?instagram\.com/\w[\w.-]+", ("Instagram",)),
    "x": (r"^https://(www\.)?(x|twitter)\.com/", ("Twitter",)),
    "tiktok": (r"^https://(www\.)?tiktok\.com/@", ("TikTokVideo", "TikTokProfile")),
    # Its Facebook behavior is switched off upstream (isMatch() is false): a host mapped to
    # Facebook gets what facebook.com gets, autoscroll, and the site's time budget.
    "facebook": (r"^https://([\w-]+\.)?facebook\.com/", ()),
}
# Where a mapped host's page is the site's page: the path the library's own pattern requires.
SITE_PATHS = {
    "telegram": r"^/s/\w\w+",
    "instagram": r"^/\w[\w.-]+",
    "x": r"^/",
    "tiktok": r"^/@",
    "facebook": r"^/",
}


def parse_site_hosts(value: Any) -> dict[str, str]:
    """``CAPTURE_SITE_HOSTS``: a dict, or ``host=site,host=site`` (host may carry a port)."""
    if not value:
        return {}
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise InputError(f"site hosts must look like host=telegram,host2=x, not {value!r}")
        value = {host: site for host, site in pairs}
    out = {str(host).strip().lower(): str(site).strip().lower() for host, site in value.items()}
    unknown = sorted(site for site in out.values() if site not in SITES)
    if unknown:
        raise InputError(f"unknown site {unknown[0]!r}: one of {', '.join(SITES)}")
    return out


def site_of(url: str, site_hosts: dict[str, str]) -> str | None:
    """The site whose behavior the library runs on this page, if any."""
    parts = urlsplit(url)
    mapped = site_hosts.get(parts.netloc.lower()) or site_hosts.get(parts.hostname or "")
    if mapped:
        return mapped if re.match(SITE_PATHS[mapped], parts.path or "/") else None
    for site, (pattern, _) in SITES.items():
        if re.match(pattern, url):
            return site
    return None


@dataclass(frozen=True)
class Library:
    """The library's script as found on this machine: its text, version and hash."""

    path: str
    text: str
    version: str
    sha256: str

    def record(self) -> dict[str, str]:
        return {"library": f"{LIBRARY} {self.version}", "script": self.path,
                "script_sha256": self.sha256}  # fmt: skip


@cache
def load_library(path: str) -> Library | None:
    """The script at ``path`` (its package.json two folders up gives the version); None if
    missing, with one warning per process."""
    script = Path(path)
    try:
        data = script.read_bytes()
    except OSError as exc:
        logger.warning(
            "%s not found (%s): pages are captured without in-page behaviors; "
            "`make setup` installs it, CAPTURE_BEHAVIORS_SCRIPT / LASTSEEN_BEHAVIORS_SCRIPT "
            "says where it is",
            LIBRARY,
            exc.strerror or exc,
        )
        return None
    version = "unknown"
    try:
        version = json.loads((script.parent.parent / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        pass
    return Library(str(script), data.decode("utf-8"), version, hashlib.sha256(data).hexdigest())


# Runs at document start in every frame, after the library: starts it with our options and
# bindings, forces a site behavior on a mapped host, and keeps the links a feed shows.
INIT_JS = """
(() => {
  const bx = self.__bx_behaviors;
  if (!bx || !self.window) return;
  const forced = %(forced)s[self.location.host];
  if (forced) {
    for (const id of forced) {
      const b = bx.loadedBehaviors[id];
      if (b) { const isMatch = b.isMatch; b.isMatch = () => true; b.__ls_isMatch = isMatch; break; }
    }
  }
  const log = (entry) => { try { return self.__bx_log(entry); } catch (e) { return null; } };
  bx.init({autofetch: true, autoplay: true, autoscroll: true, autoclick: false,
           siteSpecific: true, startEarly: true, log: log});
  const links = self.__ls_links = new Set();
  const keep = (node) => {
    if (!node || node.nodeType !== 1 || links.size >= %(max_links)d) return;
    const found = node.matches('a[href]') ? [node] : node.querySelectorAll('a[href]');
    for (const a of found) {
      const href = a.href;
      if (typeof href === 'string' && /^https?:/.test(href)) links.add(href.split('#')[0]);
    }
  };
  document.addEventListener('DOMContentLoaded', () => {
    keep(document.documentElement);
    new MutationObserver((changes) => {
      for (const change of changes) for (const node of change.addedNodes) keep(node);
    }).observe(document.documentElement, {childList: true, subtree: true});
  });
})();
"""

# Starts the library's behaviors in one frame and waits for them, at most ``ms``; then pauses
# the main behavior (a feed would otherwise go on scrolling under the screenshot).
RUN_JS = """
async (ms) => {
  const bx = self.__bx_behaviors;
  if (!bx || !bx.inited) return null;
  const started = Date.now();
  let finished = false;
  const run = bx.run().then(() => { finished = true; }, () => { finished = true; });
  await Promise.race([run, new Promise((r) => setTimeout(r, ms))]);
  const main = bx.mainBehavior;
  if (main && main.pause) main.pause();
  const state = main ? (main.state || (main.ctx && main.ctx.state) || null) : null;
  return {
    url: self.location.href,
    main: bx.mainBehaviorClass ? bx.mainBehaviorClass.id || null : null,
    behaviors: bx.behaviors.map((b) => b.id || (b.constructor && b.constructor.id) || '?'),
    finished: finished,
    seconds: (Date.now() - started) / 1000,
    state: state,
    autofetched: bx.autofetch ? bx.autofetch.urlSet.size : 0,
  };
}
"""

LINKS_JS = "() => self.__ls_links ? Array.from(self.__ls_links) : []"


@dataclass
class BehaviorState:
    """What the page's behaviors said and offered while it was captured."""

    started: float = field(default_factory=time.monotonic)
    log: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    links: list[str] = field(default_factory=list)

    def on_log(self, source: Any, entry: Any) -> None:
        """The library's log callback (a page may call it as well: kept short and bounded)."""
        if len(self.log) >= MAX_LOG:
            self.dropped += 1
            return
        if isinstance(entry, str):
            try:
                entry = json.loads(entry)
            except ValueError:
                entry = {"data": entry}
        entry = entry if isinstance(entry, dict) else {"data": entry}
        data = entry.get("data")
        message = data if isinstance(data, str) else json.dumps(data, default=str)
        self.log.append(
            {
                "t_s": round(time.monotonic() - self.started, 3),
                "type": str(entry.get("type") or "info"),
                "frame": _frame_url(source),
                "msg": message[:500],
            }
        )

    def on_link(self, source: Any, url: Any) -> None:
        # The page can call this binding too: only http(s) links of a sane length, and so many.
        if (
            isinstance(url, str)
            and url.startswith(("http://", "https://"))
            and len(url) <= MAX_LINK_LENGTH
            and len(self.links) < MAX_LINKS
        ):
            self.links.append(url)


def _frame_url(source: Any) -> str | None:
    try:
        frame = source.get("frame") if isinstance(source, dict) else source.frame
        return str(frame.url)
    except Exception:
        return None


def request_meta(script: str | None, site_hosts: dict[str, str]) -> dict[str, Any] | None:
    """What a capture request carries (plain data, so requests stay serialisable); None when
    the library is missing (``load_library`` has warned)."""
    if not script or load_library(script) is None:
        return None
    return {"script": script, "site_hosts": dict(site_hosts)}


async def install(page: Any, wanted: dict[str, Any] | None) -> BehaviorState | None:
    """Page-init side: bindings and init scripts, before the page navigates."""
    if not wanted:
        return None
    library = load_library(wanted["script"])
    if library is None:
        return None
    state = BehaviorState()
    forced: dict[str, list[str]] = {}
    for host, site in wanted["site_hosts"].items():
        forced[host] = list(SITES[site][1])
    await page.expose_binding("__bx_log", state.on_log)
    await page.expose_binding("__bx_addLink", state.on_link)
    await page.add_init_script(script=library.text)
    await page.add_init_script(
        script=INIT_JS % {"forced": json.dumps(forced), "max_links": MAX_LINKS}
    )
    return state


def budget(timeout: float | None, site: str | None, profile: bool, scroll_timeout: float) -> float:
    """CAPTURE_BEHAVIOR_TIMEOUT, else 20 s for a site behavior or a profile, else the scroll's."""
    if timeout is not None:
        return timeout
    return SITE_BEHAVIOR_TIMEOUT if site or profile else scroll_timeout


async def run(page: Any, meta: dict[str, Any], seconds: float, site: str | None) -> dict[str, Any]:
    """Run the behaviors in every frame for at most ``seconds``; the provenance record."""
    wanted = meta.get(META_KEY)
    state: BehaviorState | None = meta.get(STATE_KEY)
    library = load_library(wanted["script"]) if wanted else None
    if library is None or state is None:
        return {"ran": False, "why": f"{LIBRARY} is not installed on this machine"}
    record: dict[str, Any] = {**library.record(), "site": site, "budget_s": round(seconds, 3)}
    if seconds <= 0.5:
        return {**record, "ran": False, "why": "no time left before the capture's deadline"}
    started = time.monotonic()
    ms = int(seconds * 1000)
    frames = list(page.frames)
    results = await asyncio.gather(
        *(asyncio.wait_for(frame.evaluate(RUN_JS, ms), timeout=seconds + 2) for frame in frames),
        return_exceptions=True,
    )
    ran = [r for r in results if isinstance(r, dict)]
    errors = [str(r).splitlines()[0][:200] for r in results if isinstance(r, BaseException)]
    links: list[str] = list(state.links)
    try:
        links.extend(await asyncio.wait_for(page.main_frame.evaluate(LINKS_JS), timeout=5))
    except Exception as exc:
        errors.append(f"links: {str(exc).splitlines()[0][:200]}")
    main = next((r for r in ran if r["url"] == page.url), ran[0] if ran else None)
    return {
        **record,
        "ran": bool(ran),
        "seconds": round(time.monotonic() - started, 3),
        "finished": bool(ran) and all(r["finished"] for r in ran),
        "main_behavior": main["main"] if main else None,
        "frames": ran,
        "errors": errors,
        "log": list(state.log),
        "log_dropped": state.dropped,
        "links": list(dict.fromkeys(links)),
    }


async def prepare_page(
    page: Any, guard: Any, gate: Any, wanted: dict[str, Any] | None
) -> dict[str, Any]:
    """What a page needs before it navigates, as the request's meta entries the capturer reads:
    the recorder first, so that nothing the behaviors make the page fetch escapes it, then the
    behaviors. The browser handler does this ahead of the request for its prepared page."""
    prepared: dict[str, Any] = {RECORDER_KEY: await NetworkRecorder.attach(page, guard, gate)}
    state = await install(page, wanted)
    if state is not None:
        prepared[STATE_KEY] = state
    return prepared


def begin_capture(meta: dict[str, Any]) -> None:
    """The capture of a prepared page starts now: its clocks start from here, not from when it
    was prepared."""
    meta[RECORDER_KEY].begin()
    state: BehaviorState | None = meta.get(STATE_KEY)
    if state is not None:
        state.started = time.monotonic()
