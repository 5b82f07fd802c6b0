"""`lastseen profile`: import from storage_state and cookies.txt, list, show without values,
remove; encrypted at rest with a key of mode 0600; bad input is one line and writes nothing."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cryptography.fernet import Fernet

from crawler.profiles.store import open_profiles
from tests.conftest import LASTSEEN, cli_env, invoke


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    return tmp_path / "profiles"


def profile_cli(*args: str, profiles: Path, store: Path, **env: str):
    return invoke("profile", *args, store=store, LASTSEEN_PROFILES=str(profiles), **env)


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_a_storage_state_is_imported_encrypted_and_shown_without_values(
    social, tmp_path, profiles, store
):
    cookies = social.sign_in()
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(social.storage_state(cookies)))
    proc = profile_cli(
        "import", "anna", str(state_file), "--account", "Anna V. (undercover)",
        "--signed-in-selector", "[data-testid=account]", "--login-wall-url", "*/login*",
        profiles=profiles, store=store,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "2 cookie(s)" in proc.stdout
    key = profiles / "profile.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((profiles / "anna.profile").stat().st_mode) == 0o600
    on_disk = every_byte(profiles)
    for value in cookies.values():
        assert value.encode() not in on_disk
    shown = profile_cli("show", "anna", profiles=profiles, store=store)
    assert shown.returncode == 0, shown.stderr
    assert "cookie sid @ 127.0.0.1" in shown.stdout and "cookie device" in shown.stdout
    assert "Anna V. (undercover)" in shown.stdout
    detail = json.loads(
        profile_cli("show", "anna", "--json", profiles=profiles, store=store).stdout
    )
    assert detail["sites"] == ["127.0.0.1", f"127.0.0.1:{social.port}"]
    assert detail["signed_in"] == {"selector": "[data-testid=account]"}
    for value in cookies.values():
        assert value not in shown.stdout + json.dumps(detail)
    listed = json.loads(profile_cli("ls", "--json", profiles=profiles, store=store).stdout)
    assert [(p["name"], p["status"]) for p in listed] == [("anna", "signed-in")]
    assert not store.exists()  # nothing of a profile goes near the evidence store


def test_a_cookies_txt_is_imported_with_httponly_and_expiry(social, tmp_path, profiles, store):
    cookies = social.sign_in()
    txt = tmp_path / "cookies.txt"
    txt.write_text(social.cookies_txt(cookies, expires=2_000_000_000))
    assert (
        profile_cli("import", "anna-txt", str(txt), profiles=profiles, store=store).returncode == 0
    )
    profile = open_profiles(folder=profiles).get("anna-txt")
    by_name = {c["name"]: c for c in profile.state["cookies"]}
    assert by_name["sid"]["httpOnly"] and not by_name["device"]["httpOnly"]
    assert by_name["sid"]["value"] == cookies["sid"]
    assert by_name["sid"]["expires"] == 2_000_000_000
    assert profile.account == "anna-txt"


def test_the_key_may_come_from_the_environment_and_a_wrong_key_is_one_clear_line(
    social, tmp_path, profiles, store
):
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(social.storage_state(social.sign_in())))
    key = Fernet.generate_key().decode()
    proc = profile_cli("import", "k", str(state_file), profiles=profiles, store=store,
                       LASTSEEN_PROFILE_KEY=key)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not (profiles / "profile.key").exists()
    other = Fernet.generate_key().decode()
    bad = profile_cli("show", "k", profiles=profiles, store=store, LASTSEEN_PROFILE_KEY=other)
    assert bad.returncode == 1
    assert "cannot be decrypted with this key" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"cookies": [{"name": "a"}]}', "lacks a name, value or domain"),
        ("example.org\tTRUE\t/\n", "not a cookies.txt line"),
        ("# Netscape HTTP Cookie File\n", "nothing to sign in with"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_written(tmp_path, profiles, store, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_text(content)
    proc = profile_cli("import", "x", str(bad), profiles=profiles, store=store)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not profiles.exists()


def test_a_bad_name_and_a_missing_profile_are_refused(tmp_path, profiles, store):
    assert (
        "a profile name is"
        in profile_cli(
            "import", "../x", str(tmp_path / "f.txt"), profiles=profiles, store=store
        ).stderr
    )
    assert profile_cli("show", "nobody", profiles=profiles, store=store).returncode == 2
    assert profile_cli("rm", "nobody", profiles=profiles, store=store).returncode == 2


def test_login_without_a_display_says_so_in_one_line(profiles, store):
    proc = profile_cli("login", "anna", "https://example.org/", profiles=profiles, store=store,
                       DISPLAY="")  # fmt: skip
    assert proc.returncode == 2
    assert "no display" in proc.stderr
    assert not profiles.exists()


def test_rm_deletes_the_profile(social, tmp_path, profiles, store):
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(social.storage_state(social.sign_in())))
    profile_cli("import", "gone", str(state_file), profiles=profiles, store=store)
    assert profile_cli("rm", "gone", profiles=profiles, store=store).returncode == 0
    assert json.loads(profile_cli("ls", "--json", profiles=profiles, store=store).stdout) == []


def test_with_postgresql_the_encrypted_profile_lives_in_the_catalog(
    social, tmp_path, profiles, store, pg_url
):
    cookies = social.sign_in()
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(social.storage_state(cookies)))
    key = Fernet.generate_key().decode()
    proc = invoke("profile", "import", "shared", str(state_file), store=store, db=pg_url,
                  LASTSEEN_PROFILES=str(profiles), LASTSEEN_PROFILE_KEY=key)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not profiles.exists()
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        (sealed,) = conn.execute(text("SELECT sealed FROM profiles WHERE name='shared'")).one()
    engine.dispose()
    assert cookies["sid"] not in sealed
    # Another worker with the same key (and no folder of its own) uses it.
    listed = invoke("profile", "ls", "--json", store=store, db=pg_url,
                    LASTSEEN_PROFILES=str(tmp_path / "elsewhere"), LASTSEEN_PROFILE_KEY=key)  # fmt: skip
    assert [p["name"] for p in json.loads(listed.stdout)] == ["shared"]


@pytest.fixture
def display() -> Iterator[str]:
    """A virtual screen (Xvfb) of our own, for the headed browser of `profile login`."""
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x900x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{number}").exists():
            break
        time.sleep(0.05)
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def test_login_opens_a_browser_window_and_saves_its_state_when_the_window_closes(
    site, display, profiles, store
):
    env = cli_env(store, LASTSEEN_PROFILES=str(profiles), DISPLAY=display)
    proc = subprocess.Popen(
        [LASTSEEN, "profile", "login", "ads", site.url("/ad/1"), "--account", "Ads visitor"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "close the browser window" in proc.stdout.readline()
        time.sleep(2)  # the page set its cookies; the state is read every second
        # The investigator closes the window: the browser the command started goes away.
        browsers = [
            child
            for child in psutil.Process(proc.pid).children(recursive=True)
            if "chrom" in child.name() and not any(a.startswith("--type=") for a in child.cmdline())
        ]
        assert browsers, "no headed browser was started"
        for browser in browsers:
            browser.terminate()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "profile ads (Ads visitor): 2 cookie(s) for 127.0.0.1" in out
    saved = open_profiles(folder=profiles).get("ads")
    assert {c["name"] for c in saved.state["cookies"]} == {"visitor", "lang"}
