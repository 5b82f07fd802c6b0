"""Turn a loaded page into a Capture: settle, scroll, screenshot, DOM, PDF, provenance.

Everything a page can make us wait for is bounded by the capture's deadline (``--timeout``): a
page that never goes network-idle is still captured, and flagged as such.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

from archive.capture import (
    OUTCOME_HTTP_ERROR,
    OUTCOME_OK,
    OUTCOME_REFUSED,
    OUTCOME_TIMEOUT,
    OUTCOME_UNREACHABLE,
    PDF_PRINT_OF,
    Capture,
    Resource,
)
from archive.digest import sha256_hex
from archive.job import Job, PrintOf
from archive.times import rfc3339_or_none
from crawler.page.behaviors import budget, site_of
from crawler.page.behaviors import run as run_behaviors
from crawler.page.config import CaptureConfig
from crawler.page.egress import release as release_egress
from crawler.page.hostslot import release as release_host
from crawler.page.media import ALL, PLAYED, complete, copy_sources, survey
from crawler.page.meta import CONTEXT_RECORD_KEY, PAGE_KEY
from crawler.page.recorder import META_KEY, REFUSED, NetworkRecorder
from crawler.page.signin import signed_in
from crawler.page.ytdlp import MediaLimits, copy_media
from crawler.profiles.lease import release as release_profile

logger = logging.getLogger(__name__)

# The request's meta key holding its Job: what to capture and why.
JOB_KEY = "capture_job"

# Scrolls by most of a viewport at a time until the page stops growing, within a time and a
# height budget, so that lazily loaded images and "infinite" lists are loaded before the shot.
SCROLL_JS = """
async ({maxHeight, maxMs}) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const el = document.scrollingElement || document.documentElement || document.body;
  if (!el) return {height: 0, reached_end: true, steps: 0};
  const start = Date.now();
  let steps = 0, y = 0, stable = 0;
  while (Date.now() - start < maxMs) {
    const height = Math.min(el.scrollHeight, maxHeight);
    if (y + window.innerHeight >= height) {
      await sleep(250);
      if (Math.min(el.scrollHeight, maxHeight) <= height && ++stable >= 2) break;
      continue;
    }
    stable = 0;
    y = Math.min(y + Math.floor(window.innerHeight * 0.8), height);
    window.scrollTo(0, y);
    steps++;
    await sleep(100);
  }
  const reached = y + window.innerHeight >= Math.min(el.scrollHeight, maxHeight);
  window.scrollTo(0, 0);
  return {height: el.scrollHeight, reached_end: reached, capped: el.scrollHeight > maxHeight,
          steps: steps, ms: Date.now() - start};
}
"""

OUTLINKS_JS = """
() => Array.from(new Set(Array.from(document.querySelectorAll('a[href], area[href]'))
  .map((a) => a.href).filter((h) => h.startsWith('http://') || h.startsWith('https://'))))
"""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        left = max(0.0, self._end - time.monotonic())
        return min(left, cap) if cap is not None else left


async def _bounded(awaitable: Any, seconds: float) -> bool:
    """Await with a time limit; True if it finished, False if the limit came first."""
    if seconds <= 0:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        return False
    try:
        await asyncio.wait_for(awaitable, timeout=seconds)
        return True
    except TimeoutError:
        return False
    except Exception as exc:  # Playwright's own timeout, a navigation, a closed page
        logger.debug("wait ended early: %s", exc)
        return False


class PageCapturer:
    """Shared by every request of a crawl; holds the settings and the environment record."""

    def __init__(self, config: CaptureConfig, environment: dict[str, Any]) -> None:
        self.config = config
        self.environment = environment

    async def capture(self, response: Any) -> Capture:
        """Callback side: the page committed its navigation; record it fully."""
        try:
            return await self._capture(response)
        finally:
            release_host(response.meta)  # the page is closed: the site may see the next one
            release_egress(response.meta)
            release_profile(response.meta)

    async def _capture(self, response: Any) -> Capture:
        meta = response.meta
        page = meta[PAGE_KEY]
        recorder: NetworkRecorder | None = meta.get(META_KEY)
        started = meta["capture_started"]
        if recorder is None:
            await self._close(page)
            raise RuntimeError("the network recorder could not be attached to the page")
        deadline = _Deadline(
            self.config.timeout - (time.monotonic() - meta["capture_started_mono"])
        )
        timings: dict[str, Any] = {}
        mark = time.monotonic()

        def phase(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            timings[name] = round(now - mark, 3)
            mark = now

        loaded = await _bounded(page.wait_for_load_state("load"), deadline.left())
        phase("load")
        idle = await recorder.wait_idle(deadline.left(self.config.idle_timeout))
        phase("network_idle")
        behaviors = await self._behaviors(page, meta, deadline)
        phase("behaviors")
        scroll = await self._scroll(page, deadline)
        phase("scroll")
        if scroll.get("steps"):
            idle = await recorder.wait_idle(deadline.left(self.config.settle_timeout)) and idle
        phase("settle")
        job: Job = meta[JOB_KEY]
        media: dict[str, Any] = {}
        if self.config.media != "off":
            mode = ALL if self.config.media == ALL else PLAYED
            media = await complete(page, recorder, mode, deadline.left())
            phase("media")

        resources: list[Resource] = []
        outlinks: list[str] = []
        problems: list[str] = []
        try:
            outlinks = await page.evaluate(OUTLINKS_JS)
        except Exception as exc:
            problems.append(f"outlinks: {exc}")
        try:
            dom = await page.content()
            resources.append(Resource("dom", "text/html; charset=utf-8", dom.encode("utf-8")))
        except Exception as exc:
            problems.append(f"rendered DOM: {exc}")
        phase("dom")
        try:
            png = await page.screenshot(full_page=True, type="png", timeout=30_000)
            resources.append(Resource("screenshot", "image/png", png))
        except Exception as exc:
            problems.append(f"screenshot: {exc}")
        phase("screenshot")
        same_print = _same_print(meta[JOB_KEY].print_of, resources)
        if self.config.pdf and same_print is None:
            try:
                pdf = await page.pdf(print_background=True)
                resources.append(Resource("pdf", "application/pdf", pdf))
            except Exception as exc:
                problems.append(f"pdf: {exc}")
            phase("pdf")
        user_agent = await _safe(page.evaluate("() => navigator.userAgent"))
        final_url = page.url
        await recorder.stop(grace=max(1.0, min(5.0, deadline.left() + 1.0)))
        phase("drain")
        capture = self._assemble(
            recorder,
            meta,
            started,
            final_url=final_url,
            resources=resources,
            provenance={
                "load_event": loaded,
                "network_idle": idle,
                "behaviors": behaviors,
                "scroll": scroll,
                "outlinks": outlinks,
                "problems": problems,
                "timings_s": timings,
                "browser_context": meta.get(CONTEXT_RECORD_KEY),
                **(_print_reused(same_print) if same_print is not None else {}),
                **({"media": media} if media else {}),
            },
            user_agent=user_agent,
            browser=page.context.browser.version if page.context.browser else None,
        )
        chain = await recorder.certificate_chain(capture.final_url or final_url)
        if chain:
            capture.resources.append(
                Resource("tls-chain", "application/pem-certificate-chain", _pem(chain))
            )
        if not loaded and capture.outcome == OUTCOME_OK:
            capture.outcome = OUTCOME_TIMEOUT
            capture.error = f"the page did not finish loading within {self.config.timeout:g} s"
        await signed_in(page, meta, capture)
        sources = copy_sources(
            survey(recorder.hops()), capture.final_url or final_url, self.config.media, job.media
        )
        cookies = await _safe(page.context.cookies()) if sources else None
        await self._close(page)
        if sources:
            await self._copy_media(capture, sources, cookies or [], recorder, user_agent)
            phase("media_copy")
        return capture

    async def _copy_media(
        self,
        capture: Capture,
        sources: list[tuple[str, bool, float | None]],
        cookies: list[dict[str, Any]],
        recorder: NetworkRecorder,
        user_agent: str | None,
    ) -> None:
        """Complete copies with yt-dlp, after the page is closed: same cookies, same gate."""
        config = self.config
        limits = MediaLimits(
            config.media_max_bytes, config.media_live_seconds, config.media_timeout
        )
        proxy = f"socks5h://127.0.0.1:{recorder.gate.port}" if recorder.gate is not None else None
        capture.media, notes = await copy_media(sources, limits, cookies, proxy, user_agent)
        capture.provenance.setdefault("media", {})["copies"] = notes
        capture.provenance["media"]["limits"] = {
            "CAPTURE_MEDIA_MAX_BYTES": limits.max_bytes,
            "CAPTURE_MEDIA_LIVE_SECONDS": limits.live_seconds,
            "CAPTURE_MEDIA_TIMEOUT": limits.timeout,
        }

    async def capture_failure(self, failure: Any) -> Capture:
        """Errback side: the navigation failed; the failed attempt is evidence too."""
        try:
            return await self._capture_failure(failure)
        finally:
            release_host(failure.request.meta)
            release_egress(failure.request.meta)
            release_profile(failure.request.meta)

    async def _capture_failure(self, failure: Any) -> Capture:
        request = failure.request
        meta = request.meta
        page = meta.get(PAGE_KEY)
        recorder: NetworkRecorder | None = meta.get(META_KEY)
        error = (
            str(failure.value).strip().splitlines()[0]
            if str(failure.value).strip()
            else repr(failure.value)
        )
        timed_out = "Timeout" in type(failure.value).__name__ or "Timeout " in error
        browser = None
        if recorder is not None:
            await recorder.stop(grace=1.0)
        if page is not None and not page.is_closed() and page.context.browser:
            browser = page.context.browser.version
        capture = self._assemble(
            recorder,
            meta,
            meta.get("capture_started") or datetime.now(UTC),
            final_url=None,
            resources=[],
            provenance={"load_event": False, "network_idle": None, "problems": [error]},
            user_agent=None,
            browser=browser,
        )
        capture.outcome = OUTCOME_TIMEOUT if timed_out else OUTCOME_UNREACHABLE
        capture.error = _main_error(capture) or error
        if capture.error.startswith(REFUSED):
            capture.outcome = OUTCOME_REFUSED
        capture.provenance["outcome"] = capture.outcome  # the metadata record says the same
        await signed_in(None, meta, capture)
        if page is not None:
            await self._close(page)
        return capture

    async def _behaviors(self, page: Any, meta: dict[str, Any], deadline: _Deadline) -> Any:
        """browsertrix-behaviors in every frame, within their budget and the deadline (a second
        kept for the shot)."""
        job: Job = meta[JOB_KEY]
        site = site_of(page.url or job.url, dict(self.config.site_hosts))
        wanted = budget(
            self.config.behavior_timeout, site, bool(job.profile), self.config.scroll_timeout
        )
        return await run_behaviors(page, meta, min(wanted, deadline.left() - 1.0), site)

    async def _scroll(self, page: Any, deadline: _Deadline) -> dict[str, Any]:
        budget = deadline.left(self.config.scroll_timeout)
        if budget <= 0.5 or self.config.scroll_max_height == 0:
            return {"skipped": True}
        try:
            return dict(
                await asyncio.wait_for(
                    page.evaluate(
                        SCROLL_JS,
                        {
                            "maxHeight": self.config.scroll_max_height,
                            "maxMs": int(budget * 1000) - 300,
                        },
                    ),
                    timeout=budget + 1,
                )
            )
        except Exception as exc:
            return {"error": str(exc).splitlines()[0]}

    def _assemble(
        self,
        recorder: NetworkRecorder | None,
        meta: dict[str, Any],
        started: datetime,
        *,
        final_url: str | None,
        resources: list[Resource],
        provenance: dict[str, Any],
        user_agent: str | None,
        browser: str | None,
    ) -> Capture:
        job: Job = meta[JOB_KEY]
        requested = job.url
        hops = recorder.hops() if recorder else []
        exchanges = [recorder.exchange(h) for h in hops] if recorder else []
        main_frame = recorder.main_frame_id if recorder else None
        docs = [i for i, h in enumerate(hops) if h.is_document and h.frame_id in (main_frame, None)]
        main_index = None
        for i in reversed(docs):
            if exchanges[i].response is not None and exchanges[i].redirected_to is None:
                if final_url is None or hops[i].url == final_url:
                    main_index = i
                    break
        if main_index is None:
            responded = [
                i
                for i in docs
                if exchanges[i].response is not None and not exchanges[i].redirected_to
            ]
            main_index = responded[-1] if responded else None
        chain = [
            {
                "url": exchanges[i].request.url,
                "status": exchanges[i].response.status if exchanges[i].response else None,
                "location": exchanges[i].redirected_to,
            }
            for i in docs
            if main_index is None or i <= main_index
        ]
        main = exchanges[main_index] if main_index is not None else None
        status = main.response.status if main and main.response else None
        outcome = OUTCOME_OK if status is not None and status < 400 else OUTCOME_HTTP_ERROR
        if status is None:
            outcome = OUTCOME_UNREACHABLE
        error = main.error if main else None
        # A meta refresh or a script that sends the page to a refused address leaves the browser
        # on its error page: the capture ends refused there, not "ok" at chrome-error://.
        last = docs[-1] if docs else None
        if (
            last is not None
            and last != main_index
            and (exchanges[last].error or "").startswith(REFUSED)
        ):
            outcome, error = OUTCOME_REFUSED, exchanges[last].error
            final_url = exchanges[last].request.url
        ended = datetime.now(UTC)
        environment = dict(self.environment)
        environment["browser"] = f"Chromium {browser}" if browser else environment.get("browser")
        if user_agent:
            environment["user-agent"] = user_agent
        failed = [
            {"url": e.request.url, "error": e.error, "type": e.resource_type}
            for e in exchanges
            if e.error
        ]
        unfinished = [e.request.url for e in exchanges if e.response is None and not e.error]
        full_provenance = {
            "requested_url": requested,
            "final_url": final_url or (main.request.url if main else None),
            "redirect_chain": chain,
            "http_status": status,
            "outcome": outcome,
            "started_at": rfc3339_or_none(started),
            "ended_at": rfc3339_or_none(ended),
            "case": job.case,
            "note": job.note,
            "software": environment.get("software"),
            "browser": environment.get("browser"),
            "operator": environment.get("operator"),
            "user_agent": user_agent,
            "exchanges": len(exchanges),
            "failed_or_blocked": failed,
            "unfinished_at_end": unfinished,
            "server_ip": main.remote_ip if main else None,
            "tls": main.tls if main else None,
            "settings": self.config.as_record(),
            **(_recorder_provenance(recorder) if recorder else {}),
            **provenance,
        }
        return Capture(
            requested_url=requested,
            started_at=started,
            ended_at=ended,
            outcome=outcome,
            final_url=full_provenance["final_url"],
            http_status=status,
            error=error,
            exchanges=exchanges,
            main_index=main_index,
            resources=resources,
            provenance=full_provenance,
            environment=environment,
            case_id=job.case,
            note=job.note,
            alert=job.alert,
        )

    async def _close(self, page: Any) -> None:
        # Closing the context closes its page: one round trip, and the browser handler's place
        # is free for the next capture.
        try:
            await page.context.close()
        except Exception as exc:
            logger.debug("closing the capture's context failed: %s", exc)


def _same_print(print_of: PrintOf | None, resources: list[Resource]) -> PrintOf | None:
    """The earlier capture whose PDF print stands for this one: its rendered DOM is
    byte-identical to this capture's.

    Chromium stamps each print with its creation time, so an unchanged page would otherwise store
    a new PDF on every scheduled recapture that differs from the last only by that date.
    """
    dom = next((res for res in resources if res.kind == "dom"), None)
    if print_of is None or dom is None or sha256_hex(dom.data) != print_of.dom_sha256:
        return None
    return print_of


def _print_reused(print_of: PrintOf) -> dict[str, Any]:
    """The provenance of a capture with no PDF of its own: the fact, and the sentence the
    report quotes when the catalog cannot back the fact."""
    return {
        PDF_PRINT_OF: {"capture_id": print_of.capture_id, "dom_sha256": print_of.dom_sha256},
        "pdf_not_printed": (
            f"rendered DOM identical (sha256:{print_of.dom_sha256}) to capture "
            f"{print_of.capture_id}, whose PDF print stands for this one too"
        ),
    }


def _recorder_provenance(recorder: NetworkRecorder) -> dict[str, Any]:
    """The frames and workers recorded, the popups closed, the connections the guard refused."""
    out: dict[str, Any] = {}
    if recorder.targets:
        out["frames_and_workers"] = recorder.targets
    if recorder.popups:
        out["popups"] = recorder.popups
    if recorder.gate is not None:
        out["refused_connections"] = list(recorder.gate.refused)
    return out


def _main_error(capture: Capture) -> str | None:
    for exchange in capture.exchanges:
        if exchange.resource_type == "Document" and exchange.error:
            return exchange.error
    return None


async def _safe(awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception:
        return None


def _pem(chain: list[bytes]) -> bytes:
    out = []
    for der in chain:
        body = "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
        out.append(f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    return "".join(out).encode("ascii")
