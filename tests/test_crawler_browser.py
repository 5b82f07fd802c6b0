"""Finding the browser: LASTSEEN_BROWSER, then Playwright's own Chromium, then the system one."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from crawler import browser
from crawler.exceptions import SetupError


def fake_executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_lastseen_browser_overrides_everything(tmp_path, monkeypatch):
    exe = fake_executable(tmp_path / "my-chrome")
    monkeypatch.setenv("LASTSEEN_BROWSER", str(exe))
    assert browser.find_browser() == exe


def test_a_lastseen_browser_that_is_not_executable_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LASTSEEN_BROWSER", str(tmp_path / "missing"))
    with pytest.raises(SetupError, match="is not an executable file"):
        browser.find_browser()


def test_playwrights_own_chromium_comes_before_the_system_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LASTSEEN_BROWSER", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    old = fake_executable(tmp_path / "chromium-1100" / "chrome-linux" / "chrome")
    new = fake_executable(tmp_path / "chromium-1200" / "chrome-linux" / "chrome")
    assert old != new
    assert browser.find_browser() == new


def test_the_system_chromium_is_used_when_playwright_has_none(tmp_path, monkeypatch):
    monkeypatch.delenv("LASTSEEN_BROWSER", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "empty"))
    bindir = tmp_path / "bin"
    exe = fake_executable(bindir / "chromium")
    monkeypatch.setenv("PATH", str(bindir))
    assert browser.find_browser() == exe


def test_no_browser_at_all_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LASTSEEN_BROWSER", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(SetupError, match="apt-get install chromium"):
        browser.find_browser()


def test_launch_flags_keep_chromium_off_the_network_and_allow_root():
    args = browser.launch_args()
    assert "--disable-background-networking" in args and "--disable-quic" in args
    assert ("--no-sandbox" in args) == (os.geteuid() == 0)


def test_the_features_playwright_disables_stay_disabled_beside_lastseens():
    """Chromium keeps the last --disable-features switch only, and lastseen's comes after
    Playwright's: it must name every feature the installed Playwright disables (HttpsUpgrades
    would turn an ad's http:// address into another request; AvoidCorsURLLoaderRestartOnRedirect
    breaks redirects under the recorder's Fetch interception)."""
    import playwright

    driver = Path(playwright.__file__).parent / "driver" / "package" / "lib"
    bundles = [f for f in driver.rglob("*.js") if "disabledFeatures = [" in f.read_text("utf-8")]
    assert bundles, f"no list of disabled features found under {driver}"
    listed = re.search(r"disabledFeatures = \[(.*?)\]", bundles[0].read_text("utf-8"), re.S)
    assert listed is not None
    theirs = set(re.findall(r'^\s*"([A-Za-z0-9]+)"', listed.group(1), re.M))
    assert "PaintHolding" in theirs  # the list was read
    switches = [a for a in browser.launch_args() if a.startswith("--disable-features=")]
    assert len(switches) == 1
    ours = set(switches[0].split("=", 1)[1].split(","))
    assert theirs <= ours, sorted(theirs - ours)
    assert "SpareRendererForSitePerProcess" in ours
