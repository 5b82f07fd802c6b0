"""Captures signed in with a browser profile, against the stand-in social site: the signed-in
feed is captured whole, the session never reaches the evidence (every byte of the store, the
catalog, the logs and an export is searched for every cookie value the site gave out), each
redaction is listed with a hash of the real value, and the evidence still verifies and replays.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from crawler.browser import find_browser, launch_args
from crawler.profiles.store import open_profiles
from demo.social import GROUP, SocialSite
from tests.bundles import signer
from tests.conftest import invoke, run_cli
from tests.pywb import pywb_serving
from tests.warcs import read_warc

CASE = "SOC-1"
PREFIX = "redacted:sha256:"


@pytest.fixture(scope="module")
def social_site() -> Iterator[SocialSite]:
    site = SocialSite().start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def signed_in(social_site: SocialSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two profiles (storage_state and cookies.txt), three captures made with them (a group feed,
    a post, a post from a watch file's scheduled run), and an export of the case."""
    site = social_site
    root = tmp_path_factory.mktemp("signed-in")
    store, profiles = root / "evidence", root / "profiles"
    env = {"LASTSEEN_PROFILES": str(profiles), "LASTSEEN_SIGNING_KEY": str(root / "key.pem")}
    outputs: list[str] = []

    def cli(*args: str, fork: bool = False) -> Any:
        proc = (run_cli if fork else invoke)(*args, store=store, **env)
        outputs.extend([proc.stdout, proc.stderr])
        return proc

    (root / "state.json").write_text(json.dumps(site.storage_state(site.sign_in())))
    (root / "cookies.txt").write_text(site.cookies_txt(site.sign_in()))
    marks = ["--signed-in-selector", "[data-testid=account]", "--login-wall-url", "*/login*"]
    for name, file in (("anna", "state.json"), ("anna-txt", "cookies.txt")):
        proc = cli("profile", "import", name, str(root / file), "--account",
                   "Anna V. (undercover)", "--secret-header", "X-FB-LSD", "--secret-field",
                   "dtsg", *marks)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    captures = {}
    for key, url, profile in (("feed", f"/group/{GROUP}", "anna"), ("post", "/post/4", "anna-txt")):
        proc = cli("capture", site.url(url), "--profile", profile, "--case", CASE, "--json",
                   fork=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        captures[key] = json.loads(proc.stdout)
    seeds = root / "watch.yaml"
    seeds.write_text(f"- url: {site.url('/post/7')}\n  case: {CASE}\n  profile: anna\n")
    proc = cli("crawl", str(seeds), "--due", "--json", fork=True)
    assert proc.returncode == 0, proc.stderr
    captures["watched"] = json.loads(proc.stdout.splitlines()[0])
    assert cli("keys", "init").returncode == 0
    bundle = root / "soc-1.zip"
    proc = cli("export", "--case", CASE, "--out", str(bundle), "--json")
    assert proc.returncode == 0, proc.stderr
    return {"site": site, "store": store, "profiles": profiles, "captures": captures,
            "bundle": bundle, "key": root / "key.pem", "outputs": outputs, "env": env}  # fmt: skip


def provenance(warc: str) -> dict[str, Any]:
    (meta,) = [r for r in read_warc(warc) if r.target.startswith("urn:provenance:")]
    return meta.json()


def test_a_storage_state_profile_captures_the_signed_in_feed_past_the_first_screen(signed_in):
    site, feed = signed_in["site"], signed_in["captures"]["feed"]
    assert feed["outcome"] == "ok" and feed["final_url"] == site.url(f"/group/{GROUP}")
    records = read_warc(feed["warc"])
    (dom,) = [r for r in records if r.target.startswith("urn:dom:")]
    html = dom.payload.decode()
    assert "Anna Vermeulen" in html
    # Posts 4 to 12 came by XHR as the capture scrolled; post 12's hidden text is in the DOM.
    assert f'id="post-{len(site.posts)}"' in html
    assert site.posts[-1].more in html
    feeds = [r for r in records if r.type == "response" and r.target == site.url("/api/graphql")]
    assert len(feeds) == 3
    assert all(json.loads(r.payload)["html"] for r in feeds)
    assert [r for r in records if r.type == "response" and "/media/12-" in r.target]


def test_a_cookies_txt_profile_captures_a_post_signed_in(signed_in):
    post = signed_in["captures"]["post"]
    assert post["outcome"] == "ok" and post["final_url"].endswith("/post/4")
    (dom,) = [r for r in read_warc(post["warc"]) if r.target.startswith("urn:dom:")]
    assert b"Anna Vermeulen" in dom.payload and b"call +32 470 55 04 04" in dom.payload


def test_a_watch_files_profile_signs_its_scheduled_capture_in(signed_in):
    watched = signed_in["captures"]["watched"]
    assert watched["outcome"] == "ok" and watched["final_url"].endswith("/post/7")
    assert provenance(watched["warc"])["profile"]["name"] == "anna"


def _every_byte(*paths: Path) -> bytes:
    """Every byte of these files and of the files under these folders, gzip and ZIP opened."""
    out = []
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*")))]
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            out.append(data)
            if data[:2] == b"\x1f\x8b":
                out.append(gzip.decompress(data))
            if data[:2] == b"PK":
                with zipfile.ZipFile(path) as zf:
                    for name in zf.namelist():
                        member = zf.read(name)
                        out.append(gzip.decompress(member) if member[:2] == b"\x1f\x8b" else member)
    return b"\n".join(out)


def test_no_session_value_appears_in_the_store_catalog_logs_output_or_export(signed_in):
    site = signed_in["site"]
    issued = list(site.issued)
    assert len(issued) >= 7  # two sign-ins, and every page rotated the session
    haystack = _every_byte(signed_in["store"], signed_in["bundle"])
    assert (signed_in["store"] / "logs" / "crawl.log").exists()
    assert b"Anna Vermeulen" in haystack  # the search does reach inside the WARCs
    text = "\n".join(signed_in["outputs"])
    for value in issued:
        assert value.encode() not in haystack, "a session value reached the evidence"
        assert value not in text
    # The feed's CSRF token, marked secret (header and form field), is gone from the requests.
    for record in read_warc(signed_in["captures"]["feed"]["warc"]):
        if record.type == "request" and record.target.endswith("/api/graphql"):
            (token,) = record.http_header("X-FB-LSD")
            assert token.startswith(PREFIX)
            assert re.search(rb"dtsg=redacted:sha256:[0-9a-f]{64}$", record.payload)


def test_each_redaction_is_listed_with_the_hash_of_the_real_value(signed_in):
    site = signed_in["site"]
    real = {hashlib.sha256(v.encode()).hexdigest(): (n, v) for n, v in site.headers_seen}
    for capture in signed_in["captures"].values():
        records = read_warc(capture["warc"])
        listed = provenance(capture["warc"])["redaction"]
        assert listed["account"] == "Anna V. (undercover)" and "cannot be used" in listed["reason"]
        by_record = {(v["record"], v.get("header")): v for v in listed["values"]}
        found = 0
        for record in records:
            if record.type not in ("request", "response"):
                continue
            for header in ("Cookie", "Set-Cookie"):
                for value in record.http_header(header):
                    assert value.startswith(PREFIX), f"{header} kept in {record.target}"
                    digest = value[len(PREFIX) :]
                    assert real[digest][0] == header  # the hash of a value the site saw
                    entry = by_record[(record.header("WARC-Record-ID"), header)]
                    assert entry["value_sha256"] == digest and entry["url"] == record.target
                    found += 1
        assert found >= 2
        assert listed["redacted"] == len(listed["values"]) >= found


def test_the_profile_state_is_saved_back_so_a_rotated_session_keeps_working(signed_in):
    site = signed_in["site"]
    saved = open_profiles(folder=signed_in["profiles"]).get("anna")
    sid = next(c["value"] for c in saved.state["cookies"] if c["name"] == "sid")
    assert site.user_of(sid) == "anna.v"
    assert provenance(signed_in["captures"]["feed"]["warc"])["profile"]["state_saved_back"]
    # Every older session dies: only the saved-back one signs the next capture in.
    site.retire_rotated()
    proc = run_cli("capture", site.url("/post/2"), "--profile", "anna", "--json",
                   store=signed_in["store"], **signed_in["env"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "ok"


def test_the_export_verifies_and_a_capture_replays_in_pywb(signed_in, tmp_path):
    proc = invoke("verify", str(signed_in["bundle"]), "--key", signer(signed_in["key"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site, feed = signed_in["site"], signed_in["captures"]["feed"]
    url = site.url(f"/group/{GROUP}")
    stamp = re.sub(r"\D", "", feed["captured_at"])[:14]
    with pywb_serving([feed["warc"]], tmp_path / "pywb") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(find_browser()), args=launch_args())
        page = browser.new_page()
        page.goto(f"{base}/{stamp}/{url}")
        frame = page.frame_locator("iframe").first
        frame.locator("[data-testid=account]").wait_for(timeout=20_000)
        assert frame.locator("[data-testid=account]").inner_text() == "Anna Vermeulen"
        assert frame.locator("#post-1 h2").inner_text() == "Post 1"
        browser.close()


def test_the_report_says_the_capture_was_made_signed_in_and_the_secrets_removed(signed_in):
    with zipfile.ZipFile(signed_in["bundle"]) as zf:
        name = next(n for n in zf.namelist() if n.endswith("report.html"))
        report = zf.read(name).decode()
    assert "signed in to the site as the account “Anna V. (undercover)”" in report
    assert "browser profile “anna”" in report
    assert "The session secrets of that account" in report
    assert "no one holding this evidence can sign in as that account" in report


def test_an_expired_profile_meets_a_login_wall_which_is_not_gone_and_pauses_the_profile(
    social_site, tmp_path
):
    site, store = social_site, tmp_path / "evidence"
    env = {"LASTSEEN_PROFILES": str(tmp_path / "profiles")}
    state = tmp_path / "old.json"
    # Cookies that expired yesterday: the browser does not send them, the site shows its wall.
    state.write_text(json.dumps(site.storage_state(site.sign_in(), expires=1_700_000_000)))
    proc = invoke("profile", "import", "old", str(state), "--account", "Anna (old session)",
                  "--login-wall-url", "*/login*", store=store, **env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    url = site.url("/post/3")
    proc = run_cli("capture", url, "--profile", "old", "--json", store=store, **env)
    assert proc.returncode == 5, proc.stderr
    walled = json.loads(proc.stdout)
    assert walled["outcome"] == "login-wall" and "/login?next=" in walled["final_url"]
    assert "redirected to a login page" in walled["error"]
    assert provenance(walled["warc"])["profile"]["login_wall"]  # kept as evidence, and why
    line = json.loads(invoke("history", url, "--json", store=store).stdout)
    assert line["state"] == "unknown" and line["gone_since"] is None
    assert line["observations"][0]["reason"] == "login-wall"
    listed = json.loads(invoke("profile", "ls", "--json", store=store, **env).stdout)
    assert listed[0]["status"] == "signed-out"
    assert listed[0]["signed_out_since"] == walled["captured_at"]
    assert "signed out since" in invoke("profile", "ls", store=store, **env).stdout
    # Its scheduled captures wait until it is signed in again.
    watch = tmp_path / "watch.yaml"
    watch.write_text(f"- url: {site.url('/post/5')}\n  profile: old\n")
    proc = run_cli("crawl", str(watch), "--due", "--json", store=store, **env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])["summary"]
    assert summary["due"] == 1 and summary["paused"] == 1 and summary["captured"] == 0
    assert "profile old signed out since" in proc.stderr
    # Signed in again (a fresh state imported), its scheduled captures resume.
    state.write_text(json.dumps(site.storage_state(site.sign_in())))
    assert invoke("profile", "import", "old", str(state), store=store, **env).returncode == 0
    proc = run_cli("crawl", str(watch), "--due", "--json", store=store, **env)
    summary = json.loads(proc.stdout.splitlines()[-1])["summary"]
    assert summary["paused"] == 0 and summary["captured"] == 1 and summary["signed_out"] == 0
    # A capture asked for by hand that turns out signed in after all signs the profile in again.
    open_profiles(folder=tmp_path / "profiles").signed_out("old", "2026-12-03T10:00:00Z", url)
    proc = run_cli("capture", site.url("/post/4"), "--profile", "old", "--json", store=store, **env)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(invoke("profile", "ls", "--json", store=store, **env).stdout)
    assert listed[0]["status"] == "signed-in"
    # Anonymous captures keep the rule: a redirect to a login page is a vanished page.
    proc = run_cli("capture", url, "--json", store=store)
    assert json.loads(proc.stdout)["outcome"] == "ok"
    line = json.loads(invoke("history", url, "--json", store=store).stdout)
    assert line["state"] == "gone" and line["gone_since"]["reason"] == "redirect-login"


def test_one_profile_is_used_by_one_page_at_a_time_each_starting_from_the_saved_state(tmp_path):
    # No grace: a session dies the moment the site rotates it. Two pages sharing a state at once,
    # or a page starting from a state not saved back, would meet the login wall.
    site = SocialSite(grace=0).start()
    try:
        store, env = tmp_path / "evidence", {"LASTSEEN_PROFILES": str(tmp_path / "profiles")}
        state = tmp_path / "state.json"
        state.write_text(json.dumps(site.storage_state(site.sign_in())))
        proc = invoke("profile", "import", "solo", str(state), "--login-wall-url", "*/login*",
                      store=store, **env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        seeds = tmp_path / "watch.yaml"
        seeds.write_text(
            "".join(f"- url: {site.url(f'/post/{n}')}\n  profile: solo\n" for n in (1, 2, 3))
        )
        proc = run_cli("crawl", str(seeds), "--json", "--per-host", "3", store=store, **env)
        assert proc.returncode == 0, proc.stderr
        captures = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [c["outcome"] for c in captures] == ["ok", "ok", "ok"]
        spans = sorted((c["captured_at"], c["finished_at"]) for c in captures)
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))
    finally:
        site.stop()


def test_the_fleets_scheduler_does_not_queue_a_signed_out_profiles_entries(
    tmp_path, pg_url, monkeypatch
):
    from cryptography.fernet import Fernet

    env = {"LASTSEEN_PROFILES": str(tmp_path / "profiles"),
           "LASTSEEN_PROFILE_KEY": Fernet.generate_key().decode()}  # fmt: skip
    store = tmp_path / "evidence"
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"cookies": [], "origins": [{"origin": "http://127.0.0.1:9"}]}))
    for name in ("out", "in"):
        proc = invoke("profile", "import", name, str(state), store=store, db=pg_url, **env)
        assert proc.returncode == 0, proc.stderr
    monkeypatch.setenv("LASTSEEN_PROFILE_KEY", env["LASTSEEN_PROFILE_KEY"])
    open_profiles(pg_url).signed_out("out", "2026-12-03T10:00:00Z", "http://127.0.0.1:9/login")
    seeds = tmp_path / "watch.yaml"
    seeds.write_text(
        "- url: http://127.0.0.1:9/a\n  profile: out\n- url: http://127.0.0.1:9/b\n  profile: in\n"
    )
    proc = run_cli("crawl", str(seeds), "--due", "--enqueue", "--json", store=store, db=pg_url,
                   **env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["due"] == 2 and json.loads(proc.stdout)["queued"] == 1
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        queued = [row[0] for row in conn.execute(text("SELECT url FROM jobs"))]
    engine.dispose()
    assert queued == ["http://127.0.0.1:9/b"]
