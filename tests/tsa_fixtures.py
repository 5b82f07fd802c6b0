"""A local RFC 3161 timestamp authority: `openssl ts -reply` behind a loopback HTTP server.

A test CA issues the TSA's certificate (extendedKeyUsage = critical,timeStamping). Paths:
``/tsa`` answers as most TSAs do; ``/tsa-chain`` adds the certificate chain (``certs =`` in its
config), which openssl writes as a SET out of DER order; ``/broken`` answers HTTP 500.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = lastseen test CA
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

TSA_CONFIG = """\
[tsa]
default_tsa = tsa1
[tsa1]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 6
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class LocalTsa:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "ca.cnf").write_text(CA_CONFIG)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _openssl(
            "req", "-x509", "-new", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
            "-config", "ca.cnf", "-extensions", "v3_ca", cwd=folder,
        )  # fmt: skip
        _openssl(
            "req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr",
            "-subj", "/CN=lastseen test TSA", cwd=folder,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "tsa.pem", "-days", "30", "-extfile", "ca.cnf",
            "-extensions", "v3_tsa", cwd=folder,
        )  # fmt: skip
        (folder / "serial").write_text("01\n")
        config = TSA_CONFIG.format(dir=folder)
        (folder / "tsa.cnf").write_text(config)
        (folder / "chain.pem").write_bytes((folder / "ca.pem").read_bytes())
        (folder / "tsa-chain.cnf").write_text(config + f"certs = {folder}/chain.pem\n")
        self.ca_pem = folder / "ca.pem"
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/tsa") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def reply(self, query: bytes, config: str) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(dir=self.folder) as work:
            (Path(work) / "q.tsq").write_bytes(query)
            _openssl(
                "ts", "-reply", "-config", str(self.folder / config),
                "-queryfile", "q.tsq", "-out", "r.tsr", cwd=Path(work),
            )  # fmt: skip
            return (Path(work) / "r.tsr").read_bytes()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                tsa.requests.append(self.path)
                configs = {"/tsa": "tsa.cnf", "/tsa-chain": "tsa-chain.cnf"}
                if self.path not in configs:
                    self.send_response(500, "TSA out of order")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = tsa.reply(query, configs[self.path])
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session", name="tsa")
def tsa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """Import ``tsa_server`` into a test module to use the ``tsa`` fixture there."""
    server = LocalTsa(tmp_path_factory.mktemp("tsa"))
    yield server
    server.stop()
