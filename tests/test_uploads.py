"""Sealing into the spool and uploading to S3 (archive/uploads.py, archive/storeverify.py).

In-process, without a browser: captures are made by hand; the S3 server (SeaweedFS) and both
catalogs (SQLite, PostgreSQL) are real.
"""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from archive import Archive, ArchiveConfig
from archive.catalog.custody import entries
from archive.chain import verify_chain
from archive.store.check import verify_objects
from archive.store.objects import SPOOLED, STORED, StoredObject
from archive.store.s3 import b64_sha256
from demo.site import png
from tests.s3_fixtures import sample_capture


def open_archive(bucket: str, tmp_path: Path, db_url: str | None) -> Archive:
    config = ArchiveConfig(
        store=f"s3://{bucket}/lastseen",
        db=db_url,
        operator="test-operator",
        spool=str(tmp_path / "spool"),
        retention="1d",
        store_timeout=5,
    )
    return Archive.open(config)


@pytest.fixture
def dead_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at a loopback port where nothing listens: S3 is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}"


def objects_of(archive: Archive) -> list[StoredObject]:
    with archive.catalog.session() as s:
        return list(s.query(StoredObject).order_by(StoredObject.id))


def test_a_capture_counts_as_stored_once_the_server_confirmed_its_checksum(
    seaweed, aws_env, tmp_path, db_url
):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    row = archive.seal(sample_capture())

    (obj,) = objects_of(archive)
    assert obj.state == STORED and obj.capture_id == row.id and obj.kind == "warc"
    assert obj.key == f"lastseen/{row.warc_name}"
    assert row.warc_location == f"s3://{bucket}/lastseen/{row.warc_name}" == obj.uri
    assert obj.sha256 == row.warc_sha256 and obj.server_checksum == b64_sha256(row.warc_sha256)
    assert obj.lock_mode == "COMPLIANCE" and obj.retain_until > datetime.now(UTC)
    assert obj.version_id and obj.attempts == 1 and obj.last_error is None
    # The spooled copy is gone only because the upload was confirmed.
    assert not (tmp_path / "spool" / row.warc_name).exists()
    head = seaweed.client().head_object(
        Bucket=bucket, Key=obj.key, VersionId=obj.version_id, ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == obj.server_checksum
    assert head["Metadata"] == {"sha256": row.warc_sha256, "kind": "warc", "capture-id": "1"}

    log = entries(archive.catalog, [row.id])
    assert [e.action for e in log] == ["capture", "upload"]
    assert log[1].details["version_id"] == obj.version_id
    assert log[1].details["sha256"] == row.warc_sha256
    assert verify_chain(entries(archive.catalog)) == []

    # Records are read back from the very version lastseen stored.
    assert archive.read_record(row, "screenshot") == png(64, 48, (200, 30, 30))
    assert b"Room for rent" in archive.read_record(row, "main")
    with archive.open_file(row.warc_name) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == row.warc_sha256
    archive.close()


def test_captures_stay_spooled_while_s3_is_down_and_retries_outlive_the_process(
    seaweed, aws_env, dead_endpoint, tmp_path, db_url, monkeypatch
):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    first = archive.seal(sample_capture("http://ads.example/ad/1"))
    second = archive.seal(sample_capture("http://ads.example/ad/2"))

    # Both sealed, both waiting in the spool, both readable from there.
    for row in (first, second):
        assert row.warc_location == str(tmp_path / "spool" / row.warc_name)
        assert Path(row.warc_location).is_file()
    assert b"Room for rent" in archive.read_record(second, "main")
    one, two = objects_of(archive)
    assert one.state == two.state == SPOOLED
    assert one.attempts == 1 and "unreachable" in one.last_error
    assert one.next_attempt_at > datetime.now(UTC)  # backoff
    # Once unreachable, the store is left alone for a while: no timeout per capture.
    assert two.attempts == 0 and two.next_attempt_at is None
    failures = [e for e in entries(archive.catalog) if e.action == "upload-failed"]
    assert [e.capture_id for e in failures] == [first.id]
    archive.close()

    # A new process, S3 back: what is due goes up, what is backing off waits, sync pushes all.
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    archive = open_archive(bucket, tmp_path, db_url)
    assert archive.uploads is not None
    pushed = archive.uploads.push_due()
    assert [(o.capture_id, o.stored) for o in pushed] == [(second.id, True)]
    assert [o.state for o in objects_of(archive)] == [SPOOLED, STORED]
    synced = archive.uploads.sync()
    assert [(o.capture_id, o.stored) for o in synced] == [(first.id, True)]
    assert [o.state for o in objects_of(archive)] == [STORED, STORED]
    assert list((tmp_path / "spool" / "warcs").rglob("*.warc.gz")) == []
    assert archive.catalog.get(first.id).warc_location.startswith(f"s3://{bucket}/")

    report = verify_objects(archive.catalog, archive.remote, archive.store)
    assert report.ok and report.counts()["ok"] == 2
    archive.close()


def test_a_hold_on_a_spooled_capture_goes_up_with_it(
    seaweed, aws_env, dead_endpoint, tmp_path, db_url, monkeypatch
):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    row = archive.seal(sample_capture(case="HOLD-1"))
    assert archive.uploads is not None
    (result,) = archive.uploads.hold(case_id="HOLD-1")
    assert result.applied is False and result.error is None
    archive.close()

    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    archive = open_archive(bucket, tmp_path, db_url)
    assert archive.uploads is not None
    assert [o.stored for o in archive.uploads.sync()] == [True]
    (obj,) = objects_of(archive)
    assert obj.legal_hold is True
    hold = seaweed.client().get_object_legal_hold(
        Bucket=bucket, Key=obj.key, VersionId=obj.version_id
    )
    assert hold["LegalHold"]["Status"] == "ON"
    actions = [e.action for e in entries(archive.catalog, [row.id])]
    assert actions == ["capture", "upload-failed", "hold", "upload"]
    archive.close()


def test_a_spooled_file_corrupted_on_disk_is_refused_by_the_server(
    seaweed, aws_env, dead_endpoint, tmp_path, db_url, monkeypatch
):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    row = archive.seal(sample_capture())
    spooled = Path(row.warc_location)
    data = bytearray(spooled.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit flipped after the file was sealed
    os.chmod(spooled, 0o644)
    spooled.write_bytes(bytes(data))
    archive.close()

    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    archive = open_archive(bucket, tmp_path, db_url)
    assert archive.uploads is not None
    (outcome,) = archive.uploads.sync()
    assert outcome.stored is False and "do not match their SHA-256" in outcome.error
    (obj,) = objects_of(archive)
    assert obj.state == SPOOLED and spooled.exists()  # kept, for whoever investigates
    assert seaweed.client().list_object_versions(Bucket=bucket).get("Versions", []) == []
    report = verify_objects(archive.catalog, archive.remote, archive.store)
    assert not report.ok and report.checks[0].status == "mismatch"
    archive.close()


def test_verify_finds_a_version_written_behind_lastseens_back(seaweed, aws_env, tmp_path, db_url):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    row = archive.seal(sample_capture())
    assert verify_objects(archive.catalog, archive.remote, archive.store).ok
    (obj,) = objects_of(archive)

    seaweed.client().put_object(Bucket=bucket, Key=obj.key, Body=b"a forged WARC")

    report = verify_objects(archive.catalog, archive.remote, archive.store)
    assert not report.ok
    (check,) = report.checks
    assert check.status == "overwritten" and check.capture_id == row.id
    assert "now the latest" in check.problems[0]
    # lastseen still reads its own version, not the forgery.
    assert b"Room for rent" in archive.read_record(row, "main")
    archive.close()


def test_verify_reports_a_missing_version_and_a_missing_spooled_copy(
    seaweed, aws_env, tmp_path, db_url, dead_endpoint, monkeypatch
):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    spooled_row = archive.seal(sample_capture("http://ads.example/ad/1"))
    archive.close()
    Path(spooled_row.warc_location).unlink()
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    archive = open_archive(bucket, tmp_path, db_url)
    stored_row = archive.seal(sample_capture("http://ads.example/ad/2"))
    with archive.catalog.session() as s:
        s.execute(
            update(StoredObject)
            .where(StoredObject.capture_id == stored_row.id)
            .values(version_id="0000000000000000000000000000dead")
        )

    report = verify_objects(archive.catalog, archive.remote, archive.store)

    statuses = {c.capture_id: c.status for c in report.checks}
    assert statuses == {spooled_row.id: "missing", stored_row.id: "missing"}
    assert report.counts()["missing"] == 2 and not report.ok
    archive.close()


def test_other_evidence_files_go_up_the_same_way(seaweed, aws_env, tmp_path, db_url):
    bucket = seaweed.new_bucket()
    archive = open_archive(bucket, tmp_path, db_url)
    pending = archive.store.write("bundles/CASE-1/bundle.zip")
    with pending as out:
        out.write(b"PK\x03\x04 a court bundle")
    assert pending.sealed is not None

    obj = archive.keep(pending.sealed, kind="bundle", case_id="CASE-1")

    assert obj is not None and obj.state == STORED and obj.kind == "bundle"
    assert obj.uri == f"s3://{bucket}/lastseen/bundles/CASE-1/bundle.zip"
    with archive.open_file("bundles/CASE-1/bundle.zip") as fh:
        assert fh.read() == b"PK\x03\x04 a court bundle"
    archive.close()


def test_machines_sharing_a_catalog_each_push_only_their_own_spool(
    seaweed, aws_env, dead_endpoint, tmp_path, pg_url, monkeypatch
):
    bucket = seaweed.new_bucket()
    crawler_a = open_archive(bucket, tmp_path / "a", pg_url)
    row = crawler_a.seal(sample_capture())
    crawler_a.close()

    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    crawler_b = open_archive(bucket, tmp_path / "b", pg_url)
    assert crawler_b.uploads is not None
    assert crawler_b.uploads.sync() == [] and crawler_b.uploads.push_due() == []
    (check,) = verify_objects(crawler_b.catalog, crawler_b.remote, crawler_b.store).checks
    assert check.status == "spooled" and check.problems == []  # not B's to check
    crawler_b.close()

    crawler_a = open_archive(bucket, tmp_path / "a", pg_url)
    assert crawler_a.uploads is not None
    assert [(o.capture_id, o.stored) for o in crawler_a.uploads.sync()] == [(row.id, True)]
    crawler_a.close()
