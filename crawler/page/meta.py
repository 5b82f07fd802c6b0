"""The request meta keys by which the browser handler, the middlewares and the capturer hand a
capture's page and options to each other (plain names, so that requests stay serialisable)."""

from __future__ import annotations

BROWSER_KEY = "capture_browser"  # render this request in the browser (a capture)
PAGE_KEY = "capture_page"  # set by the handler: the page, for the callback or the errback
CONTEXT_KEY = "capture_context_kwargs"  # this capture's browser-context options
# Set by the handler: the provenance's word on the page's browser context (always new, used for
# this capture alone; made ahead of the request when it had the crawl's default options).
CONTEXT_RECORD_KEY = "capture_context_record"
