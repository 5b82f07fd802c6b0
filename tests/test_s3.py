"""archive/s3.py against a real S3 server (SeaweedFS): checksums, Object Lock, multipart, holds."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from archive.exceptions import ChecksumRejected, ConfigError, StoreError
from archive.store.s3 import LockPolicy, S3Store, b64_sha256, composite_checksum

POLICY = LockPolicy(mode="COMPLIANCE", days=1)


def sealed_file(tmp_path: Path, size: int, name: str = "evidence.warc.gz") -> tuple[Path, str]:
    path = tmp_path / name
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def test_an_upload_carries_its_sha256_and_the_server_confirms_it(seaweed, aws_env, tmp_path):
    bucket = seaweed.new_bucket()
    store = S3Store(bucket, "cases/x")
    path, sha = sealed_file(tmp_path, 100_000)
    key = store.key("warcs/2026/11/29/a.warc.gz")
    assert key == "cases/x/warcs/2026/11/29/a.warc.gz"

    version = store.put(path, key, sha256=sha, size=100_000, policy=POLICY)

    assert version.checksum == b64_sha256(sha)
    head = seaweed.client().head_object(
        Bucket=bucket, Key=key, VersionId=version.version_id, ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == b64_sha256(sha)
    assert head["Metadata"]["sha256"] == sha
    assert head["ContentLength"] == 100_000
    with store.open(key, version.version_id) as body:
        assert hashlib.sha256(body.read()).hexdigest() == sha


def test_each_version_is_locked_and_the_server_refuses_to_delete_or_shorten_it(
    seaweed, aws_env, tmp_path
):
    bucket = seaweed.new_bucket()
    store = S3Store(bucket)
    path, sha = sealed_file(tmp_path, 5000)
    before = datetime.now(UTC)
    version = store.put(path, "a.warc.gz", sha256=sha, size=5000, policy=POLICY)
    client = seaweed.client()

    head = client.head_object(Bucket=bucket, Key="a.warc.gz", VersionId=version.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"].astimezone(UTC)
    assert before + timedelta(days=1) - timedelta(seconds=2) <= until
    assert until <= datetime.now(UTC) + timedelta(days=1)
    assert version.retain_until == until

    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key="a.warc.gz", VersionId=version.version_id)
    assert error_code(refused.value) == "AccessDenied"
    with pytest.raises(ClientError):
        client.put_object_retention(
            Bucket=bucket,
            Key="a.warc.gz",
            VersionId=version.version_id,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=1)},
        )
    # The version is still there, byte for byte.
    body = client.get_object(Bucket=bucket, Key="a.warc.gz", VersionId=version.version_id)
    assert hashlib.sha256(body["Body"].read()).hexdigest() == sha


def test_lastseen_never_writes_a_second_version_over_its_own_key(seaweed, aws_env, tmp_path):
    bucket = seaweed.new_bucket()
    store = S3Store(bucket)
    path, sha = sealed_file(tmp_path, 5000)
    first = store.put(path, "a.warc.gz", sha256=sha, size=5000, policy=POLICY)

    # The same file again (an attempt whose answer was lost): the stored version is adopted.
    again = store.put(path, "a.warc.gz", sha256=sha, size=5000, policy=POLICY)
    assert again.version_id == first.version_id
    # Different bytes under that key: refused, nothing written.
    other, other_sha = sealed_file(tmp_path, 5000, "other.warc.gz")
    with pytest.raises(StoreError, match="already holds a different object"):
        store.put(other, "a.warc.gz", sha256=other_sha, size=5000, policy=POLICY)
    assert [v.version_id for v in store.versions("a.warc.gz")] == [first.version_id]


def test_an_object_that_only_claims_our_sha256_in_its_metadata_is_not_adopted(
    seaweed, aws_env, tmp_path
):
    """Anyone with write access can put ``sha256`` metadata on an object; the server's own
    checksum decides whether the object under our key is the file we sealed."""
    bucket = seaweed.new_bucket()
    store = S3Store(bucket)
    path, sha = sealed_file(tmp_path, 5000)
    seaweed.client().put_object(
        Bucket=bucket,
        Key="a.warc.gz",
        Body=b"x" * 5000,
        Metadata={"sha256": sha},
        ChecksumAlgorithm="SHA256",
    )
    with pytest.raises(StoreError, match="checksum is not the SHA-256 sealed here"):
        store.put(path, "a.warc.gz", sha256=sha, size=5000, policy=POLICY)
    assert len(store.versions("a.warc.gz")) == 1


def test_a_corrupted_upload_is_rejected_by_the_server(seaweed, aws_env, tmp_path):
    bucket = seaweed.new_bucket()
    store = S3Store(bucket)
    path, sha = sealed_file(tmp_path, 5000)
    # The bytes on disk are no longer those hashed when the file was sealed.
    wrong = hashlib.sha256(b"what was sealed").hexdigest()
    with pytest.raises(ChecksumRejected, match="do not match their SHA-256"):
        store.put(path, "a.warc.gz", sha256=wrong, size=5000, policy=POLICY)
    assert store.head("a.warc.gz") is None
    assert store.versions("a.warc.gz") == []


def test_large_files_go_up_in_parts_each_with_its_own_checksum(seaweed, aws_env, tmp_path):
    bucket = seaweed.new_bucket()
    part = 5 * 1024 * 1024
    store = S3Store(bucket, multipart_threshold=part, part_size=part)
    size = 2 * part + 123_456
    path, sha = sealed_file(tmp_path, size)

    version = store.put(path, "big.warc.gz", sha256=sha, size=size, policy=POLICY)

    data = path.read_bytes()
    digests = [hashlib.sha256(data[i : i + part]).digest() for i in range(0, size, part)]
    assert version.checksum == composite_checksum(digests)
    assert version.checksum.endswith("-3") and version.part_size == part
    head = seaweed.client().head_object(
        Bucket=bucket, Key="big.warc.gz", VersionId=version.version_id, ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == version.checksum
    assert head["Metadata"]["sha256"] == sha
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_a_multipart_file_that_changed_since_it_was_sealed_is_not_stored(
    seaweed, aws_env, tmp_path
):
    bucket = seaweed.new_bucket()
    part = 5 * 1024 * 1024
    store = S3Store(bucket, multipart_threshold=part, part_size=part)
    path, _ = sealed_file(tmp_path, part + 1000)
    wrong = hashlib.sha256(b"what was sealed").hexdigest()
    with pytest.raises(ChecksumRejected, match="no longer matches"):
        store.put(path, "big.warc.gz", sha256=wrong, size=part + 1000, policy=POLICY)
    assert store.head("big.warc.gz") is None
    uploads = seaweed.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u for u in uploads if u["Key"] == "big.warc.gz"] == []


def test_a_legal_hold_is_set_on_the_version(seaweed, aws_env, tmp_path):
    bucket = seaweed.new_bucket()
    store = S3Store(bucket)
    path, sha = sealed_file(tmp_path, 1000)
    version = store.put(path, "a.warc.gz", sha256=sha, size=1000, policy=POLICY)
    assert store.head("a.warc.gz", version.version_id).legal_hold is False

    store.set_legal_hold("a.warc.gz", version.version_id)

    hold = seaweed.client().get_object_legal_hold(
        Bucket=bucket, Key="a.warc.gz", VersionId=version.version_id
    )
    assert hold["LegalHold"]["Status"] == "ON"


def test_reading_a_range_returns_exactly_those_bytes(seaweed, aws_env, tmp_path):
    bucket = seaweed.new_bucket()
    store = S3Store(bucket)
    path, sha = sealed_file(tmp_path, 10_000)
    version = store.put(path, "a.warc.gz", sha256=sha, size=10_000, policy=POLICY)
    assert (
        store.read_range("a.warc.gz", version.version_id, 1234, 100)
        == (path.read_bytes()[1234:1334])
    )


def test_bucket_checks_say_what_a_plain_bucket_lacks(seaweed, aws_env):
    plain = S3Store(seaweed.new_bucket(lock=False))
    problems = plain.bucket_problems()
    assert any("versioning is not enabled" in p for p in problems)
    assert any("Object Lock is not enabled" in p for p in problems)
    assert S3Store(seaweed.new_bucket()).bucket_problems() == []


@pytest.mark.parametrize(
    ("retention", "mode", "message"),
    [
        ("10y", None, "LASTSEEN_RETENTION must be a number of days"),
        ("0d", None, "LASTSEEN_RETENTION"),
        ("30d", "strict", "LASTSEEN_LOCK_MODE must be COMPLIANCE or GOVERNANCE"),
    ],
)
def test_lock_settings_are_checked(retention, mode, message):
    with pytest.raises(ConfigError, match=message):
        LockPolicy.parse(retention, mode)


def test_lock_settings_default_to_ten_years_compliance():
    assert LockPolicy.parse(None, None) == LockPolicy("COMPLIANCE", 3650)
    assert LockPolicy.parse("30d", "governance") == LockPolicy("GOVERNANCE", 30)


def test_an_unreachable_store_fails_fast_with_a_clear_error(tmp_path, monkeypatch):
    import socket

    from archive.exceptions import StoreUnreachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    path, sha = sealed_file(tmp_path, 100)
    with pytest.raises(StoreUnreachable, match="object store unreachable"):
        S3Store("evidence", timeout=2).put(path, "a", sha256=sha, size=100, policy=POLICY)
