"""Which Chromium to launch, and how.

Order: ``LASTSEEN_BROWSER`` if set; Playwright's own Chromium when ``playwright install`` put one
on this machine; else the system's (Debian's ``chromium`` package). Playwright cannot download its
browser on a machine without internet, which is why the system one is a first-class fallback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from crawler.exceptions import SetupError

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Without these a headless Chromium phones home at start (and waits on a closed network), and
# QUIC would make the protocol of an exchange depend on UDP reachability. WebRTC sends no UDP
# outside a proxy: under the URL guard every connection must pass the capture's SOCKS5 gate
# (crawler/page/egress.py), which carries TCP only, and a STUN datagram to an internal address
# would not; nor does a page learn the capturing machine's addresses from its ICE candidates.
BASE_ARGS = (
    "--disable-background-networking",
    "--disable-quic",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
)

# Playwright launches Chromium with a --disable-features list of its own, and Chromium keeps only
# the last of several such switches: lastseen's must repeat Playwright's (as of Playwright 1.65;
# tests/test_crawler_browser.py compares this copy with the installed driver's).
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
# Chromium keeps a spare renderer process started for the next cross-site navigation. It cannot
# serve another browser context, and every capture has a context of its own: each capture paid
# for a renderer it never used (a third of the renderers started; about 12% of the CPU time of a
# small page's capture, measured in the session of 2026-12-03).
DISABLED_FEATURES = (*PLAYWRIGHT_DISABLED_FEATURES, "SpareRendererForSitePerProcess")


def _playwright_browsers_dir() -> Path:
    configured = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if configured and configured != "0":
        return Path(configured)
    return Path.home() / ".cache" / "ms-playwright"


def playwright_chromium() -> Path | None:
    """The newest Chromium that ``playwright install chromium`` left on this machine, if any."""
    root = _playwright_browsers_dir()
    patterns = (
        "chromium_headless_shell-*/chrome-linux/headless_shell",
        "chromium_headless_shell-*/chrome-headless-shell-linux64/chrome-headless-shell",
        "chromium-*/chrome-linux/chrome",
        "chromium-*/chrome-linux64/chrome",
    )
    found = [p for pattern in patterns for p in root.glob(pattern) if os.access(p, os.X_OK)]
    return sorted(found, key=lambda p: p.parent.parent.name)[-1] if found else None


def system_chromium() -> Path | None:
    for name in SYSTEM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return Path(path)
    return None


def find_browser(override: str | None = None) -> Path:
    """The browser executable to use, or a SetupError telling the user how to get one."""
    override = override if override is not None else os.environ.get("LASTSEEN_BROWSER")
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SetupError(f"LASTSEEN_BROWSER={override} is not an executable file")
        return path
    found = playwright_chromium() or system_chromium()
    if found is None:
        raise SetupError(
            "no Chromium found: run 'playwright install chromium', or install Debian's "
            "'chromium' package (apt-get install chromium), or set LASTSEEN_BROWSER"
        )
    return found


def launch_args() -> list[str]:
    args = [*BASE_ARGS, "--disable-features=" + ",".join(DISABLED_FEATURES)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root (containers, CI).
        args.append("--no-sandbox")
    return args


def launch_options() -> dict[str, object]:
    """CAPTURE_LAUNCH_OPTIONS. Without any browser, Playwright's own error tells the user."""
    options: dict[str, object] = {"headless": True, "args": launch_args()}
    try:
        options["executable_path"] = str(find_browser())
    except SetupError:
        pass
    return options


if __name__ == "__main__":
    # `python -m crawler.browser`: print the browser lastseen would use; exit 1 if there is none.
    import sys

    try:
        print(find_browser())
    except SetupError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
