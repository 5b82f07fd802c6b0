"""The S3 store from a shell: `lastseen store init|sync|verify`, `lastseen hold`, and crawls
into SeaweedFS with the real browser, including a store that is down or hangs."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import invoke, run_cli
from tests.s3_fixtures import HangingServer, SeaweedFS

PAGES = ["/ad/1", "/ad/2", "/gone"]


def s3_env(endpoint_env: dict[str, str], bucket: str, spool: Path, **extra: str) -> dict[str, str]:
    return {
        **endpoint_env,
        "LASTSEEN_STORE": f"s3://{bucket}/lastseen",
        "LASTSEEN_SPOOL": str(spool),
        "LASTSEEN_RETENTION": "1d",
        "LASTSEEN_STORE_TIMEOUT": "5",
        **extra,
    }


def cli(tmp_path: Path, db: str | None, env: dict[str, str], *args: str) -> Any:
    """`lastseen ARGS` in this process: the store commands need no process of their own."""
    return invoke(*args, store=tmp_path / "unused", db=db, **env)


def cli_process(tmp_path: Path, db: str | None, env: dict[str, str], *args: str) -> Any:
    """`lastseen ARGS` as its own process: a capture or crawl (Scrapy runs once per process)."""
    return run_cli(*args, store=tmp_path / "unused", db=db, timeout=240, **env)


def seeds_file(tmp_path: Path, site: Any) -> Path:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(site.url(p) for p in PAGES) + "\n")
    return seeds


def test_a_capture_goes_to_a_locked_bucket_and_can_be_held_and_verified(
    seaweed, site, tmp_path, db_url
):
    bucket = f"ev-cli-{time.monotonic_ns() % 10**9}"
    env = s3_env(seaweed.env(), bucket, tmp_path / "spool")

    init = cli(tmp_path, db_url, env, "store", "init")
    assert init.returncode == 0, init.stderr
    assert f"bucket {bucket} created with Object Lock" in init.stdout
    assert "locked COMPLIANCE for 1 days" in init.stdout
    again = cli(tmp_path, db_url, env, "store", "init")
    assert again.returncode == 0 and "exists: checking it" in again.stdout

    proc = cli_process(
        tmp_path, db_url, env, "capture", site.url("/ad/3"), "--json", "--case", "S3-CLI"
    )
    assert proc.returncode == 0, proc.stderr
    capture = json.loads(proc.stdout)
    assert capture["warc"].startswith(f"s3://{bucket}/lastseen/warcs/")
    key = capture["warc"].removeprefix(f"s3://{bucket}/")
    head = seaweed.client().head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == capture["warc_sha256"]
    assert head["ObjectLockMode"] == "COMPLIANCE"
    body = seaweed.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == capture["warc_sha256"]
    assert list((tmp_path / "spool" / "warcs").rglob("*.warc.gz")) == []

    listed = cli(tmp_path, db_url, env, "ls", "--json")
    assert json.loads(listed.stdout)["warc"] == capture["warc"]
    shown = json.loads(cli(tmp_path, db_url, env, "show", str(capture["id"]), "--json").stdout)
    (obj,) = shown["objects"]
    assert obj["state"] == "stored" and obj["uri"] == capture["warc"]
    assert obj["version_id"] == head["VersionId"] and obj["legal_hold"] is False
    assert [e["action"] for e in shown["custody"]] == ["capture", "upload"]

    held = cli(tmp_path, db_url, env, "hold", str(capture["id"]))
    assert held.returncode == 0, held.stderr
    assert f"held     #{capture['id']} {capture['warc']}" in held.stdout
    hold = seaweed.client().get_object_legal_hold(
        Bucket=bucket, Key=key, VersionId=head["VersionId"]
    )
    assert hold["LegalHold"]["Status"] == "ON"
    text = cli(tmp_path, db_url, env, "show", str(capture["id"])).stdout
    assert "locked COMPLIANCE until" in text and "legal hold" in text and " hold by " in text

    verified = cli(tmp_path, db_url, env, "store", "verify", "--case", "S3-CLI")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 object(s) checked: 1 ok" in verified.stderr

    # Someone writes over lastseen's key behind its back: verify says so, and exits 1.
    seaweed.client().put_object(Bucket=bucket, Key=key, Body=b"WARC/1.1 forged")
    tampered = cli(tmp_path, db_url, env, "store", "verify")
    assert tampered.returncode == 1
    assert f"overwritten #{capture['id']} {capture['warc']}: version" in tampered.stdout
    assert "1 overwritten" in tampered.stderr
    report = json.loads(cli(tmp_path, db_url, env, "store", "verify", "--json").stdout)
    assert report["ok"] is False and report["counts"]["overwritten"] == 1
    log = json.loads(cli(tmp_path, db_url, env, "show", str(capture["id"]), "--json").stdout)
    assert [e["action"] for e in log["custody"]] == ["capture", "upload", "hold"]


def test_store_init_says_what_an_existing_bucket_lacks(seaweed, tmp_path):
    bucket = seaweed.new_bucket(lock=False)
    env = s3_env(seaweed.env(), bucket, tmp_path / "spool")
    proc = cli(tmp_path, None, env, "store", "init")
    assert proc.returncode == 1
    assert f"versioning is not enabled on bucket {bucket}" in proc.stderr
    assert f"Object Lock is not enabled on bucket {bucket}" in proc.stderr
    assert f"bucket {bucket} is not ready to keep evidence" in proc.stderr


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["store", "verify"], {"LASTSEEN_STORE": "evidence-folder"}, "needs an S3 store"),
        (["store", "init"], {"LASTSEEN_STORE": "s3://Bad_Bucket"}, "not a valid bucket name"),
        (["hold"], {}, "give a capture ID or --case"),
        (["capture", "http://127.0.0.1:9/x"], {"LASTSEEN_RETENTION": "ten years"}, "RETENTION"),
        (["capture", "http://127.0.0.1:9/x"], {"LASTSEEN_LOCK_MODE": "soft"}, "LOCK_MODE"),
        (["ls"], {"LASTSEEN_STORE_TIMEOUT": "never"}, "LASTSEEN_STORE_TIMEOUT"),
    ],
)
def test_bad_store_settings_exit_2_with_one_line_and_write_nothing(
    seaweed, tmp_path, args, extra, message
):
    env = s3_env(seaweed.env(), "evidence", tmp_path / "spool", **extra)
    proc = cli(tmp_path, None, env, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "spool").exists()


def test_s3_down_during_a_crawl_loses_nothing(site, tmp_path, db_url):
    server = SeaweedFS(tmp_path / "seaweedfs").start()
    try:
        bucket = "outage"
        env = s3_env(server.env(), bucket, tmp_path / "spool")
        assert cli(tmp_path, db_url, env, "store", "init").returncode == 0
        server.stop()

        proc = cli_process(
            tmp_path, db_url, env, "crawl", str(seeds_file(tmp_path, site)), "--json"
        )
        assert proc.returncode == 0, proc.stderr
        captures = [json.loads(line) for line in proc.stdout.splitlines()]
        assert len(captures) == len(PAGES)
        for capture in captures:  # sealed in the spool, the WARC readable there
            assert capture["warc"].startswith(str(tmp_path / "spool" / "warcs"))
            data = Path(capture["warc"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == capture["warc_sha256"]
        shown = json.loads(cli(tmp_path, db_url, env, "show", "1", "--json").stdout)
        assert shown["objects"][0]["state"] == "spooled"
        waiting = cli(tmp_path, db_url, env, "store", "verify")  # checks the spooled copies
        assert f"{len(PAGES)} object(s) checked: {len(PAGES)} spooled" in waiting.stderr

        server.start()
        synced = cli(tmp_path, db_url, env, "store", "sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert f"{len(PAGES)} uploaded, 0 still spooled" in synced.stderr
        assert list((tmp_path / "spool" / "warcs").rglob("*.warc.gz")) == []

        listed = [
            json.loads(line)
            for line in cli(tmp_path, db_url, env, "ls", "--json").stdout.splitlines()
        ]
        assert sorted(c["warc_sha256"] for c in listed) == sorted(
            c["warc_sha256"] for c in captures
        )
        client = server.client()
        for capture in listed:
            assert capture["warc"].startswith(f"s3://{bucket}/lastseen/warcs/")
            key = capture["warc"].removeprefix(f"s3://{bucket}/")
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == capture["warc_sha256"]

        verified = cli(tmp_path, db_url, env, "store", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"{len(PAGES)} object(s) checked: {len(PAGES)} ok" in verified.stderr
    finally:
        server.stop()


def test_a_hanging_store_does_not_hang_the_crawl(site, tmp_path):
    with HangingServer() as hanging:
        endpoint_env = {
            "AWS_ENDPOINT_URL": hanging.endpoint,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
        env = s3_env(endpoint_env, "evidence", tmp_path / "spool", LASTSEEN_STORE_TIMEOUT="2")
        started = time.monotonic()
        proc = cli_process(tmp_path, None, env, "crawl", str(seeds_file(tmp_path, site)), "--json")
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        captures = [json.loads(line) for line in proc.stdout.splitlines()]
        assert len(captures) == len(PAGES)
        assert all(Path(c["warc"]).is_file() for c in captures)
        assert hanging.accepted, "lastseen never tried the store"
        # Bounded attempts (2 s read timeout, one retry), each recorded; the crawl went on.
        for capture in captures:
            proc = cli(tmp_path, None, env, "show", str(capture["id"]), "--json")
            shown = json.loads(proc.stdout)
            assert shown["objects"][0]["state"] == "spooled"
            for entry in shown["custody"]:
                if entry["action"] == "upload-failed":
                    assert "unreachable" in entry["details"]["error"]
                    assert "Read timeout" in entry["details"]["error"]
        assert elapsed < 60

        started = time.monotonic()
        synced = cli(tmp_path, None, env, "store", "sync")
        assert synced.returncode == 1
        assert f"0 uploaded, {len(PAGES)} still spooled" in synced.stderr
        assert "unreachable" in synced.stdout
        assert time.monotonic() - started < 30
