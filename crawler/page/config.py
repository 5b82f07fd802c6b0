"""Capture settings, parsed once from Scrapy settings into a validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from crawler.exceptions import InputError
from crawler.page.behaviors import parse_site_hosts


def parse_viewport(value: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise InputError(f"viewport must look like 1280x900, not {value!r}") from None
    if not (200 <= width <= 4000 and 200 <= height <= 4000):
        raise InputError(f"viewport {value!r} is out of range (200 to 4000 pixels a side)")
    return width, height


MEDIA_CHOICES = ("auto", "on", "all", "off")


@dataclass(frozen=True)
class CaptureConfig:
    timeout: float = 30.0  # whole capture, from request to last byte recorded
    idle_timeout: float = 10.0  # at most this long waiting for the network to go quiet
    scroll_timeout: float = 10.0
    scroll_max_height: int = 30_000  # pixels; an endless feed stops here
    settle_timeout: float = 3.0  # after scrolling, for lazily loaded content
    viewport: tuple[int, int] = (1280, 900)
    pdf: bool = True
    user_agent: str | None = None
    ignore_https_errors: bool = True  # a bad certificate is recorded, not a reason to lose the ad
    # Video (issue 13): "auto" completes what the player fetched and copies with yt-dlp where a
    # video was seen; "on" copies even where none was; "all" also fetches every rendition.
    media: str = "auto"
    media_max_bytes: int = 4 * 1024**3
    media_live_seconds: float = 60.0
    media_timeout: float = 600.0
    # In-page behaviors (crawler.page.behaviors): the library's script ("" for none), their time
    # (None: 20 s with a site behavior or a profile, else scroll_timeout), hosts taken for sites.
    behaviors_script: str = ""
    behavior_timeout: float | None = None
    site_hosts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> CaptureConfig:
        config = cls(
            timeout=settings.getfloat("CAPTURE_TIMEOUT", cls.timeout),
            idle_timeout=settings.getfloat("CAPTURE_IDLE_TIMEOUT", cls.idle_timeout),
            scroll_timeout=settings.getfloat("CAPTURE_SCROLL_TIMEOUT", cls.scroll_timeout),
            scroll_max_height=settings.getint("CAPTURE_SCROLL_MAX_HEIGHT", cls.scroll_max_height),
            settle_timeout=settings.getfloat("CAPTURE_SETTLE_TIMEOUT", cls.settle_timeout),
            viewport=parse_viewport(settings.get("CAPTURE_VIEWPORT") or "1280x900"),
            pdf=settings.getbool("CAPTURE_PDF", cls.pdf),
            user_agent=settings.get("CAPTURE_USER_AGENT") or None,
            ignore_https_errors=settings.getbool("CAPTURE_IGNORE_HTTPS_ERRORS", True),
            media=str(settings.get("CAPTURE_MEDIA") or cls.media).lower(),
            media_max_bytes=settings.getint("CAPTURE_MEDIA_MAX_BYTES", cls.media_max_bytes),
            media_live_seconds=settings.getfloat(
                "CAPTURE_MEDIA_LIVE_SECONDS", cls.media_live_seconds
            ),
            media_timeout=settings.getfloat("CAPTURE_MEDIA_TIMEOUT", cls.media_timeout),
            behaviors_script=settings.get("CAPTURE_BEHAVIORS_SCRIPT") or "",
            behavior_timeout=(
                settings.getfloat("CAPTURE_BEHAVIOR_TIMEOUT")
                if settings.get("CAPTURE_BEHAVIOR_TIMEOUT") not in (None, "")
                else None
            ),
            site_hosts=tuple(sorted(parse_site_hosts(settings.get("CAPTURE_SITE_HOSTS")).items())),
        )
        config.validate()
        return config

    def validate(self) -> None:
        if not 1 <= self.timeout <= 3600:
            raise InputError(f"timeout must be between 1 and 3600 seconds, not {self.timeout:g}")
        for name in ("idle_timeout", "scroll_timeout", "settle_timeout"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} cannot be negative")
        if self.behavior_timeout is not None and not 0 <= self.behavior_timeout <= 3600:
            raise InputError("behavior_timeout must be between 0 and 3600 seconds")
        if self.scroll_max_height < 0:
            raise InputError("scroll_max_height cannot be negative")
        if self.media not in MEDIA_CHOICES:
            raise InputError(f"media must be one of {', '.join(MEDIA_CHOICES)}, not {self.media!r}")
        if self.media_max_bytes < 1 or self.media_live_seconds <= 0 or self.media_timeout <= 0:
            raise InputError("the media size and time limits must be positive")

    def context_kwargs(self) -> dict[str, Any]:
        """Playwright browser-context options: one fresh context per capture."""
        width, height = self.viewport
        kwargs: dict[str, Any] = {
            "viewport": {"width": width, "height": height},
            "ignore_https_errors": self.ignore_https_errors,
            "service_workers": "block",  # their fetches would bypass the page's recorder
        }
        if self.user_agent:
            kwargs["user_agent"] = self.user_agent
        return kwargs

    def as_record(self) -> dict[str, Any]:
        """The settings as written into each WARC's warcinfo record."""
        record = asdict(self)
        record["viewport"] = "{}x{}".format(*self.viewport)
        record["site_hosts"] = dict(self.site_hosts)
        return record
