"""Videos in the export (issue 13): the copy under captures/<id>/media/, its keyframe strip in the
report, and verify checking the copy against its record."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from demo.video import VideoSite
from tests.bundles import members, rezip, signer
from tests.conftest import invoke, run_cli
from tests.warcs import read_warc

CASE = "VID-2026-13"


def test_the_bundle_carries_each_video_its_keyframes_and_verify_checks_it(tmp_path: Path):
    site = VideoSite().start()
    store = tmp_path / "evidence"
    env = {"LASTSEEN_SIGNING_KEY": str(tmp_path / "keys" / "signing-key.pem")}
    try:
        assert invoke("keys", "init", store=store, **env).returncode == 0
        proc = run_cli("capture", site.url("/blob.html"), "--case", CASE, "--json", store=store)
    finally:
        site.stop()
    assert proc.returncode == 0, proc.stderr
    capture = json.loads(proc.stdout)
    resource = next(r for r in read_warc(capture["warc"]) if r.target.startswith("urn:media:"))
    out = tmp_path / "case.zip"
    proc = invoke("export", "--case", CASE, "--out", str(out), store=store, **env)
    assert proc.returncode == 0, proc.stderr

    folder = f"captures/{capture['id']}/media/"
    contents = members(out)
    assert contents[folder + "1.mp4"] == resource.payload  # byte for byte the record's payload
    assert json.loads(contents[folder + "1.json"])["sha256"] == resource.header(
        "WARC-Payload-Digest"
    ).removeprefix("sha256:")
    strip = contents[folder + "1-keyframes.jpg"]
    assert strip.startswith(b"\xff\xd8")  # a JPEG: the strip of keyframes
    report = contents["report.html"].decode()
    assert f'<img src="{folder}1-keyframes.jpg"' in report
    assert "Video 1 of capture" in report and "20.0 s captured" in report
    assert resource.header("WARC-Payload-Digest").removeprefix("sha256:") in report

    proc = invoke("verify", str(out), "--key", signer(env["LASTSEEN_SIGNING_KEY"]))
    assert proc.returncode == 0, proc.stdout
    assert f"{folder}1.mp4: is record" in proc.stdout

    data = bytearray(contents[folder + "1.mp4"])
    data[len(data) // 2] ^= 0x01
    flipped = rezip({**contents, folder + "1.mp4": bytes(data)}, tmp_path / "flipped.zip")
    proc = invoke("verify", str(flipped), "--key", signer(env["LASTSEEN_SIGNING_KEY"]))
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert any(f"{folder}1.mp4" in line and "is not the video 1 recorded" in line for line in failed)
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo(folder + "1.mp4").compress_type == zipfile.ZIP_STORED
