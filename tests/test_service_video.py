"""The service shows each video of a capture (issue 13): its keyframe strip and a download."""

from __future__ import annotations

import subprocess
from pathlib import Path

from playwright.sync_api import sync_playwright

from crawler.browser import launch_options
from demo.video import DURATION, VideoSite
from tests.service_fixtures import ALICE, secret, start_service


def test_the_capture_page_shows_keyframes_and_a_download_of_each_video(tmp_path: Path):
    site = VideoSite().start()
    service = start_service(tmp_path / "evidence", None, LASTSEEN_ALLOW_PRIVATE="1")
    try:
        asked = service.report(site.url("/blob.html"))
        done = service.wait(asked["id"], timeout=180)
        assert done["status"] == "stored", done
        video = service.get(f"/api/captures/{asked['id']}/media/1")
        assert video.status == 200 and video.headers["content-type"] == "video/mp4"
        assert "attachment" in video.headers["content-disposition"]
        copy = tmp_path / "copy.mp4"
        copy.write_bytes(video.body)
        seconds = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
             str(copy)], check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert abs(float(seconds) - DURATION) <= 0.5  # went through the capture's egress gate
        strip = service.get(f"/api/captures/{asked['id']}/media/1/keyframes.jpg")
        assert strip.status == 200 and strip.body.startswith(b"\xff\xd8")
        assert service.get(f"/api/captures/{asked['id']}/media/2").status == 404
        with sync_playwright() as p:  # the web page, signed in, as an investigator sees it
            browser = p.chromium.launch(**launch_options())
            page = browser.new_page()
            page.goto(service.url + "/")
            page.fill("input[name=token]", secret(ALICE))
            page.click("button:text('Sign in')")
            page.goto(f"{service.url}/captures/{asked['id']}")
            strip = page.locator("#keyframes-1")
            page.wait_for_function(
                "() => { const i = document.getElementById('keyframes-1');"
                " return i && i.complete && i.naturalWidth > 0; }"
            )
            assert strip.evaluate("img => img.naturalWidth") > 200  # frames side by side
            link = page.locator("a.video")
            assert link.get_attribute("href") == f"/api/captures/{asked['id']}/media/1"
            browser.close()
    finally:
        assert service.stop() == 0
        site.stop()
