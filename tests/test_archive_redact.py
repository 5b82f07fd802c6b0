"""Redaction of an investigator's session from a capture's exchanges (archive.warc.redact):
which values go, what the provenance lists, and that the WARC written from it stays valid."""

from __future__ import annotations

import gzip
import hashlib
import subprocess

from archive.capture import Exchange, HttpRequest, HttpResponse
from archive.warc.redact import PREFIX, Policy, redact
from tests.conftest import BIN
from tests.test_archive_warc import make_capture, write
from tests.warcs import read_warc


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def signed_in_capture():
    capture = make_capture()
    form = b"q=boats&fb_dtsg=AQ%2Bsecret%3D&cursor=3"
    capture.exchanges.append(
        Exchange(
            request=HttpRequest("POST", "http://ads.test/api", [
                ("Host", "ads.test"), ("Cookie", "sid=s3cr3t; device=d3v1c3"),
                ("Authorization", "Bearer t0k3n"), ("Proxy-Authorization", "Basic cHJveHk="),
                ("X-FB-LSD", "lsd-token"), ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", str(len(form))), ("Accept", "*/*"),
            ], form),
            response=HttpResponse(200, "OK", [
                ("Content-Type", "application/json"), ("Set-Cookie", "sid=n3w; Path=/; HttpOnly"),
                ("Set-Cookie", "seen=1"), ("X-FB-LSD", "lsd-2"),
            ], b'{"ok": true}'),
            resource_type="XHR",
        )
    )  # fmt: skip
    return capture


def test_session_headers_and_marked_fields_become_hashes_and_the_rest_stays():
    capture = signed_in_capture()
    values = redact(capture, Policy(headers=("X-FB-LSD",), fields=("fb_dtsg",)))
    request = capture.exchanges[-1].request
    headers = dict(request.headers)
    assert headers["Cookie"] == PREFIX + sha("sid=s3cr3t; device=d3v1c3")
    assert headers["Authorization"] == PREFIX + sha("Bearer t0k3n")
    assert headers["Proxy-Authorization"] == PREFIX + sha("Basic cHJveHk=")
    assert headers["X-FB-LSD"] == PREFIX + sha("lsd-token")
    assert headers["Accept"] == "*/*" and headers["Host"] == "ads.test"
    # The form field's value as the server read it (URL-decoded) is what is hashed.
    assert request.body == f"q=boats&fb_dtsg={PREFIX}{sha('AQ+secret=')}&cursor=3".encode()
    assert headers["Content-Length"] == str(len(request.body))
    response = capture.exchanges[-1].response
    assert [v for n, v in response.headers if n == "Set-Cookie"] == [
        PREFIX + sha("sid=n3w; Path=/; HttpOnly"), PREFIX + sha("seen=1"),
    ]  # fmt: skip
    assert response.body == b'{"ok": true}'
    listed = {(v["record_type"], v.get("header") or v.get("field")) for v in values}
    assert ("request", "Cookie") in listed and ("request", "fb_dtsg") in listed
    assert ("response", "Set-Cookie") in listed and ("response", "X-FB-LSD") in listed
    cookie = next(v for v in values if v.get("header") == "Cookie")
    assert cookie["cookie_names"] == ["sid", "device"] and cookie["value_sha256"] == sha(
        "sid=s3cr3t; device=d3v1c3"
    )
    assert redact(capture, Policy(("X-FB-LSD",), ("fb_dtsg",))) == []  # nothing left to redact


def test_the_redacted_warc_is_valid_and_its_provenance_names_each_record(tmp_path):
    capture = signed_in_capture()
    values = redact(capture, Policy(headers=("X-FB-LSD",), fields=("fb_dtsg",)))
    capture.provenance["redaction"] = {"profile": "anna", "account": "A.", "values": values}
    data, _, _ = write(capture)
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    for secret in (b"s3cr3t", b"t0k3n", b"cHJveHk=", b"lsd-token", b"n3w", b"AQ%2Bsecret"):
        assert secret not in data and secret not in gzip.decompress(data)
    check = subprocess.run([str(BIN / "warcio"), "check", str(path)], capture_output=True,
                           text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    records = read_warc(path)  # digests checked
    by_id = {r.header("WARC-Record-ID"): r for r in records}
    (meta,) = [r for r in records if r.target.startswith("urn:provenance:")]
    listed = meta.json()["redaction"]["values"]
    assert len(listed) == len(values)
    for entry in listed:
        record = by_id[entry["record"]]
        assert record.type == entry["record_type"] and record.target == entry["url"]
        if "header" in entry:
            assert PREFIX + entry["value_sha256"] in record.http_header(entry["header"])
        else:
            assert f"{entry['field']}={PREFIX}{entry['value_sha256']}".encode() in record.payload
