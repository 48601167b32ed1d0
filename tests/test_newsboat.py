"""The feeds in a real reader: Debian's newsboat fetches every XML feed of the sample site
from a loopback server, and what it stores in its cache (titles, links, dates, bodies) is
what feedparser reads from the same bytes.

Skipped when newsboat is not installed (`apt-get install newsboat`).
"""

from __future__ import annotations

import calendar
import shutil
import sqlite3
import subprocess
from pathlib import Path

import feedparser
import pytest

from feedpub.formats import Format
from tests.helpers import build, feed_files, serve

NEWSBOAT = shutil.which("newsboat")
SAMPLE_POSTS = Path(__file__).resolve().parent.parent / "posts"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not NEWSBOAT, reason="newsboat is not installed"),
]


def reload(urls: list[str], home: Path) -> sqlite3.Connection:
    """Run newsboat's non-interactive reload over `urls`; its cache, once it has finished."""
    home.mkdir()
    (home / "urls").write_text("".join(f"{url}\n" for url in urls), "utf-8")
    (home / "config").write_text(
        f"error-log {home / 'errors.log'}\ndownload-retries 1\ndownload-timeout 20\n", "utf-8"
    )
    files = ("-C", home / "config", "-u", home / "urls", "-c", home / "cache.db")
    subprocess.run(
        [str(NEWSBOAT), *map(str, files), "-x", "reload"],
        check=True,
        timeout=120,
        capture_output=True,
        env={"HOME": str(home), "LANG": "C.UTF-8"},
    )
    errors = home / "errors.log"
    assert not errors.exists() or not errors.read_text("utf-8").strip(), errors.read_text("utf-8")
    return sqlite3.connect(home / "cache.db")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("newsboat") / "site"
    code, _, err = build(SAMPLE_POSTS, output)
    assert code == 0, err
    return output


def test_newsboat_loads_every_feed_with_its_title(site: Path, tmp_path: Path) -> None:
    feeds = feed_files(site)
    assert len(feeds) > 10
    with serve(site) as base:
        urls = {base + feed.relative_to(site).as_posix(): feed for feed in feeds}
        cache = reload(sorted(urls), tmp_path / "home")
    titles = dict(cache.execute("select rssurl, title from rss_feed"))
    assert set(titles) == set(urls)
    for url, feed in urls.items():
        assert titles[url] == feedparser.parse(feed.read_bytes()).feed.title, url


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
def test_newsboat_reads_the_items_feedparser_reads(site: Path, tmp_path: Path, fmt: Format) -> None:
    feed = site / fmt.file_name
    expected = feedparser.parse(feed.read_bytes()).entries
    assert expected
    with serve(site) as base:
        cache = reload([base + fmt.file_name], tmp_path / "home")
    rows = cache.execute("select guid, title, url, pubDate, content from rss_item").fetchall()
    stored = {guid: (title, url, date) for guid, title, url, date, _ in rows}
    assert stored == {
        entry.id: (entry.title, entry.link, calendar.timegm(entry.published_parsed))
        for entry in expected
    }
    assert all(content.strip() for *_, content in rows)
