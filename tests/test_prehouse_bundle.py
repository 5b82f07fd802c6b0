"""A bundle exported by the code before the house move (issue 11) still verifies after it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import LASTSEEN

FIXTURES = Path(__file__).parent / "fixtures"


def test_bundle_exported_before_the_house_move_verifies() -> None:
    # The fingerprint its operator published.
    signer = re.findall(r"[0-9a-f]{64}", (FIXTURES / "prehouse-signer.txt").read_text())[-1]
    proc = subprocess.run(
        [LASTSEEN, "verify", str(FIXTURES / "prehouse-bundle.zip"), "--key", signer],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no failure" in proc.stdout
    assert "revisit" in proc.stdout  # the scheduled recaptures' originals were resolved
