"""Complete video copies as WARC records: streamed from disk, digested, described."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from archive.capture import MediaFile
from archive.digest import HashingWriter
from archive.warc.reader import read_payload
from archive.warc.writer import CaptureWriter
from tests.test_archive_warc import make_capture
from tests.warcs import read_warc


def _media(path: Path, **changes) -> MediaFile:
    item = MediaFile(
        source_url="http://ads.test/v/master.m3u8",
        path=str(path),
        content_type="video/mp4",
        length=path.stat().st_size,
        info={"tool": "yt-dlp", "duration": {"declared": 20.0, "captured": 20.0}},
    )
    for key, value in changes.items():
        setattr(item, key, value)
    return item


def test_a_media_copy_is_a_resource_record_with_its_metadata(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 100)
    capture = make_capture(media=[_media(video)])
    out = tmp_path / "c.warc.gz"
    with out.open("wb") as fh:
        written = CaptureWriter(HashingWriter(fh)).write_capture(capture, out.name)
    (ref, info_ref), = written.media
    records = {r.target: r for r in read_warc(out)}
    resource = records["urn:media:http://ads.test/p#1"]
    assert resource.type == "resource"
    assert resource.header("WARC-Concurrent-To") == written.main.record_id
    sha = hashlib.sha256(video.read_bytes()).hexdigest()
    assert resource.header("WARC-Payload-Digest") == f"sha256:{sha}"
    assert resource.header("WARC-Source-URI") == "http://ads.test/v/master.m3u8"
    assert ref.payload_sha256 == sha
    with out.open("rb") as fh:
        assert read_payload(fh, ref.offset) == video.read_bytes()
    meta = records["urn:media-info:http://ads.test/p#1"]
    assert meta.type == "metadata"
    assert meta.header("WARC-Refers-To") == ref.record_id
    described = json.loads(meta.payload)
    assert described["sha256"] == sha and described["duration"]["captured"] == 20.0
    provenance = json.loads(records["urn:provenance:http://ads.test/p"].payload)
    assert provenance["records"]["media"] == [ref.record_id]


def test_a_copy_cut_at_the_size_limit_is_marked_truncated(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10_000)
    capture = make_capture(media=[_media(video, length=4096, truncated="length")])
    out = tmp_path / "c.warc.gz"
    with out.open("wb") as fh:
        CaptureWriter(HashingWriter(fh)).write_capture(capture, out.name)
    records = {r.target: r for r in read_warc(out)}
    resource = records["urn:media:http://ads.test/p#1"]
    assert resource.header("WARC-Truncated") == "length"
    assert resource.payload == b"x" * 4096
    assert json.loads(records["urn:media-info:http://ads.test/p#1"].payload)["truncated"] == "length"


# VmHWM of a process of its own: ru_maxrss would carry pytest's peak over fork and exec.
_STREAM = """
import sys
from pathlib import Path
from archive.capture import MediaFile
from archive.digest import HashingWriter
from archive.warc.writer import CaptureWriter
from tests.test_archive_warc import make_capture
video, out = Path(sys.argv[1]), Path(sys.argv[2])
def peak():
    status = Path("/proc/self/status").read_text()
    return next(int(l.split()[1]) * 1024 for l in status.splitlines() if l.startswith("VmHWM:"))
before = peak()
item = MediaFile("http://ads.test/v.mp4", str(video), "video/mp4", video.stat().st_size)
with out.open("wb") as fh:
    CaptureWriter(HashingWriter(fh)).write_capture(make_capture(media=[item]), out.name)
print(before, peak())
"""


def test_memory_stays_flat_while_a_1_gb_file_streams_into_a_warc(tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    with video.open("wb") as fh:
        fh.truncate(1 << 30)  # a sparse file: generated in no time, read like any other
    out = tmp_path / "big.warc.gz"
    proc = subprocess.run(
        [sys.executable, "-c", _STREAM, str(video), str(out)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    assert out.stat().st_size > 1 << 30
    assert after - before < 64 << 20, f"peak memory grew by {(after - before) >> 20} MiB"
