"""compose.yaml is a valid Compose file for a fleet (checked by Debian's docker-compose, which
needs no daemon): PostgreSQL, an S3 server, the service, a scheduler and scalable workers."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

SECRETS = {"PG_PASSWORD": "pg-secret", "S3_SECRET": "s3-secret", "LASTSEEN_API_TOKEN": "a:b"}


def config(**env: str) -> subprocess.CompletedProcess[str]:
    compose = shutil.which("docker-compose")
    assert compose is not None, "make setup installs Debian's docker-compose"
    return subprocess.run(
        [compose, "-f", str(ROOT / "compose.yaml"), "config"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def services() -> dict:
    done = config(**SECRETS)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["services"]


def test_the_fleet_is_all_there(services: dict):
    assert {"postgres", "s3", "bucket", "service", "scheduler", "worker"} <= set(services)
    assert services["worker"]["command"] == ["worker"]
    assert services["scheduler"]["command"][0] == "scheduler"


def test_workers_can_be_scaled_and_share_one_catalog_and_store(services: dict):
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    for name in ("worker", "scheduler", "service"):
        env = services[name]["environment"]
        assert env["LASTSEEN_DB"] == "postgresql://lastseen:pg-secret@postgres:5432/lastseen"
        assert env["LASTSEEN_STORE"].startswith("s3://")
        assert env["AWS_ENDPOINT_URL"] == "http://s3:8333"
    assert services["service"]["environment"]["LASTSEEN_API_TOKEN"] == "a:b"
    conditions = {k: v["condition"] for k, v in worker["depends_on"].items()}
    assert conditions == {
        "postgres": "service_healthy",
        "bucket": "service_completed_successfully",
    }


def test_a_missing_secret_is_named_and_nothing_is_started():
    done = config(S3_SECRET="s3-secret", LASTSEEN_API_TOKEN="a:b")
    assert done.returncode != 0
    assert "set PG_PASSWORD" in done.stderr
