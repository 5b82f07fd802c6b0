"""Scrapy settings of the lastseen project.

lastseen's own settings carry a prefix: ``CAPTURE_*`` for how a page is captured, ``ARCHIVE_*``
for where evidence goes. The ``LASTSEEN_*`` environment variables fill them in.
"""

from __future__ import annotations

import os
from pathlib import Path

from crawler.browser import launch_options
from crawler.plan.seeds import MAX_URL_LENGTH

BEHAVIORS_SCRIPT = "node_modules/browsertrix-behaviors/dist/behaviors.js"

BOT_NAME = "lastseen"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Evidence captures: every capture request is rendered by Chromium through Playwright, by
# lastseen's own download handler (crawler.handlers.browser), with the browser's own request
# headers on the wire: what we record is what it sent.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DOWNLOAD_HANDLERS = {
    "http": "crawler.handlers.browser.BrowserDownloadHandler",
    "https": "crawler.handlers.browser.BrowserDownloadHandler",
}
CAPTURE_LAUNCH_OPTIONS = launch_options()
# Pages captured at once, each in a browser context of its own.
CONCURRENT_REQUESTS = 4
# Politeness per site: Scrapy's own settings, set by `lastseen crawl --per-host / --delay /
# --autothrottle` (LASTSEEN_PER_HOST, LASTSEEN_DELAY, LASTSEEN_AUTOTHROTTLE). Pages of one site
# captured at a time, counted until the page is closed (crawler.middlewares.perhost), not only
# while the navigation downloads as Scrapy alone would.
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.0
AUTOTHROTTLE_ENABLED = False
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# A 404 or a 410 is evidence: it reaches the spider like any page.
HTTPERROR_ALLOW_ALL = True
# A failed attempt is recorded as it happened; the next scheduled run tries again.
RETRY_ENABLED = False
# Scrapy drops a URL longer than 2,083 characters (an old Internet Explorer limit) without a
# word; an ad's URL may be longer. Up to what Chromium accepts, which the seeds are checked
# against with a clear error.
URLLENGTH_LIMIT = MAX_URL_LENGTH
# The browser keeps its own cookies, per capture.
COOKIES_ENABLED = False
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote control runs code sent to it over HTTP: never in a process that reads hostile
# pages. Every other extension lastseen does not use is off too; on: the stats, their log counts
# and AutoThrottle (`crawl --autothrottle`).
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "WARNING"
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scrapy.extensions.memusage.MemoryUsage": None,
    "scrapy.extensions.memdebug.MemoryDebugger": None,
    "scrapy.extensions.closespider.CloseSpider": None,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.logstats.LogStats": None,
    "scrapy.extensions.spiderstate.SpiderState": None,
}

ITEM_PIPELINES = {
    "crawler.pipelines.warc.WarcPipeline": 300,
}

# Refuses private-network addresses (SSRF); the capture service switches it on.
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.urlguard.UrlGuardMiddleware": 50,
    # After the guard: a refused URL never waits for a place.
    "crawler.middlewares.perhost.PerHostLimit": 60,
    # Then a place on the job's browser profile, and its signed-in state for the context.
    "crawler.middlewares.profiles.ProfileMiddleware": 70,
}
URLGUARD_ENABLED = False
URLGUARD_ALLOW_PRIVATE = False
URLGUARD_ALLOWED_NETWORKS: list[str] = []

CAPTURE_TIMEOUT = 30.0
CAPTURE_IDLE_TIMEOUT = 10.0
CAPTURE_SCROLL_TIMEOUT = 10.0
CAPTURE_SCROLL_MAX_HEIGHT = 30000
CAPTURE_SETTLE_TIMEOUT = 3.0
CAPTURE_VIEWPORT = "1280x900"
CAPTURE_PDF = True
CAPTURE_USER_AGENT = None
CAPTURE_IGNORE_HTTPS_ERRORS = True
# Video (issue 13): auto, on, all or off; the size of one copy; how long a live stream is recorded;
# how long all yt-dlp runs of one capture may take.
CAPTURE_MEDIA = "auto"
CAPTURE_MEDIA_MAX_BYTES = 4 * 1024**3
CAPTURE_MEDIA_LIVE_SECONDS = 60.0
CAPTURE_MEDIA_TIMEOUT = 600.0
# browsertrix-behaviors (crawler.page.behaviors), as `make setup` installs it from npm; "" for
# none. Without it pages are captured with the plain scroll, and a warning says so.
CAPTURE_BEHAVIORS_SCRIPT = os.environ.get(
    "LASTSEEN_BEHAVIORS_SCRIPT",
    str(Path(__file__).resolve().parent.parent / BEHAVIORS_SCRIPT),
)
CAPTURE_BEHAVIOR_TIMEOUT = os.environ.get("LASTSEEN_BEHAVIOR_TIMEOUT") or None
# host[:port] -> site ("telegram", "x", ...): pages on that host get the site's behavior.
CAPTURE_SITE_HOSTS = os.environ.get("LASTSEEN_SITE_HOSTS") or ""

ARCHIVE_STORE = os.environ.get("LASTSEEN_STORE") or "./lastseen-data"
ARCHIVE_DB = os.environ.get("LASTSEEN_DB") or None
ARCHIVE_OPERATOR = os.environ.get("LASTSEEN_OPERATOR") or None
# Payloads already stored are written as revisit records (scheduled runs turn this on).
ARCHIVE_DEDUP = False
