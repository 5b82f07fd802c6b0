"""The offline verifier runs where there is only the bundle: no catalog, no object store, no
report printer, and none of their libraries; and it trusts no key the bundle brings along."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.bundles import forge, members, rezip
from tests.conftest import invoke

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLE = FIXTURES / "prehouse-bundle.zip"
# The fingerprint its operator published (the fixture's signing key).
SIGNER = re.findall(r"[0-9a-f]{64}", (FIXTURES / "prehouse-signer.txt").read_text())[-1]
# The catalog (SQLAlchemy), S3 (boto3), the WACZ index and the PDF report: export needs them,
# verify must not.
HEAVY = ("sqlalchemy", "boto3", "botocore", "cdxj_indexer", "weasyprint")

_BLOCK = f"""
import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ImportError(f"{{name}} is not installed here")
sys.meta_path.insert(0, Absent())
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_importing_the_verifier_loads_no_catalog_store_or_report_library() -> None:
    proc = python(
        "import sys, archive.bundle.verify\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    assert proc.returncode == 0, proc.stderr


def test_importing_archive_loads_neither_sqlalchemy_nor_boto3_until_a_name_is_used() -> None:
    proc = python(
        "import sys, archive\n"
        "assert 'sqlalchemy' not in sys.modules and 'boto3' not in sys.modules\n"
        "from archive import Archive, Capture, __version__\n"
        "assert 'sqlalchemy' in sys.modules and Archive.__name__ == 'Archive'\n"
    )
    assert proc.returncode == 0, proc.stderr


def test_a_bundle_verifies_on_a_machine_without_those_libraries() -> None:
    proc = python(
        _BLOCK + "from pathlib import Path\n"
        "from archive.bundle.verify import verify_bundle\n"
        "result = verify_bundle(Path(sys.argv[1]), trusted_keys={sys.argv[2]})\n"
        "print('\\n'.join(c.line() for c in result.checks))\n"
        "assert result.ok and result.signer == sys.argv[2]\n",
        str(BUNDLE),
        SIGNER,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK    revisit" in proc.stdout


def test_a_bundle_altered_and_re_signed_with_another_key_is_not_the_operators(tmp_path):
    forged = rezip(
        forge(members(BUNDLE), "someone-else", Ed25519PrivateKey.generate()), tmp_path / "f.zip"
    )
    # Everything in it holds together: only the key tells it apart.
    alone = invoke("verify", str(forged))
    assert alone.returncode == 4, alone.stdout + alone.stderr
    assert "FAIL" not in alone.stdout
    assert "WARN  signer     signing-key.pub: not established" in alone.stdout
    assert alone.stdout.splitlines()[-1].startswith("SIGNER NOT ESTABLISHED: ")
    pinned = invoke("verify", str(forged), "--key", SIGNER)
    assert pinned.returncode == 1, pinned.stdout + pinned.stderr
    assert f"is none of the keys you trust ({SIGNER})" in pinned.stdout
    assert "signing-key.pub" in pinned.stdout.splitlines()[-1]
    # The operator's own bundle, against their key: given as a fingerprint, or in a file.
    genuine = invoke("verify", str(BUNDLE), "--key", SIGNER.upper())
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    assert f"OK    signer     signing-key.pub: key {SIGNER} is a key you trust" in genuine.stdout
    trusted = tmp_path / "trusted-keys"
    trusted.write_text(
        "# BXL unit\n" + (FIXTURES / "prehouse-signer.txt").read_text().split("fingerprint")[0]
    )
    from_file = invoke("verify", str(BUNDLE), LASTSEEN_TRUSTED_KEYS=str(trusted))
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr


def test_a_trusted_key_that_is_not_a_fingerprint_is_refused_in_one_line(tmp_path):
    proc = invoke("verify", str(BUNDLE), "--key", "e1cc70de")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Error: --key: 'e1cc70de' is not a SHA-256 fingerprint (64 hex digits)"
    ]
    junk = tmp_path / "keys.txt"
    junk.write_text("not a key\n")
    proc = invoke("verify", str(BUNDLE), LASTSEEN_TRUSTED_KEYS=str(junk))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# -- a hostile bundle: members that unpack to far more than they weigh ------------------------

# VmHWM, the peak of this process's own memory: getrusage's ru_maxrss would carry the pytest
# process's peak over the fork and exec that started it.
_MEASURED = """
import sys
from pathlib import Path
from archive.bundle.verify import verify_bundle
result = verify_bundle(Path(sys.argv[1]), trusted_keys={sys.argv[2]})
print("\\n".join(c.line() for c in result.failures))
status = Path("/proc/self/status").read_text()
print(next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")))
"""


def bomb(target: Path, name: str, chunks: Iterator[bytes]) -> Path:
    """The fixture bundle with ``name`` replaced by what ``chunks`` yield, deflated: written a
    chunk at a time, so that neither the bundle nor this test holds it whole."""
    with zipfile.ZipFile(BUNDLE) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            if info.filename != name:
                out.writestr(info, source.read(info))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with out.open(info, "w", force_zip64=True) as fh:
            for chunk in chunks:
                fh.write(chunk)
    return target


def verify_measured(path: Path) -> tuple[list[str], int]:
    """The failures, and the verifier's peak resident memory in bytes, from a process of its
    own."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(path), SIGNER],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    *failures, peak = proc.stdout.splitlines()
    return failures, int(peak)


@pytest.mark.parametrize("name", ["SHA256SUMS", "custody.jsonl"])
def test_a_member_that_unpacks_to_a_gibibyte_fails_by_name_in_bounded_memory(name, tmp_path):
    zeros = bytes(1 << 20)
    target = bomb(tmp_path / "bomb.zip", name, (zeros for _ in range(1024)))  # 1 GiB
    assert target.stat().st_size < 3 * 2**20
    failures, peak = verify_measured(target)
    assert any(line.startswith(f"FAIL  file       {name}: unpacks to 1,073,741,824") and
               "a ratio over 100:1" in line for line in failures), failures  # fmt: skip
    assert peak < 150 * 2**20, f"the verifier took {peak / 2**20:.0f} MiB"


def test_a_small_member_grown_large_is_refused_before_it_is_read(tmp_path):
    # Random text packs only about 2:1, so no ratio gives it away: its size does.
    text = (os.urandom(1 << 19).hex().encode() for _ in range(40))  # 40 MiB
    target = bomb(tmp_path / "big.zip", "custody.jsonl", text)
    failures, peak = verify_measured(target)
    assert any(line.startswith("FAIL  file       custody.jsonl: unpacks to 41,943,040 bytes, "
                               "over the") for line in failures), failures  # fmt: skip
    assert peak < 150 * 2**20, f"the verifier took {peak / 2**20:.0f} MiB"


def test_a_warc_whose_header_never_ends_fails_by_name_in_bounded_memory(tmp_path):
    # Half a MB of gzip: a WARC record whose header line runs on for 512 MiB.
    def gzipped() -> Iterator[bytes]:
        gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        yield gz.compress(b"WARC/1.1\r\nWARC-Type: ")
        line = b"A" * (1 << 20)
        for _ in range(512):
            yield gz.compress(line)
        yield gz.flush()

    with zipfile.ZipFile(BUNDLE) as zf:
        (warc,) = [n for n in zf.namelist() if n.startswith("captures/3/") and ".warc" in n]
    failures, peak = verify_measured(bomb(tmp_path / "warc.zip", warc, gzipped()))
    assert any(line.startswith(f"FAIL  warc       {warc}: cannot be read as WARC after 0 records")
               and "headers over 8,388,608 bytes" in line for line in failures), failures  # fmt: skip
    assert peak < 150 * 2**20, f"the verifier took {peak / 2**20:.0f} MiB"
