"""The offline verifier runs where there is only the bundle: no catalog, no object store, no
report printer, and none of their libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BUNDLE = Path(__file__).parent / "fixtures" / "prehouse-bundle.zip"
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
        "result = verify_bundle(Path(sys.argv[1]))\n"
        "print('\\n'.join(c.line() for c in result.checks))\n"
        "assert result.ok\n",
        str(BUNDLE),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK    revisit" in proc.stdout
