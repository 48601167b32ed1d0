"""The index page in a real browser: Debian's headless Chromium, driven by Selenium through
chromium-driver, loading the page from a loopback HTTP server. Its autodiscovery links are
found and followed, every feed link opens a feed, and it fits a phone's width.

Skipped when chromium or chromium-driver is not installed (`apt-get install chromium
chromium-driver`). Set FEEDPUB_SCREENSHOTS to a folder to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from feedpub.formats import INDEX_FILE, OPML_FILE, Format
from tests.helpers import WritePost, run, serve
from tests.test_site_files import HOSTILE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed"
    ),
]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def fetch(url: str) -> tuple[str, bytes]:
    assert url.startswith("http://127.0.0.1:")  # only ever loopback
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get_content_type(), response.read()


def test_index_page_in_chromium(
    browser: object,
    write_post: WritePost,
    posts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    monkeypatch.chdir(tmp_path)  # away from the sample site's feedpub.toml
    write_post("a.md", title="A", date="2021-08-09 08:00:00", categories=["新媒体", "观察者网"])
    write_post("b.md", title="B", date="2021-08-08 08:00:00", categories=["Tech"])
    for n, name in enumerate(HOSTILE):
        write_post(f"h{n}.md", title=f"H{n}", date=f"2021-08-0{n + 1}", categories=["Odd", name])
    out = tmp_path / "out"
    with serve(out) as base_url:
        code, _, err = run("build", "--posts", posts, "--output", out, "--base-url", base_url)
        assert code == 0, err
        browser.get(base_url + "feeds/")
        assert browser.title == "Feeds · feedpub"
        # no name ran as markup (an alert would have stopped Selenium here, too)
        assert browser.execute_script("return window.__pwned === undefined")
        assert browser.execute_script("return document.scripts.length") == 0

        # autodiscovery, as a browser extension or a reader finds it: <link> in <head>
        found = [
            (link.get_attribute("type"), link.get_property("href"))
            for link in browser.find_elements(By.CSS_SELECTOR, "head link[rel=alternate]")
        ]
        assert found == [(fmt.media_type, base_url + fmt.file_name) for fmt in Format]
        for media_type, href in found:
            served, data = fetch(str(href))
            if media_type == Format.JSON.media_type:
                assert served == media_type
                assert json.loads(data)["feed_url"] == href
            else:
                parsed = feedparser.parse(data)
                assert not parsed.bozo and parsed.feed.title == "feedpub"

        # every feed link in the page opens a feed; the OPML is linked
        feed_links = browser.find_elements(By.CSS_SELECTOR, ".formats a")
        assert len(feed_links) == 3 * (1 + 2 + 1 + 1 + len(HOSTILE))  # site, 新媒体 ×2, Tech, Odd
        for link in feed_links:
            _, data = fetch(str(link.get_property("href")))
            assert data.lstrip()[:1] in (b"<", b"{")
        opml = browser.find_element(By.CSS_SELECTOR, f"a[href$='{OPML_FILE}']")
        assert fetch(str(opml.get_property("href")))[1].startswith(b"<?xml")
        names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "a.name")]
        for name in HOSTILE:
            assert name in names  # shown as text, not markup

        # clicking a category's JSON link takes the browser to that feed
        browser.find_element(By.CSS_SELECTOR, "a[aria-label='JSON feed of Tech']").click()
        assert browser.current_url == base_url + "categories/Tech/feed.json"
        assert '"title": "feedpub › Tech"' in browser.find_element(By.TAG_NAME, "body").text

        shots = Path(os.environ.get("FEEDPUB_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
            browser.set_window_size(width, height)
            browser.get(base_url + "feeds/")
            # nothing wider than the window: no sideways scrolling on a phone
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{name}: {overflow}px wider than the window"
            assert browser.save_screenshot(str(shots / f"feeds-index-{name}.png"))
        assert (out / INDEX_FILE).is_file()
