"""The service captures signed in when a report names a profile its token may use
(``name:secret:profiles=...``), redacts the session as the CLI does, and shows each profile's
state, signed in or signed out since when, to the tokens that may use it."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet

from demo.social import SocialSite
from tests.conftest import invoke
from tests.service_fixtures import ALICE, TIPLINE, start_service
from tests.warcs import read_warc


def test_a_report_with_a_profile_is_captured_signed_in_only_for_tokens_that_may_use_it(
    store: Path, tmp_path: Path, db_url: str | None
):
    """Both catalogs: with PostgreSQL the encrypted profile lives in the catalog, and the fleet's
    worker that takes the job signs in with it (the key given to each process)."""
    site = SocialSite().start()
    env = {"LASTSEEN_PROFILES": str(tmp_path / "profiles"),
           "LASTSEEN_PROFILE_KEY": Fernet.generate_key().decode()}  # fmt: skip
    state = tmp_path / "state.json"
    state.write_text(json.dumps(site.storage_state(site.sign_in())))
    proc = invoke("profile", "import", "anna", str(state), "--account", "Anna V.",
                  "--login-wall-url", "*/login*", store=store, db=db_url, **env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "profiles").exists() == (db_url is None)
    service = start_service(
        store, db_url, LASTSEEN_ALLOW_PRIVATE="1", **env,
        LASTSEEN_API_TOKEN=f"{ALICE}:profiles=anna|team-*,{TIPLINE}",
    )  # fmt: skip
    try:
        url = site.url("/post/6")
        refused = service.post("/api/captures", {"url": url, "profile": "anna"}, token=TIPLINE)
        assert (
            refused.status == 403
            and "may not capture with profile anna" in refused.json()["detail"]
        )
        unknown = service.post("/api/captures", {"url": url, "profile": "team-x"})
        assert unknown.status == 422
        assert service.get("/api/profiles", token=TIPLINE).json() == {"profiles": []}

        done = service.wait(service.report(url, profile="anna")["id"])
        assert done["status"] == "stored" and done["profile"] == "anna"
        assert done["capture"]["outcome"] == "ok"
        warc = store / done["capture"]["warc"]
        records = read_warc(warc)
        (dom,) = [r for r in records if r.target.startswith("urn:dom:")]
        assert b"Anna Vermeulen" in dom.payload
        raw = warc.read_bytes()
        for value in site.issued:
            assert value.encode() not in raw
        (listed,) = service.get("/api/profiles").json()["profiles"]
        assert listed["name"] == "anna" and listed["status"] == "signed-in"

        site.sign_out_everyone()  # the site ends the session: the next capture meets its wall
        walled = service.wait(service.report(site.url("/post/8"), profile="anna")["id"])
        assert walled["capture"]["outcome"] == "login-wall"
        (listed,) = service.get("/api/profiles").json()["profiles"]
        assert listed["status"] == "signed-out"
        assert listed["signed_out_since"] == walled["capture"]["captured_at"]
    finally:
        service.stop()
        site.stop()


def test_the_web_page_offers_the_tokens_profiles_and_shows_which_are_signed_out(
    store: Path, tmp_path: Path
):
    from tests.test_service_sessions import call, sign_in

    profiles = str(tmp_path / "profiles")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"cookies": [], "origins": [{"origin": "http://127.0.0.1:9"}]}))
    for name in ("anna", "bob"):
        invoke("profile", "import", name, str(state), "--account", f"{name} (undercover)",
               store=store, LASTSEEN_PROFILES=profiles)  # fmt: skip
    from crawler.profiles.store import open_profiles

    open_profiles(folder=Path(profiles)).signed_out("bob", "2026-12-03T10:00:00Z", "http://x/login")
    service = start_service(
        store, None, "--workers", "0", LASTSEEN_PROFILES=profiles,
        LASTSEEN_API_TOKEN=f"{ALICE}:profiles=*,{TIPLINE}",
    )  # fmt: skip
    try:
        _, cookie = sign_in(service)
        page = call(service, "GET", "/", cookie).body
        assert '<option value="anna">anna: anna (undercover)</option>' in page
        assert '<tr data-profile="bob" data-state="signed-out">' in page
        assert "signed out since 2026-12-03T10:00:00Z" in page
        assert '<tr data-profile="anna" data-state="signed-in">' in page
    finally:
        service.stop()
