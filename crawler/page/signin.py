"""What a capture made with a browser profile adds before its page closes: whether the page was
the site's login wall, the state the site left (saved back for the next page: sites rotate their
session cookies), and the redaction of the session from every exchange.

The provenance names the profile and its account, what was redacted and why; a login wall makes
the capture's outcome ``login-wall`` and marks the profile signed out, so that its scheduled
captures wait for the investigator to sign in again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from archive.capture import OUTCOME_HTTP_ERROR, OUTCOME_LOGIN_WALL, OUTCOME_OK, Capture
from archive.times import rfc3339
from archive.warc.redact import REASON, Policy, redact
from crawler.profiles.lease import META_KEY, Lease
from crawler.profiles.walls import CHECK_JS, verdict, walls_for

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 5.0


async def _login_wall(page: Any, lease: Lease, capture: Capture) -> tuple[str | None, Any]:
    profile = lease.profile
    final = capture.final_url or capture.requested_url
    walls = walls_for(final, profile.signed_in, profile.login_wall)
    urls = [hop["url"] for hop in capture.provenance.get("redirect_chain", [])] + [final]
    checked = None
    if page is not None and capture.outcome in (OUTCOME_OK, OUTCOME_HTTP_ERROR):
        try:
            checked = await asyncio.wait_for(
                page.evaluate(CHECK_JS, walls.check_args()), CHECK_TIMEOUT
            )
        except Exception as exc:  # a closed page, a page that does not answer
            logger.debug("login-wall check failed: %s", exc)
    if capture.http_status is None:
        return None, checked  # nothing came back: no page, no wall
    return verdict(walls, urls, checked), checked


async def signed_in(page: Any, meta: dict[str, Any], capture: Capture) -> None:
    """Finish a capture made with a profile (none: nothing to do). ``page`` is None when the
    navigation itself failed."""
    lease: Lease | None = meta.get(META_KEY)
    if lease is None:
        return
    profile = lease.profile
    started = time.monotonic()
    wall, checked = await _login_wall(page, lease, capture)
    saved = False
    if wall is not None:
        capture.outcome = OUTCOME_LOGIN_WALL
        capture.error = f"login wall: {wall}"
        capture.provenance["outcome"] = capture.outcome
        at = rfc3339(capture.started_at)
        await asyncio.to_thread(lease.store.signed_out, profile.name, at, capture.final_url or "")
    elif page is not None and not page.is_closed():
        try:
            state = await page.context.storage_state()
            await asyncio.to_thread(lease.store.save_state, profile.name, dict(state))
            saved = True
        except Exception as exc:
            logger.warning("the state of profile %s could not be saved back: %s", profile.name, exc)
    values = redact(capture, Policy(profile.secret_headers, profile.secret_fields))
    capture.provenance["profile"] = {
        "name": profile.name,
        "account": profile.account,
        "login_wall": wall,
        "signed_in_check": checked,
        "state_saved_back": saved,
        # The check, the save and the redaction, within the capture's time.
        "took_s": round(time.monotonic() - started, 3),
    }
    capture.provenance["redaction"] = {
        "profile": profile.name,
        "account": profile.account,
        "redacted": len(values),
        "reason": REASON,
        "method": "value replaced by 'redacted:sha256:' and the SHA-256 (hex) of its UTF-8 bytes",
        "values": values,
    }
