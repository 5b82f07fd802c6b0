"""The service's front desk: capture requests in, captures and their sealed files out.

Both the API and the web pages work through one ``Desk`` (``app.state.desk``, reached with the
``DeskDep`` dependency): it checks and accepts a capture request, finds one or answers 404,
describes it with its capture, and records every file it hands out in the custody log.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from archive import Archive
from archive.catalog import custody
from archive.catalog import requests as capture_requests
from archive.catalog.db import CaptureRow, capture_summary
from archive.catalog.requests import RequestRow, request_summary
from crawler.exceptions import InputError
from crawler.invisible import hidden
from crawler.plan.seeds import check_url
from crawler.profiles.store import ProfileStore, check_name, open_profiles
from crawler.service.config import ServiceConfig
from crawler.service.ratelimit import RateLimit

MAX_URL = 2048
MAX_CASE = 200
MAX_NOTE = 2000
# Ids are 64-bit signed in the catalog: a larger one names nothing (and would overflow the query).
MAX_ID = 2**63 - 1

# Seconds a token over its quota of waiting requests is told to wait: about one capture.
QUOTA_RETRY = 10

# The custody log's word for a request a token is not cleared for (need-to-know).
DENY = "deny"

# Files of a capture that can be downloaded, besides the WARC itself: WARC record -> media type.
FILES = {"screenshot": "image/png", "pdf": "application/pdf", "dom": "text/html; charset=utf-8"}


def _clean_text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError(f"{what} cannot contain control characters")
    return value or None


def _visible(value: str, what: str) -> None:
    # Characters that make two case ids look alike: the hidden ones, and spaces other than " ".
    for ch in value:
        if hidden(ch) or (unicodedata.category(ch) == "Zs" and ch != " "):
            raise ValueError(
                f"{what} cannot contain invisible or direction-changing characters "
                f"(U+{ord(ch):04X}): two case ids would look the same"
            )


class ReportIn(BaseModel):
    """A URL to capture now."""

    # The class keeps the name of its OpenAPI schema, which clients of the API may have used.
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL, description="http or https URL to capture")
    case: str | None = Field(default=None, max_length=MAX_CASE, description="Case number")
    note: str | None = Field(default=None, max_length=MAX_NOTE, description="Why it matters")
    profile: str | None = Field(
        default=None,
        max_length=64,
        description="Capture signed in with this browser profile (one the token may use)",
    )

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_name(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return check_url(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("case")
    @classmethod
    def _case(cls, value: str | None) -> str | None:
        value = _clean_text(value, "case")
        if value and "\n" in value:
            raise ValueError("case must be one line")
        if value:
            _visible(value, "case")
        return value

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return _clean_text(value, "note")


@dataclass(frozen=True)
class Stored:
    """A capture request answered by a sealed capture."""

    capture_request: RequestRow
    capture: CaptureRow


class Desk:
    def __init__(self, archive: Archive, config: ServiceConfig) -> None:
        self.archive = archive
        self.catalog = archive.catalog
        self.config = config
        self.guard = config.guard
        self.rate = RateLimit(config.reports_per_minute)
        self._profiles: ProfileStore | None = None

    async def accept(self, asked: ReportIn, reporter: str, via: str) -> RequestRow:
        """Queue a capture request, link it to the same URL's capture, or record it refused."""
        if not self.cleared(reporter, asked.case):
            self.deny(reporter, "report", asked.case)
            raise HTTPException(
                403, f"{reporter} may not report into case {asked.case or '(none)'}"
            )
        if asked.profile:
            await run_in_threadpool(self.check_profile, reporter, asked.profile, asked.case)
        wait = self.rate.wait(reporter)
        if wait:
            raise HTTPException(
                429,
                f"{reporter} reported more than {self.config.reports_per_minute} URLs a minute: "
                f"try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        pending = await run_in_threadpool(self.pending, reporter)
        if pending >= self.config.queued_per_token:
            raise HTTPException(
                429,
                f"{reporter} has {pending} capture requests waiting (at most "
                f"{self.config.queued_per_token}): try again when some are done",
                headers={"Retry-After": str(QUOTA_RETRY)},
            )
        refusal = await self.guard.refusal(asked.url, fail_unresolved=False)
        row: RequestRow = await run_in_threadpool(
            capture_requests.submit,
            self.catalog,
            url=asked.url,
            reporter=reporter,
            case_id=asked.case,
            note=asked.note,
            dedup_seconds=self.config.dedup_seconds,
            refused=refusal,
            via=via,
            profile=asked.profile,
        )
        return row

    def may_use(self, user: str, profile: str) -> bool:
        """A token may capture with the profiles its ``profiles=`` names, and no other."""
        return any(fnmatchcase(profile, p) for p in self.config.profiles.get(user, ()))

    def check_profile(self, user: str, profile: str, case: str | None) -> None:
        if not self.may_use(user, profile):
            self.deny(user, f"profile {profile}", case)
            raise HTTPException(403, f"{user} may not capture with profile {profile}")
        if self.profiles().find(profile) is None:
            raise HTTPException(422, f"no profile named {profile}")

    def profiles(self) -> ProfileStore:
        if self._profiles is None:
            self._profiles = open_profiles(self.catalog.url)
        return self._profiles

    def profile_listing(self, user: str) -> list[dict[str, Any]]:
        """The profiles this token may use: account, sites, signed in or out since when."""
        if not self.config.profiles.get(user):
            return []
        store = self.profiles()
        return [
            {
                "name": p.name,
                "account": p.account,
                "sites": p.sites,
                "status": "signed-out" if p.signed_out_since else "signed-in",
                "signed_out_since": p.signed_out_since,
                "signed_out_url": p.signed_out_url,
            }
            for p in store.all()
            if self.may_use(user, p.name)
        ]

    def pending(self, reporter: str) -> int:
        """Capture requests of ``reporter`` that are queued or running."""
        query = select(func.count()).where(
            RequestRow.reporter == reporter,
            RequestRow.status.in_([capture_requests.QUEUED, capture_requests.RUNNING]),
        )
        with self.catalog.session() as s:
            return int(s.scalar(query) or 0)

    def find(self, request_id: int, user: str, what: str = "see") -> RequestRow:
        """A capture request ``user`` is cleared for; else 404, as if it did not exist."""
        row = capture_requests.get(self.catalog, request_id) if 0 < request_id <= MAX_ID else None
        if row is not None and not self.cleared(user, row.case_id):
            self.deny(user, what, row.case_id, row)
            row = None
        if row is None:
            raise HTTPException(404, f"no capture request with id {request_id}")
        return row

    def cleared(self, user: str, case: str | None) -> bool:
        """Need-to-know: a token limited to cases sees, reports into and downloads only those."""
        patterns = self.config.scopes.get(user)
        if patterns is None:
            return True
        return case is not None and any(fnmatchcase(case, p) for p in patterns)

    def limited(self, user: str) -> bool:
        return user in self.config.scopes

    def deny(self, user: str, what: str, case: str | None, row: RequestRow | None = None) -> None:
        """A refusal for need-to-know is in the custody log: who asked for what of which case."""
        with self.catalog.session() as s:
            custody.append(
                self.catalog,
                s,
                actor=user,
                action=DENY,
                capture_id=row.capture_id if row is not None else None,
                details={
                    "what": what,
                    "case": case,
                    "report": row.id if row is not None else None,
                    "via": "service",
                },
            )

    def capture_of(self, row: RequestRow) -> CaptureRow | None:
        return self.catalog.get(row.capture_id) if row.capture_id is not None else None

    def described(self, row: RequestRow) -> dict[str, Any]:
        out = request_summary(row)
        captured = self.capture_of(row)
        out["capture"] = self.summary(captured) if captured is not None else None
        return out

    def summary(self, captured: CaptureRow) -> dict[str, Any]:
        """A capture as the API shows it: its WARC by its key in the store (``warcs/…``), never
        by where the store keeps it (a path of the server, a bucket)."""
        return {**capture_summary(captured), "warc": captured.warc_name}

    def listing(self, case: str | None, limit: int, user: str) -> list[dict[str, Any]]:
        """Capture requests with their captures, newest first: those ``user`` is cleared for."""
        if case is not None and not self.cleared(user, case):
            self.deny(user, "list", case)
            return []
        rows = capture_requests.listing(self.catalog, case, limit)
        return [self.described(r) for r in rows if self.cleared(user, r.case_id)]

    def stored(self, request_id: int, user: str) -> Stored:
        row = self.find(request_id, user, "download")
        captured = self.capture_of(row)
        if captured is None:
            raise HTTPException(404, f"capture request {request_id} is {row.status}, not stored")
        return Stored(row, captured)

    def log_access(self, user: str, stored: Stored, what: str, sha: str) -> None:
        """A file of a sealed capture was handed out: who, which file, its SHA-256."""
        with self.catalog.session() as s:
            custody.append(
                self.catalog,
                s,
                actor=user,
                action=custody.ACCESS,
                capture_id=stored.capture.id,
                # "report": the key custody logs have always used for the capture request.
                details={
                    "file": what,
                    "sha256": sha,
                    "report": stored.capture_request.id,
                    "via": "service",
                },
            )


def desk(request: Request) -> Desk:
    found: Desk = request.app.state.desk
    return found


DeskDep = Annotated[Desk, Depends(desk)]
