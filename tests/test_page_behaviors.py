"""In-page behaviors (browsertrix-behaviors) in real captures: what they fetch is recorded whole,
they stay within the capture's deadline, the provenance says what ran, a Telegram channel is
captured with its older posts and its posts are followed, and without the library a capture
warns and goes on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.exceptions import InputError
from crawler.page.behaviors import MAX_LOG, BehaviorState, parse_site_hosts, site_of
from crawler.plan.follow import matching_links
from demo.lazymedia import MediaSite
from demo.site import png
from demo.social import GROUP, WIDTHS, SocialSite
from demo.telegram import TelegramSite
from tests.conftest import invoke, run_cli
from tests.warcs import Rec, read_warc

CHANNEL = "smugglers_ads"


@pytest.fixture(scope="module")
def media() -> Iterator[MediaSite]:
    site = MediaSite().start()
    yield site
    site.stop()


def capture(url: str, store: Path, *args: str, **env: str) -> tuple[dict[str, Any], list[Rec], str]:
    proc = run_cli("capture", url, "--json", *args, store=store, **env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return out, read_warc(out["warc"]), proc.stderr


def provenance(records: list[Rec]) -> dict[str, Any]:
    return next(r.json() for r in records if r.target.startswith("urn:provenance:"))


def responses(records: list[Rec], path: str) -> list[Rec]:
    return [r for r in records if r.type == "response" and r.target.endswith(path)]


@pytest.fixture(scope="module")
def gallery(media: MediaSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("gallery") / "evidence"
    out, records, stderr = capture(media.url("/gallery"), store)
    return {"out": out, "records": records, "prov": provenance(records), "stderr": stderr}


def test_srcset_variants_and_lazy_backgrounds_the_behaviors_fetch_are_whole_in_the_warc(
    gallery, media
):
    records = gallery["records"]
    # The 2x variant is on another origin (a CDN): the library fetched it in no-cors mode and
    # dropped the response after its head; the recorder had read the body in the browser first.
    for name in ("photo-2x", "lazy-bg"):
        found = responses(records, f"/pic/{name}.png")
        assert found, f"{name} was not fetched"
        for rec in found:
            assert rec.http_status == 200
            assert len(rec.payload) == len(media.pictures[name])
            assert hashlib.sha256(rec.payload).hexdigest() == media.sha256(name)
            assert rec.header("WARC-Truncated") is None
            assert rec.header("WARC-Payload-Digest") == f"sha256:{media.sha256(name)}"


def test_the_provenance_lists_the_behaviors_that_ran_how_long_what_they_said_and_if_they_finished(
    gallery,
):
    behaviors = gallery["prov"]["behaviors"]
    assert behaviors["ran"] is True and behaviors["finished"] is True
    assert behaviors["library"] == "browsertrix-behaviors 0.8.4"
    assert len(behaviors["script_sha256"]) == 64
    frame = behaviors["frames"][0]
    assert frame["behaviors"] == ["Autofetcher", "Autoplay", "Autoscroll"]
    assert frame["autofetched"] >= 2
    assert 0 < behaviors["seconds"] <= behaviors["budget_s"] + 2
    messages = [entry["msg"] for entry in behaviors["log"]]
    assert any("non-cors" in m and "photo-2x.png" in m for m in messages)
    assert any("lazy-bg.png" in m for m in messages)
    assert "behaviors" in gallery["prov"]["timings_s"]


def test_a_body_the_page_gives_up_on_after_its_head_is_still_recorded_whole(media, tmp_path):
    """What the library means its no-cors autofetch to do (abort once the head is in), done by
    the page itself: the recorder reads the body in the browser before the page sees the head."""
    _, records, _ = capture(media.url("/abort"), tmp_path / "evidence")
    (rec,) = responses(records, "/pic/lazy-bg.png")
    assert hashlib.sha256(rec.payload).hexdigest() == media.sha256("lazy-bg")
    failed = provenance(records)["failed_or_blocked"]
    assert [f["error"] for f in failed if f["url"].endswith("lazy-bg.png")] == [
        "canceled (net::ERR_ABORTED)"
    ], "the page's abort is told as it happened"


def test_without_the_library_a_capture_warns_and_still_captures(media, tmp_path):
    out, records, stderr = capture(
        media.url("/gallery"), tmp_path / "evidence", LASTSEEN_BEHAVIORS_SCRIPT="/nowhere/bx.js"
    )
    assert "browsertrix-behaviors not found" in stderr and "make setup" in stderr
    assert out["outcome"] == "ok" and out["screenshot_sha256"]
    prov = provenance(records)
    assert prov["behaviors"]["ran"] is False
    assert "not installed" in prov["behaviors"]["why"]
    assert prov["scroll"]["reached_end"] is True, "the plain scroll still runs"
    assert not responses(records, "/pic/lazy-bg.png"), "nothing fetched a behavior would have"


def test_a_page_with_behaviors_stays_within_its_deadline(tmp_path):
    """A long channel keeps the Telegram behavior busy far beyond a 12 s capture."""
    site = TelegramSite({CHANNEL: 400}, page_size=20).start()
    try:
        out, records, _ = capture(
            site.url(f"/s/{CHANNEL}"), tmp_path / "evidence", "--timeout", "12",
            LASTSEEN_SITE_HOSTS=f"127.0.0.1:{site.port}=telegram",
        )  # fmt: skip
    finally:
        site.stop()
    prov = provenance(records)
    behaviors = prov["behaviors"]
    assert behaviors["site"] == "telegram" and behaviors["main_behavior"] == "Telegram"
    assert behaviors["finished"] is False, "stopped by the deadline, and it says so"
    assert behaviors["budget_s"] < 12, "20 s for a site behavior, cut to what the deadline left"
    assert behaviors["seconds"] <= behaviors["budget_s"] + 0.5
    timings = prov["timings_s"]
    assert timings["load"] + timings["network_idle"] + timings["behaviors"] <= 12
    assert out["outcome"] == "ok"
    # From the first request to the sealed file: the deadline, then the shot, print and sealing.
    captured = _parse(out["finished_at"]) - _parse(out["captured_at"])
    assert captured <= 12 + 6, f"capture took {captured:.1f} s"


def _parse(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_site_hosts_map_a_host_to_a_site_only_where_the_sites_path_is():
    hosts = parse_site_hosts("127.0.0.1:8123=telegram, localhost=x")
    assert hosts == {"127.0.0.1:8123": "telegram", "localhost": "x"}
    assert site_of("http://127.0.0.1:8123/s/channel", hosts) == "telegram"
    assert site_of("http://127.0.0.1:8123/channel/12", hosts) is None
    assert site_of("https://t.me/s/channel", {}) == "telegram"
    assert site_of("https://t.me/channel/12", {}) is None
    assert site_of("https://www.instagram.com/someone/", {}) == "instagram"
    assert site_of("https://x.com/someone", {}) == "x"
    assert site_of("https://ads.example/ad/1", {}) is None
    with pytest.raises(InputError, match="unknown site"):
        parse_site_hosts("127.0.0.1=myspace")


def test_a_telegram_channel_is_captured_with_older_posts_and_a_scheduled_crawl_follows_its_posts(
    tmp_path,
):
    # 9 posts, 4 a page: the channel page shows 6-9; 2-5 and 1 load only as the top is reached.
    site = TelegramSite({CHANNEL: 9}, page_size=4).start()
    seeds = tmp_path / "watch.yaml"
    seeds.write_text(
        f"- url: {site.url(f'/s/{CHANNEL}')}\n"
        "  every: 1d\n  case: TG-1\n  depth: 1\n"
        f'  follow: ["/{CHANNEL}/*"]\n'
    )
    try:
        proc = run_cli(
            "crawl", str(seeds), "--due", "--json", store=tmp_path / "evidence", timeout=240,
            LASTSEEN_SITE_HOSTS=f"127.0.0.1:{site.port}=telegram",
        )  # fmt: skip
    finally:
        site.stop()
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summary, captures = lines[-1]["summary"], {c["url"]: c for c in lines[:-1]}
    channel = captures[site.url(f"/s/{CHANNEL}")]
    records = read_warc(channel["warc"])
    behaviors = provenance(records)["behaviors"]
    assert behaviors["main_behavior"] == "Telegram" and behaviors["finished"] is True
    said = [entry["msg"] for entry in behaviors["log"]]
    assert any(f"Loading Message: {CHANNEL}/1" in m for m in said), "walked to the oldest post"
    older = [r for r in records if r.type == "response" and "before=" in r.target]
    assert [r.target.rsplit("=", 1)[1] for r in older] == ["6", "2"]
    assert all(r.http_status == 200 for r in older)
    dom = next(r for r in records if r.target.startswith("urn:dom:")).payload.decode()
    assert all(f'data-post="{CHANNEL}/{n}"' in dom for n in range(1, 10))
    # Every post's permalink was offered to the follow rule and captured in the same run.
    permalinks = {site.url(f"/{CHANNEL}/{n}") for n in range(1, 10)}
    assert permalinks <= set(behaviors["links"])
    assert permalinks <= set(captures)
    assert summary["followed"] == 9
    assert all(captures[url]["outcome"] == "ok" for url in permalinks)


def test_a_signed_in_groups_feed_is_scrolled_by_the_behaviors_and_its_posts_followed_in_the_run(
    tmp_path,
):
    """The stand-in social site (demo/social.py): 12 posts, 3 a screen, the rest by XHR as the
    feed is scrolled; every post's photo in srcset (320, 640, 1280 pixels wide)."""
    site = SocialSite(posts=12, page_size=3).start()
    store, env = tmp_path / "evidence", {"LASTSEEN_PROFILES": str(tmp_path / "profiles")}
    try:
        (tmp_path / "state.json").write_text(json.dumps(site.storage_state(site.sign_in())))
        imported = invoke("profile", "import", "anna", str(tmp_path / "state.json"),
                          "--account", "Anna V.", store=store, **env)  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        seeds = tmp_path / "watch.yaml"
        seeds.write_text(
            f"- url: {site.url(f'/group/{GROUP}')}\n"
            '  profile: anna\n  depth: 1\n  follow: ["/post/*"]\n'
        )
        proc = run_cli("crawl", str(seeds), "--due", "--json", store=store, timeout=300, **env)
    finally:
        site.stop()
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summary, captures = lines[-1]["summary"], {c["url"]: c for c in lines[:-1]}
    feed = captures[site.url(f"/group/{GROUP}")]
    records = read_warc(feed["warc"])
    behaviors = provenance(records)["behaviors"]
    assert behaviors["budget_s"] == 20.0, "a capture with a profile gets the site budget"
    assert behaviors["main_behavior"] == "Autoscroll" and behaviors["ran"]
    assert len(responses(records, "/api/graphql")) == 3, "scrolled to the feed's end"
    # Every variant of every post's photo, not only the one the screen needed, and whole.
    for n in range(1, 13):
        for width in WIDTHS[1:]:
            found = responses(records, f"/media/{n}-{width}.png")
            shade = (40 + 15 * n) % 256
            expected = png(width // 10, width // 18, (shade, 90, 160))
            assert found and all(r.payload == expected for r in found), (n, width)
    posts = {site.url(f"/post/{n}") for n in range(1, 13)}
    assert posts <= set(behaviors["links"])
    assert posts <= {url for url, c in captures.items() if c["outcome"] == "ok"}
    assert summary["followed"] == 12, "the posts the feed loaded on scroll, captured this run"


def test_what_a_page_sends_the_bindings_is_bounded_and_links_are_http_only():
    """``__bx_log`` and ``__bx_addLink`` are callable by the page itself, which may be hostile."""
    state = BehaviorState()
    for n in range(MAX_LOG + 50):
        state.on_log(None, {"data": {"msg": "x" * 10_000, "n": n}, "type": "info"})
    state.on_log(None, "not json")
    assert len(state.log) == MAX_LOG and state.dropped == 51
    assert all(len(entry["msg"]) <= 500 for entry in state.log)
    for link in ("javascript:alert(1)", "file:///etc/passwd", 42, "https://t.me/c/1",
                 "https://t.me/" + "a" * 70_000):  # fmt: skip
        state.on_link(None, link)
    assert state.links == ["https://t.me/c/1"]


def test_the_readmes_telegram_rules_follow_posts_and_older_pages_of_that_channel_only():
    seed = "https://t.me/s/somechannel"
    links = [
        "https://t.me/somechannel/120",
        "https://t.me/s/somechannel?before=101",
        "https://t.me/otherchannel/7",
        "https://t.me/s/otherchannel?before=3",
        "https://telegram.org/apps",
    ]
    rules = ["/somechannel/*", "/s/somechannel?before=*"]
    assert [link for link, _ in matching_links(rules, seed, links)] == links[:2]


def test_a_host_mapped_to_facebook_gets_what_facebook_com_gets(media, tmp_path):
    """The library's Facebook behavior is off upstream: a mapped host runs autoscroll, with the
    site's budget, as facebook.com would; nothing forces a behavior upstream switched off."""
    _, records, _ = capture(
        media.url("/gallery"),
        tmp_path / "evidence",
        LASTSEEN_SITE_HOSTS=f"127.0.0.1:{media.port}=facebook",
    )
    behaviors = provenance(records)["behaviors"]
    assert behaviors["site"] == "facebook" and behaviors["budget_s"] == 20.0
    assert behaviors["main_behavior"] == "Autoscroll"
