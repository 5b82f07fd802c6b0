"""Taking an export bundle apart and putting a tampered one together, for the export tests."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive.bundle import layout
from archive.bundle.keys import load_key, public_pem
from archive.chain import entry_hash


def signer(key_path: str | Path) -> str:
    """The fingerprint of the signing key at ``key_path``, as its operator publishes it: what
    ``lastseen verify --key`` is given."""
    return load_key(Path(key_path)).fingerprint


def members(path: Path) -> dict[str, bytes]:
    """Every file of the ZIP at ``path``, by name."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(contents: dict[str, bytes], target: Path) -> Path:
    """A ZIP at ``target`` holding ``contents`` (name -> bytes), in that order."""
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return target


def forge(contents: dict[str, bytes], actor: str, key: Ed25519PrivateKey) -> dict[str, bytes]:
    """What someone holding the bundle but not the operator's key can make of it: every custody
    entry and the report naming ``actor``, the custody chain re-hashed, SHA256SUMS rewritten and
    signed with ``key``, which replaces the bundle's public key."""
    forged = dict(contents)
    entries = [json.loads(line) for line in contents[layout.CUSTODY].splitlines()]
    renamed: dict[str, str] = {}
    for entry in entries:
        old_actor, entry["actor"] = entry["actor"], actor
        entry["prev_hash"] = renamed.get(entry["prev_hash"], entry["prev_hash"])
        if entry is entries[-1]:
            entry["details"]["entries"] = [[e["seq"], e["hash"]] for e in entries[:-1]]
        old_hash, entry["hash"] = entry["hash"], entry_hash(entry)
        renamed[old_hash] = entry["hash"]
    forged[layout.CUSTODY] = b"".join(
        json.dumps(e, sort_keys=True).encode() + b"\n" for e in entries
    )
    forged[layout.REPORT_HTML] = contents[layout.REPORT_HTML].replace(
        old_actor.encode(), actor.encode()
    )
    forged[layout.PUBLIC_KEY] = public_pem(key.public_key())
    sums = layout.parse_sums(contents[layout.SUMS])
    for name in (layout.CUSTODY, layout.REPORT_HTML, layout.PUBLIC_KEY):
        sums[name] = hashlib.sha256(forged[name]).hexdigest()
    forged[layout.SUMS] = layout.format_sums(sums)
    forged[layout.SIGNATURE] = key.sign(forged[layout.SUMS])
    return forged
