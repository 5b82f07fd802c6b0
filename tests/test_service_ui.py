"""The service's web page in real headless Chromium: sign in, report a URL in the form, watch
its status turn to stored without reloading, see the screenshot, the hashes and the custody log."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from crawler.browser import launch_options
from demo.site import AdSite
from tests.service_fixtures import ALICE, Recorder, Service, html, secret, start_service


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    store = tmp_path_factory.mktemp("ui") / "evidence"
    service = start_service(store, None, LASTSEEN_ALLOW_PRIVATE="1")
    yield service
    assert service.stop() == 0


@pytest.fixture(scope="module")
def slow_site():
    server = Recorder("127.0.0.1", {"/slow": html("<h1>a page that takes 3 s to answer</h1>")})
    yield server
    server.stop()


# A captured page whose script, run on the service's origin with the analyst's session, reads
# every capture request and files a new one in the analyst's name (issue 16, item 1).
HOSTILE = """<h1>an ad</h1>
<script>
fetch("/api/captures").then(function (r) { return r.json(); }).then(function (d) {
  return fetch("/api/captures", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({url: "http://stolen.example/" + d.captures.length, case: "XSS-STOLEN"})});
}).then(function () { document.title = "stolen"; });
</script>"""


@pytest.fixture(scope="module")
def hostile_site():
    server = Recorder("127.0.0.1", {"/hostile": html(HOSTILE)})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def forger(svc: Service):
    """A page on another port of the same host (the same *site*: SameSite=Strict cookies go
    along) that makes the analyst's browser file a report, by a JSON call and by a form."""
    forged = f"""<form id="f" method="post" action="{svc.url}/report">
<input name="url" value="http://forged.example/form"><input name="case" value="CSRF-1"></form>
<script>
fetch("{svc.url}/api/captures", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}},
  body: JSON.stringify({{url: "http://forged.example/api", case: "CSRF-1"}})}})
  .finally(function () {{ document.getElementById("f").submit(); }});
</script>"""
    server = Recorder("127.0.0.1", {"/forge": html(forged)})
    yield server
    server.stop()


@pytest.fixture
def page(svc: Service):
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(svc.url + "/")
        page.fill("input[name=token]", secret(ALICE))
        page.click("button:text('Sign in')")
        expect(page.locator("h1")).to_have_text("Report a URL")
        yield page
        browser.close()


def test_a_wrong_token_is_refused_on_the_login_form(svc: Service):
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        page = browser.new_page()
        page.goto(svc.url + "/")
        page.fill("input[name=token]", "not-the-token-at-all")
        page.click("button:text('Sign in')")
        expect(page.locator(".error")).to_have_text("Wrong token.")
        browser.close()


def test_a_url_reported_in_the_form_is_shown_with_screenshot_hashes_and_custody(
    page, svc: Service, site: AdSite
):
    page.fill("input[name=url]", site.url("/ad/3?ui"))
    page.fill("form.report input[name=case]", "UI-1")
    page.fill("input[name=note]", "reported from the web page")
    started = time.monotonic()
    page.click("button:text('Capture now')")
    # The capture page updates itself until the capture is stored.
    expect(page.locator("h1 .status")).to_have_text("stored", timeout=60_000)
    shot = page.locator("#screenshot")
    expect(shot).to_be_visible()
    # Typically 2-4 s here (README); the bound only catches a lost warm browser, since the
    # machine is shared with other browsers while tests run.
    assert time.monotonic() - started < 15
    assert page.evaluate("document.getElementById('screenshot').naturalWidth") == 1280
    request_id = int(page.url.rsplit("/", 1)[1])
    capture = svc.get(f"/api/captures/{request_id}").json()["capture"]
    expect(page.locator("#final-url")).to_have_text(site.url("/ad/3?ui"))
    expect(page.locator("#http-status")).to_have_text("200")
    expect(page.locator("#captured-at")).to_have_text(capture["captured_at"])
    for kind in ("warc", "screenshot", "dom", "pdf"):
        expected = capture["warc_sha256" if kind == "warc" else f"{kind}_sha256"]
        expect(page.locator(f"td.hash[data-file={kind}]")).to_have_text(expected)
    actions = page.locator("table.custody tbody tr td:nth-child(3)")
    expect(actions).to_have_text(["capture", "report"])
    expect(page.locator("table.custody")).to_contain_text("reported from the web page")
    # Showing the screenshot was an access to the evidence: the next view of the log has it.
    page.reload()
    expect(actions).to_have_text(["capture", "report", "access"])
    expect(page.locator("table.custody tr.action-access td.actor")).to_have_text("alice")
    expect(page.locator("a:text('WARC file')")).to_have_attribute(
        "href", f"/api/captures/{request_id}/warc"
    )


def test_the_list_shows_status_changes_and_thumbnails_without_reloading(
    page, svc: Service, slow_site: Recorder
):
    request_id = svc.report(slow_site.url("/slow"), case="UI-2")["id"]
    page.goto(svc.url + "/")
    page.evaluate("window.__not_reloaded = true")
    row = page.locator(f"tr[data-report='{request_id}']")
    assert row.locator(".status").inner_text() in ("queued", "running")
    expect(row.locator(".status")).to_have_text("stored", timeout=60_000)
    expect(row.locator("td.http")).to_have_text("200")
    thumb = row.locator("td.thumb img")
    expect(thumb).to_be_visible()
    # A function, not an expression: Playwright polls an expression through eval(), which the
    # service's CSP (script-src 'self', no 'unsafe-eval') rightly refuses.
    page.wait_for_function(
        f"() => document.querySelector(\"tr[data-report='{request_id}'] td.thumb img\")"
        ".naturalWidth > 0"
    )
    assert page.evaluate("window.__not_reloaded") is True


def test_a_bad_url_in_the_form_gets_a_clear_message_and_keeps_what_was_typed(page):
    page.fill("input[name=url]", "http://")
    page.evaluate(
        "document.querySelector('input[name=url]').type = 'text'"
    )  # skip the browser's check
    page.fill("input[name=url]", "ftp://example.org/x")
    page.fill("form.report input[name=case]", "UI-3")
    page.click("button:text('Capture now')")
    expect(page.locator(".error")).to_contain_text("only http and https URLs can be captured")
    expect(page.locator("form.report input[name=case]")).to_have_value("UI-3")


def test_the_api_docs_render_from_the_service_alone(page, svc: Service):
    """Swagger UI comes from the service itself, so /docs works on a network without internet."""
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    page.goto(svc.url + "/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("lastseen capture service")
    expect(page.locator(".opblock-summary-path[data-path='/api/captures']").first).to_be_visible()
    assert hosts == {svc.url.split("/")[2]}


def test_a_captured_page_does_not_run_on_the_service_origin(
    page, svc: Service, hostile_site: Recorder
):
    request_id = svc.report(hostile_site.url("/hostile"), case="XSS-1")["id"]
    assert svc.wait(request_id)["status"] == "stored"
    assert b"XSS-STOLEN" in svc.get(f"/api/captures/{request_id}/dom").body
    # The signed-in analyst opens the captured DOM (and every other captured file) by its URL.
    for kind in ("dom", "screenshot", "pdf", "warc"):
        try:
            page.goto(f"{svc.url}/api/captures/{request_id}/{kind}")
        except PlaywrightError as exc:  # a download, not a page
            assert "Download is starting" in str(exc)
    page.wait_for_timeout(2000)  # what the script would have needed to file its request
    assert svc.get("/api/captures?case=XSS-STOLEN").json()["captures"] == []
    for kind in ("dom", "screenshot", "pdf", "warc"):
        reply = svc.get(f"/api/captures/{request_id}/{kind}")
        assert reply.headers["content-disposition"].startswith("attachment;")
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["content-security-policy"].startswith("sandbox")
    # The pages' own policy: scripts of the service's files only, never framed, no referrer.
    response = page.goto(f"{svc.url}/captures/{request_id}")
    assert response is not None
    expect(page.locator("h1 .status")).to_have_text("stored")
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert headers["referrer-policy"] == "no-referrer"


def test_a_page_on_another_port_cannot_file_a_report_as_the_analyst(
    page, svc: Service, forger: Recorder
):
    page.goto(forger.url("/forge"))
    # The forged form was sent, with the session cookie, after the forged API call.
    page.wait_for_url(lambda url: url.startswith(svc.url))
    assert svc.get("/api/captures?case=CSRF-1").json()["captures"] == []
    expect(page.locator("body")).to_contain_text("another origin")
    # The service's own form still works, and it carries a token bound to the session.
    page.goto(svc.url + "/")
    token = page.locator("form.report input[name=csrf]").get_attribute("value")
    assert token and len(token) == 64
    page.fill("input[name=url]", "http://forged.example/own-form")
    page.fill("form.report input[name=case]", "CSRF-2")
    page.evaluate("document.querySelector('form.report input[name=csrf]').value = 'f'.repeat(64)")
    page.click("button:text('Capture now')")
    expect(page.locator(".error")).to_contain_text("This form has expired")
    assert svc.get("/api/captures?case=CSRF-2").json()["captures"] == []
