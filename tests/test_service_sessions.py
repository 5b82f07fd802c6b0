"""The web page's sessions over a real `lastseen serve` (no workers): the cookie holds a session id
that ends, never the API token, and is marked Secure behind a configured TLS proxy only."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.service_fixtures import ALICE, Service, secret, start_service


@dataclass
class Answer:
    status: int
    cookies: dict[str, str]  # name -> the whole Set-Cookie header
    body: str


def call(
    svc: Service,
    method: str,
    path: str,
    cookie: str = "",
    form: dict[str, str] | None = None,
    **headers: str,
) -> Answer:
    host, port = svc.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if cookie:
        all_headers["Cookie"] = cookie
    body = None
    if form is not None:
        body = urlencode(form)
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=all_headers)
    resp = conn.getresponse()
    cookies = {
        value.split("=", 1)[0]: value for name, value in resp.getheaders() if name == "set-cookie"
    }
    answer = Answer(resp.status, cookies, resp.read().decode())
    conn.close()
    return answer


def csrf_of(body: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', body)
    assert found, body
    return found.group(1)


def sign_in(svc: Service, **headers: str) -> tuple[str, str]:
    """The web page's sign-in, as a browser does it: the session cookie's header and value."""
    form = call(svc, "GET", "/login")
    login_cookie = form.cookies["lastseen_login"].split(";", 1)[0]
    answer = call(
        svc,
        "POST",
        "/login",
        login_cookie,
        {"token": secret(ALICE), "csrf": csrf_of(form.body), "next": "/"},
        **headers,
    )
    assert answer.status == 303, answer.body
    header = answer.cookies["lastseen_session"]
    return header, header.split(";", 1)[0]


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    service = start_service(
        tmp_path_factory.mktemp("sessions") / "evidence", None, "--workers", "0"
    )
    yield service
    assert service.stop() == 0


def test_the_session_cookie_holds_a_session_id_not_the_token_and_sign_out_ends_it(svc: Service):
    header, cookie = sign_in(svc)
    assert secret(ALICE) not in header
    assert "HttpOnly" in header and "SameSite=strict" in header
    assert call(svc, "GET", "/api/captures", cookie).status == 200
    # A cookie made of the token itself (what the cookie used to hold) opens nothing.
    assert call(svc, "GET", "/api/captures", f"lastseen_session={secret(ALICE)}").status == 401
    # Every page's sign-out form carries the session's CSRF token, whichever router renders it.
    assert csrf_of(call(svc, "GET", "/", cookie).body) == csrf_of(
        call(svc, "GET", "/search", cookie).body
    )
    page = call(svc, "GET", "/search", cookie)
    assert call(svc, "POST", "/logout", cookie, {"csrf": csrf_of(page.body)}).status == 303
    # A copy of the cookie kept after sign-out is worth nothing.
    assert call(svc, "GET", "/api/captures", cookie).status == 401


def test_x_forwarded_proto_from_a_proxy_that_is_not_configured_is_not_believed(svc: Service):
    header, _ = sign_in(svc, X_Forwarded_Proto="https")
    assert "Secure" not in header


def test_behind_a_configured_tls_proxy_the_cookie_is_secure_and_the_session_expires(
    tmp_path_factory: pytest.TempPathFactory,
):
    service = start_service(
        tmp_path_factory.mktemp("proxied") / "evidence",
        None,
        "--workers",
        "0",
        LASTSEEN_TRUSTED_PROXIES="127.0.0.1",
        LASTSEEN_SESSION_HOURS="0.001",  # 3.6 s
    )
    try:
        header, cookie = sign_in(service, X_Forwarded_Proto="https")
        assert "Secure" in header
        assert call(service, "GET", "/api/captures", cookie).status == 200
        time.sleep(4)
        assert call(service, "GET", "/api/captures", cookie).status == 401
    finally:
        assert service.stop() == 0
