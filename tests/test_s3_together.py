"""The S3 store under the other features: a case exported from S3 verifies, the service serves
WARCs that live only in S3 (the spooled copies are gone once the server confirmed them)."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

from tests.bundles import signer
from tests.conftest import invoke, run_cli
from tests.service_fixtures import start_service
from tests.test_store_cli import s3_env


def test_a_case_stored_in_s3_exports_and_verifies(seaweed, site, tmp_path):
    bucket = f"ev-exp-{time.monotonic_ns() % 10**9}"
    key = tmp_path / "keys" / "signing-key.pem"
    env = s3_env(seaweed.env(), bucket, tmp_path / "spool", LASTSEEN_SIGNING_KEY=str(key))
    store = tmp_path / "unused"
    assert invoke("store", "init", store=store, **env).returncode == 0
    assert invoke("keys", "init", store=store, **env).returncode == 0
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{site.url('/ad/1')}\n{site.url('/gone')}\n")
    proc = run_cli("crawl", str(seeds), "--case", "S3-EXP", "--json", store=store, **env)
    assert proc.returncode == 0, proc.stderr
    captures = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(captures) == 2
    assert all(c["warc"].startswith(f"s3://{bucket}/") for c in captures)
    assert list((tmp_path / "spool" / "warcs").rglob("*.warc.gz")) == [], "only S3 has them now"

    out = tmp_path / "S3-EXP.zip"
    proc = invoke("export", "--case", "S3-EXP", "--out", str(out), store=store, **env)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        for capture in captures:
            (warc,) = [
                n
                for n in names
                if n.startswith(f"captures/{capture['id']}/") and n.endswith(".warc.gz")
            ]
            assert hashlib.sha256(bundle.read(warc)).hexdigest() == capture["warc_sha256"]
    verified = invoke("verify", str(out), "--key", signer(key), store=store, **env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_service_serves_a_warc_that_lives_only_in_s3(seaweed, site, tmp_path):
    bucket = f"ev-svc-{time.monotonic_ns() % 10**9}"
    env = s3_env(seaweed.env(), bucket, tmp_path / "spool", LASTSEEN_ALLOW_PRIVATE="1")
    store = tmp_path / "unused"
    assert invoke("store", "init", store=store, **env).returncode == 0
    service = start_service(store, None, **env)
    try:
        report = service.report(site.url("/ad/2"), case="S3-SVC")
        done = service.wait(report["id"])
        assert done["status"] == "stored", done
        capture = done["capture"]
        # Its key in the store: the API does not show where the store keeps it (the bucket).
        assert capture["warc"].startswith("warcs/") and bucket not in capture["warc"]
        reply = service.get(f"/api/captures/{report['id']}/warc")
        assert reply.status == 200
        assert hashlib.sha256(reply.body).hexdigest() == capture["warc_sha256"]
        shot = service.get(f"/api/captures/{report['id']}/screenshot")
        assert shot.status == 200 and shot.body.startswith(b"\x89PNG")
        assert hashlib.sha256(shot.body).hexdigest() == capture["screenshot_sha256"]
    finally:
        service.stop()
    assert list(Path(tmp_path / "spool" / "warcs").rglob("*.warc.gz")) == []
