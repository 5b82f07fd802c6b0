"""Shared fixtures: the fixture ad site, the real CLI, fresh stores and catalogs (SQLite, PG)."""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from demo.site import AdSite
from demo.social import SocialSite

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LASTSEEN = str(BIN / "lastseen")
PG_ADMIN_URL = os.environ.get("LASTSEEN_TEST_PG", "postgresql://root@127.0.0.1:5432/test")

# The S3 server (SeaweedFS); the PAdES signers (a test CA, a SoftHSM2 token), made once a session.
pytest_plugins = ["tests.s3_fixtures", "tests.pades_fixtures", "tests.fleet_fixtures"]


@pytest.fixture(scope="session")
def site() -> Iterator[AdSite]:
    """The ad site, served from the test process on a free loopback port."""
    server = AdSite(ads=3).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def social() -> Iterator[SocialSite]:
    """The stand-in social site (demo/social.py): sign in with ``social.sign_in()``."""
    server = SocialSite().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    """The ad site behind TLS with a self-signed certificate (loopback only): an ad's URL and
    the certificate (PEM)."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = AdSite(ads=1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.server.socket = ctx.wrap_socket(server.server.socket, server_side=True)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.port}/ad/1", cert.read_bytes()
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store folder that does not exist yet (lastseen must create it on first use)."""
    return tmp_path / "evidence"


def _pg_database() -> Iterator[str]:
    name = f"lastseen_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the machine's server."""
    yield from _pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, store: Path) -> Iterator[str | None]:
    """Run the test against both catalogs: SQLite in the store (None) and PostgreSQL."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _pg_database()


def cli_env(store: Path | None, db: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of every `lastseen` a test runs: none of the tester's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTSEEN_")}
    if store is not None:
        env["LASTSEEN_STORE"] = str(store)
    env["LASTSEEN_OPERATOR"] = "test-operator"
    if db:
        env["LASTSEEN_DB"] = db
    env.update(extra)
    return env


def run_cli(
    *args: str, store: Path, db: str | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``lastseen`` command as a user would, from a shell.

    For what needs a process of its own: a crawl (Scrapy's reactor runs once per process), exit
    codes of a real run, signals. Everything else goes through `invoke`, which is much cheaper.
    """
    return subprocess.run(
        [LASTSEEN, *args],
        env=cli_env(store, db, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=store.parent,
    )


def invoke(
    *args: str, store: Path | None = None, db: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``lastseen`` in this process (click's CliRunner), with the environment and working
    folder `run_cli` would give it; the result reads like `run_cli`'s. Without a store (verify,
    keys), no LASTSEEN_STORE and the test's own working folder."""
    from click.testing import CliRunner

    from crawler.cli import main

    wanted = cli_env(store, db, **env)
    # CliRunner only overlays variables: unset what the real process would not inherit.
    overlay: dict[str, str | None] = {k: None for k in os.environ if k not in wanted}
    overlay.update(wanted)
    with contextlib.chdir(store.parent if store is not None else os.getcwd()):
        result = CliRunner(env=overlay).invoke(main, list(args), prog_name="lastseen")
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))  # as Python would print
    return subprocess.CompletedProcess([LASTSEEN, *args], result.exit_code, result.stdout, stderr)
