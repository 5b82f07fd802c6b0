"""A job: one URL to capture, and why.

The same value travels the whole way: the seed reader makes it from a seed file (or the command
line, or a report), the watch list schedules it, the spiders turn it into a capture request, and
the capturer reads the case, note and reusable print from it. A field added here is added for
all of them; a seed file states it once its key is parsed (``crawler.plan.seeds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Why a URL is captured.
REQUESTED = "requested"  # someone asked for it: the command line, a seed file, a report
DUE = "due"  # a watched URL whose time has come
FOUND = "found"  # a link a follow rule matched on a watched page


@dataclass(frozen=True)
class PrintOf:
    """An earlier capture of the URL that has a PDF print: if this capture's rendered DOM is
    byte-identical to that capture's, its print stands for this one and none is made."""

    capture_id: int
    dom_sha256: str


@dataclass(frozen=True)
class Job:
    url: str
    case: str | None = None
    note: str | None = None
    # The schedule and follow rules, as a seed file states them.
    every: int | None = None  # seconds between captures; None: every run
    follow: tuple[str, ...] = ()  # URL globs of links on the page to capture too
    depth: int = 1  # levels of links followed from here (0: none)
    tags: tuple[str, ...] = ()
    obey_robots: bool = False  # evidence captures ignore robots.txt unless told
    # Identifier kinds (phone, telegram, image, ...) that alert when seen in another case.
    alert: tuple[str, ...] = ()
    # The browser profile (``lastseen profile``) the page is captured signed in with; links
    # found on it are captured with it too.
    profile: str | None = None
    # A complete copy of the page's video (yt-dlp): True even where the browser saw none, False
    # never; None: where the browser saw a video or a stream manifest (issue 13).
    media: bool | None = None
    # Why it is captured; for a followed link, the seed whose rule found it, where and which rule.
    reason: str = REQUESTED
    seed: str | None = None
    found_on: str | None = None
    rule: str | None = None
    print_of: PrintOf | None = None
    line: int | None = field(default=None, compare=False)  # where the seed file states it

    @property
    def site(self) -> str:
        """The seed this job descends from (itself for a seed): follow rules that are paths are
        on this site."""
        return self.seed or self.url

    def found(self, url: str, rule: str) -> Job:
        """The job of a link a follow rule matched on this page: same case, schedule and rules,
        one level less deep."""
        return replace(
            self,
            url=url,
            note=None,
            depth=self.depth - 1,
            reason=FOUND,
            seed=self.site,
            found_on=self.url,
            rule=rule,
            print_of=None,
            line=None,
        )
