"""An independent replay engine shows what we recorded: pywb, with the live site gone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

from crawler.browser import find_browser, launch_args
from demo.site import AdSite
from tests.conftest import run_cli
from tests.pywb import pywb_serving


def test_a_capture_replays_in_pywb_with_xhr_text_after_the_site_is_gone(store: Path, tmp_path: Path):
    live = AdSite(ads=2).start()
    url = live.url("/ad/2")
    proc = run_cli("capture", url, "--json", store=store)
    live.stop()  # from here on, only the WARC knows the page
    assert proc.returncode == 0, proc.stderr
    capture = json.loads(proc.stdout)
    stamp = re.sub(r"\D", "", capture["captured_at"])[:14]

    with pywb_serving([capture["warc"]], tmp_path / "pywb") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(find_browser()), args=launch_args())
        page = browser.new_page()
        page.goto(f"{base}/{stamp}/{url}")
        frame = page.frame_locator("iframe").first
        price = frame.locator("#price").filter(has_text="EUR")
        price.wait_for(timeout=20_000)
        # 500 EUR exists only in the XHR response, inserted by the page's JavaScript.
        assert price.inner_text() == "Price: 500 EUR"
        assert frame.locator("h1").inner_text() == "Transport to the UK, seat 2"
        lazy = frame.locator("#lazy")
        lazy.scroll_into_view_if_needed()
        # The lazily loaded image far below the fold was recorded too: it replays.
        for _ in range(50):
            if lazy.evaluate("img => img.complete && img.naturalWidth") == 32:
                break
            page.wait_for_timeout(100)
        assert lazy.evaluate("img => img.naturalWidth") == 32
        browser.close()
