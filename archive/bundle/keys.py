"""The operator's Ed25519 signing key: it signs every bundle's SHA256SUMS.

The private key is a PKCS#8 PEM file readable by its owner only; ``LASTSEEN_SIGNING_KEY`` names
it (default ``~/.config/lastseen/signing-key.pem``). The public key travels in each bundle as PEM
SubjectPublicKeyInfo, which ``openssl pkeyutl -verify -rawin`` reads; its fingerprint, the SHA-256
of its DER encoding, is what an operator publishes so that others know the key is theirs.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archive.exceptions import InvalidRequest

ENV = "LASTSEEN_SIGNING_KEY"
_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", re.DOTALL)
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def default_key_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV):
        return Path(env[ENV]).expanduser()
    config = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "lastseen" / "signing-key.pem"


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the DER public key: ``openssl pkey -pubin -in K -outform DER | sha256sum``."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    path: Path
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def init_key(path: Path) -> SigningKey:
    """Make a new key at ``path`` (mode 0600); an existing key is never replaced."""
    path = path.expanduser()
    if path.exists():
        raise InvalidRequest(f"a signing key already exists at {path}; it was left as it is")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidRequest(f"a signing key already exists at {path}") from exc
    except OSError as exc:
        raise InvalidRequest(f"cannot write a signing key at {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return SigningKey(path, private)


def load_key(path: Path) -> SigningKey:
    path = path.expanduser()
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidRequest(
            f"no signing key at {path}: make one with `lastseen keys init` or point {ENV} to yours"
        ) from None
    except OSError as exc:
        raise InvalidRequest(f"cannot read the signing key {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidRequest(
            f"the signing key {path} can be read by other users (mode {stat.S_IMODE(mode):o}): "
            f"run chmod 600 {path}"
        )
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise InvalidRequest(f"{path} is not an Ed25519 key")
    return SigningKey(path, private)


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def parse_fingerprint(text: str) -> str:
    """A fingerprint as an operator publishes it: 64 hex digits, in either case, with or
    without colons (as ``openssl`` and some key listings group them)."""
    value = text.strip().replace(":", "").lower()
    if not _FINGERPRINT.fullmatch(value):
        raise ValueError(f"{text.strip()!r} is not a SHA-256 fingerprint (64 hex digits)")
    return value


def trusted_fingerprints(data: bytes) -> set[str]:
    """The keys a file of trusted keys names: PEM public keys, and fingerprints one a line
    (blank lines and ``#`` comments ignored)."""
    found = {fingerprint(load_public_pem(pem)) for pem in _PEM.findall(data)}
    for line in _PEM.sub(b"", data).decode("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            found.add(parse_fingerprint(line))
    return found


def signature_valid(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
