"""A URL, case or note cannot carry terminal escapes: refused where it comes in (command line,
seed file; the API in test_service_hardening.py), and written as escapes wherever the CLI prints
one that is already in a catalog."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from archive import Archive, ArchiveConfig
from crawler.exceptions import InputError
from crawler.plan.seeds import check_url
from tests.conftest import invoke
from tests.test_archive_revisit import T0, capture, page

# ESC ] 0; retitles the terminal window; CSI as one C1 byte; DEL; a right-to-left override.
HOSTILE = ["\x1b]0;pwned\x07", "\x9b31m", "\x7f", "\u202e", "\u2066", "\u200b"]
RAW = ("\x1b", "\x07", "\x9b", "\x7f", "\u202e", "\u2066", "\u200b")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_url_with_control_or_direction_characters_is_refused(hostile: str):
    with pytest.raises(InputError, match=f"U\\+{ord(hostile[0]):04X}") as refused:
        check_url(f"http://ads.example/ad/7{hostile}")
    assert not any(ch in str(refused.value) for ch in RAW), "the refusal itself prints no escape"


def test_capture_and_crawl_refuse_such_a_url_with_one_line(store: Path):
    url = "http://ads.example/ad/7\x1b]0;pwned\x07"
    result = invoke("capture", url, store=store)
    assert result.returncode == 2, result.stderr
    assert "\\x1b]0;pwned\\x07" in result.stderr
    assert not any(ch in result.stdout + result.stderr for ch in RAW)
    seeds = store.parent / "seeds.txt"
    seeds.write_text(f"http://ads.example/ok\n{url}\n", encoding="utf-8")
    result = invoke("crawl", str(seeds), store=store)
    assert result.returncode == 2, result.stderr
    assert "line 2" in result.stderr and "U+001B" in result.stderr
    assert not any(ch in result.stdout + result.stderr for ch in RAW)


def test_what_an_old_catalog_holds_is_printed_escaped(store: Path):
    url = "http://ads.example/ad/7?\x1b]0;pwned\x07\x9b31m[red]x[/]\u202e"
    # The browser sent it percent-encoded; the catalog keeps the URL as it was given.
    hostile = capture("http://ads.example/ad/7", page("Boat", 450), T0)
    hostile.requested_url = hostile.final_url = url
    hostile.case_id = "BXL-\x1b[2J1"
    hostile.note = "seen\x9b\u2066 twice"
    archive = Archive.open(ArchiveConfig(store=str(store), operator="op\x1b[8m"))
    sealed = archive.seal(hostile)
    again = capture("http://ads.example/ad/7", page("Boat", 450), T0 + timedelta(hours=1))
    again.requested_url = again.final_url = url
    archive.seal(again)
    archive.close()
    outputs = {
        "show": invoke("show", str(sealed.id), store=store),
        "ls": invoke("ls", store=store, COLUMNS="400"),  # a table fits the terminal
        "history": invoke("history", url, store=store),
    }
    for name, result in outputs.items():
        assert result.returncode == 0, (name, result.stderr)
        assert not any(ch in result.stdout for ch in RAW), (name, result.stdout)
        assert "\\x1b]0;pwned\\x07\\x9b31m" in result.stdout, (name, result.stdout)
    assert "[red]x[/]\\u202e" in outputs["ls"].stdout, "rich markup in a URL is text"
    assert "BXL-\\x1b[2J1" in outputs["show"].stdout
    assert "seen\\x9b\\u2066 twice" in outputs["show"].stdout
    assert "op\\x1b[8m" in outputs["show"].stdout
    # JSON escapes them the JSON way and keeps the value.
    for args in (("show", str(sealed.id)), ("ls",), ("history", url)):
        result = invoke(*args, "--json", store=store)
        assert result.returncode == 0, (args, result.stderr)
        assert not any(ch in result.stdout for ch in RAW), (args, result.stdout)
        assert url in [json.loads(line).get("url") for line in result.stdout.splitlines()]
