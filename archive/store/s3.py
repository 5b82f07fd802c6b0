"""Evidence in S3-compatible object storage under Object Lock (AWS S3, MinIO, Ceph RGW, SeaweedFS).

Every object goes up with the SHA-256 taken while its file was written (``x-amz-checksum-sha256``),
so the server refuses bytes that differ from what was sealed; a large file goes up in parts, each
with its own SHA-256. An upload never replaces an object (it is conditional: ``If-None-Match: *``),
and each version carries an Object Lock retention date and, on request, a legal hold.

Endpoint, region and credentials come from boto3's usual sources (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``~/.aws/config`` ...), so lastseen adds no settings of its
own for them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from archive.exceptions import ChecksumRejected, ConfigError, StoreError, StoreUnreachable
from archive.times import utc_now

DEFAULT_TIMEOUT = 20.0  # seconds; a store that hangs must not hang a crawl
MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024  # S3's minimum is 5 MiB (all parts but the last)
LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
DEFAULT_RETENTION = "3650d"
DEFAULT_LOCK_MODE = "COMPLIANCE"

# What S3 servers answer when the bytes they received do not match the checksum sent with them.
_CHECKSUM_ERRORS = {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"}
_NOT_FOUND = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    BotoConnectionError,
)


@dataclass(frozen=True)
class LockPolicy:
    """How long each object version is locked, and how strictly."""

    mode: str = DEFAULT_LOCK_MODE
    days: int = 3650

    @classmethod
    def parse(cls, retention: str | None, mode: str | None) -> LockPolicy:
        retention = (retention or DEFAULT_RETENTION).strip()
        match = re.fullmatch(r"(\d+)d", retention)
        if not match or int(match.group(1)) < 1:
            raise ConfigError(
                f"LASTSEEN_RETENTION must be a number of days such as 3650d, not {retention!r}"
            )
        mode = (mode or DEFAULT_LOCK_MODE).strip().upper()
        if mode not in LOCK_MODES:
            raise ConfigError(f"LASTSEEN_LOCK_MODE must be COMPLIANCE or GOVERNANCE, not {mode!r}")
        return cls(mode=mode, days=int(match.group(1)))

    def retain_until(self, now: datetime | None = None) -> datetime:
        # Whole seconds: what S3 keeps and returns, so the catalog and the server agree exactly.
        start = (now or utc_now()).astimezone(UTC)
        return (start + timedelta(days=self.days)).replace(microsecond=0)


def b64_sha256(hexdigest: str) -> str:
    """The SHA-256 as S3 writes it in ``x-amz-checksum-sha256``: base64 of the raw digest."""
    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


def composite_checksum(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: SHA-256 of the parts' digests, then ``-<parts>``."""
    joined = hashlib.sha256(b"".join(part_digests)).digest()
    return base64.b64encode(joined).decode("ascii") + f"-{len(part_digests)}"


@dataclass(frozen=True)
class StoredVersion:
    """One object version the server confirmed, as the catalog records it."""

    key: str
    version_id: str
    checksum: str  # x-amz-checksum-sha256 as confirmed by the server
    size: int
    part_size: int | None  # set when uploaded in parts: needed to recompute the checksum
    lock_mode: str | None
    retain_until: datetime | None
    legal_hold: bool


@dataclass(frozen=True)
class ObjectInfo:
    """What the server says about one object version (HEAD)."""

    version_id: str | None
    size: int
    checksum: str | None
    metadata: dict[str, str]
    lock_mode: str | None
    retain_until: datetime | None
    legal_hold: bool
    last_modified: datetime | None


@dataclass(frozen=True)
class VersionEntry:
    version_id: str
    is_latest: bool
    last_modified: datetime | None
    delete_marker: bool


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


class S3Store:
    """A bucket (and key prefix) holding evidence files under Object Lock."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise ConfigError(
                f"{bucket!r} is not a valid bucket name (3 to 63 characters: a-z, 0-9, '.', '-')"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.timeout = timeout
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_uri(cls, uri: str, timeout: float = DEFAULT_TIMEOUT) -> S3Store:
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"an S3 store is named s3://BUCKET/PREFIX, not {uri!r}")
        return cls(parts.netloc, parts.path, timeout=timeout)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, name: str) -> str:
        """The object key of a file of the store layout (``warcs/2026/11/29/...``)."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                config = Config(
                    connect_timeout=min(5.0, self.timeout),
                    read_timeout=self.timeout,
                    # One quick retry for a dropped connection or a 503; lastseen's own retries
                    # (with backoff, across restarts) handle longer outages.
                    retries={"max_attempts": 2, "mode": "standard"},
                )
                try:
                    self._client = boto3.session.Session().client("s3", config=config)
                except BotoCoreError as exc:
                    raise StoreError(f"cannot set up the S3 client: {exc}") from exc
            return self._client

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn boto's exceptions into ours, each with one line a user can act on."""
        where = self.location(key) if key else self.uri
        try:
            yield
        except _UNREACHABLE as exc:
            raise StoreUnreachable(f"object store unreachable ({action} {where}): {exc}") from exc
        except NoCredentialsError as exc:
            raise StoreError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            ) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = error.get("Message") or code
            if code in _CHECKSUM_ERRORS:
                raise ChecksumRejected(
                    f"the server refused {where}: its bytes do not match their SHA-256 ({code})"
                ) from exc
            raise StoreError(f"{action} {where} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"{action} {where} failed: {exc}") from exc

    # --- writing ----------------------------------------------------------------------------

    def put(
        self,
        path: Path,
        key: str,
        *,
        sha256: str,
        size: int,
        policy: LockPolicy,
        legal_hold: bool = False,
        metadata: dict[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredVersion:
        """Upload a sealed file once; returns the version only after the server confirmed it."""
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "Metadata": {**(metadata or {}), "sha256": sha256},
            "ObjectLockMode": policy.mode,
            "ObjectLockRetainUntilDate": policy.retain_until(),
        }
        if legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        try:
            with self._errors("upload", key):
                if size > self.multipart_threshold:
                    return self._put_parts(path, args, sha256, size, legal_hold)
                return self._put_whole(path, args, sha256, size, legal_hold)
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _code(cause) == "PreconditionFailed":
                return self._adopt(key, sha256, size)
            raise

    def _put_whole(
        self, path: Path, args: dict[str, Any], sha256: str, size: int, hold: bool
    ) -> StoredVersion:
        checksum = b64_sha256(sha256)
        with open(path, "rb") as body:
            response = self.client.put_object(
                Body=body,
                ContentLength=size,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                IfNoneMatch="*",
                **args,
            )
        return self._confirmed(response, args, checksum, size, None, hold)

    def _put_parts(
        self, path: Path, args: dict[str, Any], sha256: str, size: int, hold: bool
    ) -> StoredVersion:
        client = self.client
        upload = client.create_multipart_upload(ChecksumAlgorithm="SHA256", **args)
        target = {"Bucket": self.bucket, "Key": args["Key"], "UploadId": upload["UploadId"]}
        try:
            whole = hashlib.sha256()
            digests: list[bytes] = []
            parts: list[dict[str, Any]] = []
            with open(path, "rb") as fh:
                while chunk := fh.read(self.part_size):
                    whole.update(chunk)
                    digest = hashlib.sha256(chunk).digest()
                    digests.append(digest)
                    checksum = base64.b64encode(digest).decode("ascii")
                    number = len(digests)
                    response = client.upload_part(
                        Body=chunk,
                        PartNumber=number,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=checksum,
                        **target,
                    )
                    parts.append(
                        {"ETag": response["ETag"], "PartNumber": number, "ChecksumSHA256": checksum}
                    )
            # The parts' checksums protect the transfer; this ties them to the file as sealed.
            if whole.hexdigest() != sha256:
                raise ChecksumRejected(
                    f"{path} no longer matches the SHA-256 taken when it was written: not uploaded"
                )
            response = client.complete_multipart_upload(
                MultipartUpload={"Parts": parts}, IfNoneMatch="*", **target
            )
        except BaseException:
            with suppress(Exception):
                client.abort_multipart_upload(**target)
            raise
        return self._confirmed(
            response, args, composite_checksum(digests), size, self.part_size, hold
        )

    def _confirmed(
        self,
        response: dict[str, Any],
        args: dict[str, Any],
        checksum: str,
        size: int,
        part_size: int | None,
        hold: bool,
    ) -> StoredVersion:
        key = args["Key"]
        confirmed = response.get("ChecksumSHA256")
        version_id = response.get("VersionId")
        if confirmed is None and version_id:
            info = self.head(key, version_id)
            confirmed = info.checksum if info else None
        if confirmed != checksum:
            raise StoreError(
                f"the server did not confirm the SHA-256 of {self.location(key)} "
                f"(sent {checksum}, got {confirmed}): it does not count as stored"
            )
        if not version_id:
            raise StoreError(
                f"no version id for {self.location(key)}: bucket {self.bucket} has no versioning "
                "(run lastseen store init)"
            )
        return StoredVersion(
            key=key,
            version_id=version_id,
            checksum=checksum,
            size=size,
            part_size=part_size,
            lock_mode=args["ObjectLockMode"],
            retain_until=args["ObjectLockRetainUntilDate"],
            legal_hold=hold,
        )

    def _adopt(self, key: str, sha256: str, size: int) -> StoredVersion:
        """The key exists already: ours, from an attempt whose answer was lost, or a stranger."""
        info = self.head(key)
        if info is None or info.metadata.get("sha256") != sha256 or info.size != size:
            raise StoreError(
                f"{self.location(key)} already holds a different object: refusing to write over it"
            )
        if not info.checksum or not info.version_id:
            raise StoreError(f"the server gives no checksum or version for {self.location(key)}")
        parts = re.fullmatch(r".*-(\d+)", info.checksum)
        if not parts and info.checksum != b64_sha256(sha256):
            # The metadata is anyone's to write; the checksum is the server's own.
            raise StoreError(
                f"{self.location(key)} already holds an object whose checksum is not the SHA-256 "
                "sealed here: refusing to write over it"
            )
        return StoredVersion(
            key=key,
            version_id=info.version_id,
            checksum=info.checksum,
            size=info.size,
            part_size=self.part_size if parts else None,
            lock_mode=info.lock_mode,
            retain_until=info.retain_until,
            legal_hold=info.legal_hold,
        )

    def set_legal_hold(self, key: str, version_id: str) -> None:
        with self._errors("legal hold on", key):
            self.client.put_object_legal_hold(
                Bucket=self.bucket, Key=key, VersionId=version_id, LegalHold={"Status": "ON"}
            )

    # --- reading ----------------------------------------------------------------------------

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """The server's view of one version (the newest without ``version_id``); None if absent."""
        extra = {"VersionId": version_id} if version_id else {}
        try:
            with self._errors("head", key):
                r = self.client.head_object(
                    Bucket=self.bucket, Key=key, ChecksumMode="ENABLED", **extra
                )
        except StoreError as exc:
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) in _NOT_FOUND:
                return None
            raise
        return ObjectInfo(
            version_id=r.get("VersionId"),
            size=int(r.get("ContentLength", 0)),
            checksum=r.get("ChecksumSHA256"),
            metadata={k.lower(): v for k, v in (r.get("Metadata") or {}).items()},
            lock_mode=r.get("ObjectLockMode"),
            retain_until=_utc(r.get("ObjectLockRetainUntilDate")),
            legal_hold=r.get("ObjectLockLegalHoldStatus") == "ON",
            last_modified=_utc(r.get("LastModified")),
        )

    def open(self, key: str, version_id: str) -> BinaryIO:
        """A streaming, read-only file object over one version (not seekable)."""
        with self._errors("read", key):
            r = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        return cast(BinaryIO, _Body(r["Body"], self, key))

    def read_range(self, key: str, version_id: str, offset: int, length: int) -> bytes:
        with self._errors("read", key):
            r = self.client.get_object(
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                Range=f"bytes={offset}-{offset + length - 1}",
            )
            data = bytes(r["Body"].read())
        if len(data) != length:
            raise StoreError(f"short read from {self.location(key)} at offset {offset}")
        return data

    def versions(self, key: str) -> list[VersionEntry]:
        """Every version and delete marker stored under exactly this key."""
        found: list[VersionEntry] = []
        with self._errors("list versions of", key):
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                for marker, items in ((False, "Versions"), (True, "DeleteMarkers")):
                    for v in page.get(items, []):
                        if v.get("Key") == key:
                            found.append(
                                VersionEntry(
                                    version_id=v["VersionId"],
                                    is_latest=bool(v.get("IsLatest")),
                                    last_modified=_utc(v.get("LastModified")),
                                    delete_marker=marker,
                                )
                            )
        return found

    # --- the bucket ---------------------------------------------------------------------------

    def bucket_exists(self) -> bool:
        try:
            with self._errors("open bucket"):
                self.client.head_bucket(Bucket=self.bucket)
        except StoreError as exc:
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) in (
                "404",
                "NoSuchBucket",
            ):
                return False
            raise
        return True

    def create_bucket(self) -> None:
        """A new bucket with Object Lock (which also turns versioning on)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with self._errors("create bucket"):
            self.client.create_bucket(**args)

    def bucket_problems(self) -> list[str]:
        """What the bucket lacks to keep evidence write-once; empty when it is ready."""
        problems = []
        with self._errors("read the versioning of bucket"):
            versioning = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        if versioning != "Enabled":
            problems.append(
                f"versioning is not enabled on bucket {self.bucket} "
                f"(it is {versioning or 'off'}): a write would replace evidence instead of adding "
                "a version"
            )
        try:
            with self._errors("read the Object Lock configuration of bucket"):
                lock = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        except StoreError as exc:
            if not isinstance(exc.__cause__, ClientError):
                raise
            enabled = None
        if enabled != "Enabled":
            problems.append(
                f"Object Lock is not enabled on bucket {self.bucket}: objects could be deleted "
                "or overwritten (enable it on the bucket, or let lastseen store init create a "
                "new bucket)"
            )
        return problems


class _Body:
    """A GET's body as a plain file object, with our exceptions for a store that stops mid-way."""

    def __init__(self, body: Any, store: S3Store, key: str) -> None:
        self._body = body
        self._store = store
        self._key = key

    def read(self, size: int = -1) -> bytes:
        with self._store._errors("read", self._key):
            return bytes(self._body.read(None if size < 0 else size))

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
