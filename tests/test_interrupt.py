"""Ctrl-C, SIGTERM or kill -9 in the middle of a crawl: every finished WARC stays valid and no
half-written file ever carries a final name."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from archive.chain import verify_chain
from tests.conftest import LASTSEEN, cli_env, invoke
from tests.warcs import read_warc


def start_crawl(site, store: Path, pages: int) -> subprocess.Popen[str]:
    seeds = store.parent / "seeds.txt"
    # Pages that never go idle keep the crawl busy for the whole timeout of each capture.
    seeds.write_text("\n".join(site.url(f"/never-idle?n={i}") for i in range(pages)) + "\n")
    return subprocess.Popen(
        [LASTSEEN, "crawl", str(seeds), "--json", "--timeout", "6"],
        env=cli_env(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=store.parent,
    )


def wait_for_first_capture(proc: subprocess.Popen[str]) -> dict:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the first capture is sealed
    assert line, proc.stderr.read() if proc.stderr else ""
    return json.loads(line)


def assert_store_is_sound(store: Path) -> list[Path]:
    files = sorted((store / "warcs").rglob("*"))
    warcs = [f for f in files if f.is_file()]
    assert warcs, "at least the first capture was sealed"
    for warc in warcs:
        assert warc.name.endswith(".warc.gz"), f"unexpected file under a final name: {warc}"
        check = subprocess.run(
            [str(Path(LASTSEEN).parent / "warcio"), "check", str(warc)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout
        assert read_warc(warc)[-1].type == "metadata", "a sealed WARC is complete"
    return warcs


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_graceful_stop_keeps_every_sealed_warc_valid_and_catalogued(site, store, sig):
    proc = start_crawl(site, store, pages=12)
    first = wait_for_first_capture(proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode != 0, "an interrupted crawl does not claim success"
    assert "interrupted" in err
    warcs = assert_store_is_sound(store)
    listed = [json.loads(x) for x in invoke("ls", "--json", store=store).stdout.splitlines()]
    assert first["id"] in {c["id"] for c in listed}
    assert {Path(c["warc"]) for c in listed} == set(warcs), "every sealed WARC is in the catalog"
    assert len(listed) < 12, "the crawl really was stopped before the end"
    from archive import Archive, ArchiveConfig
    from archive.catalog.custody import entries

    archive = Archive.open(ArchiveConfig.from_env(store=str(store)))
    assert verify_chain(entries(archive.catalog)) == []


def test_kill_9_leaves_no_half_written_file_under_a_final_name(site, store):
    proc = start_crawl(site, store, pages=12)
    wait_for_first_capture(proc)
    time.sleep(1.5)  # other captures are being recorded or written now
    proc.kill()
    proc.wait(timeout=30)
    assert_store_is_sound(store)
