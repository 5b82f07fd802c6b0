"""WARC writing without a browser: digests, header renaming, offsets, the file hash."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from datetime import UTC, datetime

from archive.capture import (
    BODY_NONE,
    BODY_UNAVAILABLE,
    Capture,
    Exchange,
    HttpRequest,
    HttpResponse,
    Resource,
)
from archive.digest import HashingWriter
from archive.warc.reader import read_payload, scan
from archive.warc.writer import CaptureWriter
from tests.warcs import read_warc

WHEN = datetime(2026, 11, 29, 5, 32, 36, 123456, tzinfo=UTC)


def make_capture(**changes) -> Capture:
    body = "caf\xe9 \x80".encode("latin-1")
    exchanges = [
        Exchange(
            request=HttpRequest("GET", "http://ads.test/r", [("Host", "ads.test")]),
            response=HttpResponse(302, "Found", [("Location", "/p"), ("Content-Length", "5")], b"",
                                  body_state=BODY_NONE),
            resource_type="Document", remote_ip="192.0.2.7", protocol="http/1.1",
            redirected_to="http://ads.test/p",
        ),
        Exchange(
            request=HttpRequest("POST", "http://ads.test/p?q=1", [("Host", "ads.test")], b"a=1"),
            response=HttpResponse(
                200, "OK",
                [("Content-Type", "text/html; charset=windows-1252"), ("Content-Encoding", "gzip"),
                 ("Content-Length", "40"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                body,
            ),
            resource_type="Document", remote_ip="192.0.2.7", protocol="h2", tls_protocol="tls/1.3",
        ),
        Exchange(
            request=HttpRequest("GET", "http://ads.test/big.jpg", [("Host", "ads.test")]),
            response=HttpResponse(200, "OK", [("Content-Length", "999")], b"", body_state=BODY_UNAVAILABLE),
        ),
    ]
    capture = Capture(
        requested_url="http://ads.test/r", started_at=WHEN, ended_at=WHEN, outcome="ok",
        final_url="http://ads.test/p", http_status=200, exchanges=exchanges, main_index=1,
        resources=[Resource("screenshot", "image/png", b"\x89PNG fake")],
        environment={"software": "lastseen test", "operator": "op"},
    )
    for key, value in changes.items():
        setattr(capture, key, value)
    return capture


def write(capture: Capture) -> tuple[bytes, object, str]:
    buf = io.BytesIO()
    out = HashingWriter(buf)
    written = CaptureWriter(out).write_capture(capture, "x.warc.gz")
    return buf.getvalue(), written, out.hexdigest()


def test_the_file_hash_is_computed_while_writing_and_matches_the_bytes(tmp_path):
    data, _, digest = write(make_capture())
    assert digest == hashlib.sha256(data).hexdigest()


def test_every_digest_is_sha256_hex_and_checks_out(tmp_path):
    data, _, _ = write(make_capture())
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    records = read_warc(path)  # check_digests: a wrong digest raises
    for rec in records:
        for name in ("warc-block-digest", "warc-payload-digest"):
            for value in rec.headers.get(name, []):
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", value)
    page = next(r for r in records if r.type == "response" and r.target == "http://ads.test/p?q=1")
    assert page.header("WARC-Payload-Digest") == "sha256:" + hashlib.sha256(page.payload).hexdigest()


def test_decoded_bodies_keep_transport_headers_under_x_archive_orig(tmp_path):
    data, written, _ = write(make_capture())
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    page = next(r for r in read_warc(path) if r.target == "http://ads.test/p?q=1" and r.type == "response")
    names = [n for n, _ in page.http_headers]
    assert "Content-Encoding" not in names and "Content-Length" not in names
    assert page.http_header("X-Archive-Orig-Content-Encoding") == ["gzip"]
    assert page.http_header("X-Archive-Orig-Content-Length") == ["40"]
    assert page.http_header("Set-Cookie") == ["a=1", "b=2"]
    assert page.headers["warc-protocol"] == ["h2", "tls/1.3"]
    assert page.header("WARC-IP-Address") == "192.0.2.7"


def test_a_body_we_could_not_read_is_marked_truncated_not_faked(tmp_path):
    data, _, _ = write(make_capture())
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    records = read_warc(path)
    big = next(r for r in records if r.target == "http://ads.test/big.jpg" and r.type == "response")
    assert big.header("WARC-Truncated") == "unspecified"
    assert big.http_header("X-Archive-Orig-Content-Length") == ["999"]
    meta = next(r for r in records if r.type == "metadata").json()
    states = {n["url"]: n["body"] for n in meta["stored_payloads"]}
    assert states["http://ads.test/big.jpg"] == "unavailable"


def test_request_bodies_and_targets_are_recorded(tmp_path):
    data, _, _ = write(make_capture())
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    post = next(r for r in read_warc(path) if r.type == "request" and r.target == "http://ads.test/p?q=1")
    assert post.payload == b"a=1"


def test_record_offsets_point_at_the_records(tmp_path):
    data, written, _ = write(make_capture())
    stream = io.BytesIO(data)
    assert read_payload(stream, written.main.offset) == "caf\xe9 \x80".encode("latin-1")
    assert read_payload(stream, written.resources["screenshot"].offset) == b"\x89PNG fake"


def test_a_scan_meets_every_record_where_the_writer_put_it_with_its_digests_checked(tmp_path):
    data, written, _ = write(make_capture())
    found = []
    for record in scan(io.BytesIO(data), check_digests=True):
        payload = b"".join(record.chunks())
        assert record.digest_problems() == []
        found.append((record.id, record.type, record.offset, record.length, payload))
    by_id = {ref.record_id: ref for ref in written.records}
    assert [f[0] for f in found if f[0] in by_id] == [ref.record_id for ref in written.records]
    for record_id, record_type, offset, length, payload in found:
        if record_id in by_id:
            ref = by_id[record_id]
            assert (record_type, offset, length) == (ref.record_type, ref.offset, ref.length)
            if ref.payload_sha256 and record_type != "revisit":
                assert hashlib.sha256(payload).hexdigest() == ref.payload_sha256


def test_a_scan_names_a_record_whose_payload_was_changed(tmp_path):
    data, written, _ = write(make_capture())
    changed = gzip.decompress(data).replace("caf\xe9 \x80".encode("latin-1"), b"CAF\xe9 \x80", 1)
    assert changed != data
    problems = {
        record.id: record.digest_problems()
        for record in scan(io.BytesIO(changed), check_digests=True)
    }
    assert problems[written.main.record_id]
    assert [p for rid, p in problems.items() if p and rid != written.main.record_id] == []


def test_all_records_share_the_capture_date_with_microseconds(tmp_path):
    data, _, _ = write(make_capture())
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    assert {r.header("WARC-Date") for r in read_warc(path)} == {"2026-11-29T05:32:36.123456Z"}


def test_every_record_is_its_own_gzip_member_and_media_is_not_deflated_twice(tmp_path):
    import os
    import zlib

    video = os.urandom(200_000)
    text = b"<p>" + b"same words again " * 10_000 + b"</p>"
    capture = make_capture()
    capture.exchanges[1].response.body = text
    capture.exchanges[2].response = HttpResponse(200, "OK", [("Content-Type", "video/mp4")], video)
    data, written, _ = write(capture)
    by_target = {ref.target_uri: ref for ref in written.records if ref.record_type == "response"}
    media, page = by_target["http://ads.test/big.jpg"], by_target["http://ads.test/p?q=1"]
    assert media.length > len(video), "stored, not recompressed"
    assert page.length < len(text) / 20, "text is compressed"
    for ref in written.records:  # each record decompresses on its own
        member = data[ref.offset : ref.offset + ref.length]
        assert zlib.decompress(member, zlib.MAX_WBITS | 16).startswith(b"WARC/1.1\r\n")
