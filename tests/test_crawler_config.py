"""Settings and input are checked before a browser starts or a file is written."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from crawler.exceptions import InputError
from crawler.page.config import CaptureConfig
from crawler.plan.seeds import check_url, read_seed_file
from crawler.run import crawl_settings


def test_defaults_come_from_the_project_settings():
    config = CaptureConfig.from_settings(crawl_settings())
    assert config.timeout == 30 and config.viewport == (1280, 900) and config.pdf is True


def test_command_line_overrides_win():
    config = CaptureConfig.from_settings(crawl_settings({"CAPTURE_TIMEOUT": 7.5}))
    assert config.timeout == 7.5


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"CAPTURE_TIMEOUT": 0}, "timeout must be between"),
        ({"CAPTURE_VIEWPORT": "wide"}, "viewport must look like"),
        ({"CAPTURE_VIEWPORT": "10x10"}, "out of range"),
        ({"CAPTURE_SCROLL_TIMEOUT": -1}, "cannot be negative"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(settings, message):
    with pytest.raises(InputError, match=message):
        CaptureConfig.from_settings(Settings(settings))


def test_each_capture_gets_a_fresh_context_that_blocks_service_workers():
    kwargs = CaptureConfig().context_kwargs()
    assert kwargs["service_workers"] == "block"
    assert kwargs["viewport"] == {"width": 1280, "height": 900}


@pytest.mark.parametrize("url", ["https://ads.example/ad/1?x=1", "http://127.0.0.1:8080/"])
def test_http_and_https_urls_are_accepted(url):
    assert check_url(f"  {url} ") == url


def test_seed_files_skip_comments_blanks_and_duplicates(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_text("# watched\nhttps://a.example/1\n\n  https://a.example/2  \nhttps://a.example/1\n")
    assert [s.url for s in read_seed_file(path, case="K")] == ["https://a.example/1", "https://a.example/2"]
    assert {s.case for s in read_seed_file(path, case="K")} == {"K"}


def test_an_empty_seed_file_is_an_error(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_text("# nothing yet\n")
    with pytest.raises(InputError, match="has no URLs"):
        read_seed_file(path)


def test_the_archive_settings_of_a_crawl_give_back_the_archive_config(tmp_path):
    from archive import ArchiveConfig

    config = ArchiveConfig.from_env(store=str(tmp_path / "evidence"), db="sqlite:///x.db", operator="me")
    settings = crawl_settings(config.settings())
    assert ArchiveConfig.from_settings(settings) == config
    assert ArchiveConfig.from_settings(crawl_settings({"ARCHIVE_DEDUP": True})).dedup is True
    assert ArchiveConfig.from_settings(crawl_settings({"ARCHIVE_DEDUP": "0"})).dedup is False
    assert ArchiveConfig.from_settings({}).store == ArchiveConfig.from_env().store
