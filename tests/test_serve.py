"""`feedpub serve` with real HTTP clients on loopback: feedparser, urllib, http.client."""

from __future__ import annotations

import functools
import gzip
import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feedpub import serving
from feedpub.cli import cli
from feedpub.config import Config, load_config
from feedpub.formats import Format
from feedpub.serve import PreviewServer, make_server
from tests.helpers import BASE_URL, PROJECT, WritePost
from tests.loopback import self_link

HUB = "https://hub.example/"


@pytest.fixture
def site(write_post: WritePost, posts: Path, tmp_path: Path) -> Config:
    write_post("a.md", title="A post", categories=["新媒体"], date="2021-08-09 10:00:00")
    out = tmp_path / "out"
    args = [
        "build",
        "--posts",
        posts,
        "--output",
        out,
        "--base-url",
        BASE_URL,
        "--hub",
        HUB,
        "--no-ping",
    ]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (out / "feeds.opml").is_file() and (out / "feeds" / "index.html").is_file()
    return load_config(None, {"posts": posts, "output": out, "base_url": BASE_URL, "hubs": (HUB,)})


@pytest.fixture
def server(site: Config) -> Iterator[PreviewServer]:
    server = make_server(site, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def get(
    server: PreviewServer, path: str, method: str = "GET", **headers: str
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """A raw request: http.client sends the path exactly as given (no `..` folding)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    try:
        connection.request(
            method, path, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_feeds_are_served_with_their_type_charset_and_websub_links(
    server: PreviewServer, site: Config
) -> None:
    for path, kind in (
        ("/rss.xml", "application/rss+xml"),
        ("/atom.xml", "application/atom+xml"),
        ("/categories/%E6%96%B0%E5%AA%92%E4%BD%93/rss.xml", "application/rss+xml"),
        ("/feed.json", "application/feed+json"),
        ("/categories/%E6%96%B0%E5%AA%92%E4%BD%93/feed.json", "application/feed+json"),
        ("/feeds.opml", "text/x-opml"),
        ("/feeds/", "text/html"),
    ):
        status, headers, body = get(server, path)
        assert status == 200, path
        assert headers["Content-Type"] == f"{kind}; charset=utf-8"
        assert headers["Cache-Control"] == "no-cache"
        assert int(headers["Content-Length"]) == len(body)
        links = headers.get_all("Link") or []
        if path.endswith((".xml", ".json")):
            self_url = self_link(body)
            assert links == [f'<{HUB}>; rel="hub"', f'<{self_url}>; rel="self"']
            assert self_url == BASE_URL + path.lstrip("/")
        else:
            assert links == []


def test_every_feed_format_has_its_media_type() -> None:
    for fmt in Format:
        assert serving.media_type(f"x/{fmt.file_name}") == f"{fmt.media_type}; charset=utf-8"
    assert serving.media_type("a.png") == "image/png"
    assert serving.media_type("feed.json").startswith("application/")


def test_feedparser_gets_304_with_etag_and_with_modified(server: PreviewServer) -> None:
    url = server.url + "rss.xml"
    first = feedparser.parse(url)
    assert first.status == 200 and not first.bozo and first.entries[0].title == "A post"
    assert [link.href for link in first.feed.links if link.rel == "hub"] == [HUB]
    again = feedparser.parse(url, etag=first.etag)
    assert again.status == 304 and again.entries == []
    since = feedparser.parse(url, modified=first.modified)
    assert since.status == 304
    older = feedparser.parse(url, modified="Mon, 01 Jan 2001 00:00:00 GMT")
    assert older.status == 200 and older.entries


def test_conditional_requests(server: PreviewServer, site: Config) -> None:
    status, headers, _ = get(server, "/atom.xml")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, headers, body = get(server, "/atom.xml", If_None_Match=f'"other", {etag}')
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag and headers.get_all("Link")  # 304s carry the headers too
    # If-None-Match wins over If-Modified-Since (RFC 9110).
    status, _, _ = get(server, "/atom.xml", If_None_Match='"other"', If_Modified_Since=modified)
    assert status == 200
    assert get(server, "/atom.xml", If_Modified_Since=modified)[0] == 304
    assert get(server, "/atom.xml", If_Modified_Since="not a date")[0] == 200
    # A new build of the file is a new version.
    feed = site.output / "atom.xml"
    os.utime(feed, ns=(feed.stat().st_atime_ns, feed.stat().st_mtime_ns + 5_000_000_000))
    assert get(server, "/atom.xml", If_None_Match=etag)[0] == 200
    assert get(server, "/atom.xml", If_Modified_Since=modified)[0] == 200


def test_gzip_only_when_asked(server: PreviewServer, site: Config) -> None:
    original = (site.output / "rss.xml").read_bytes()
    status, headers, body = get(server, "/rss.xml", Accept_Encoding="br, gzip;q=0.8")
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == original and len(body) < len(original)
    gzip_etag = headers["ETag"]
    # Each representation has its own tag; either one says "this version".
    plain_status, plain, body = get(server, "/rss.xml")
    assert plain_status == 200 and "Content-Encoding" not in plain and body == original
    assert plain["ETag"] != gzip_etag
    assert get(server, "/rss.xml", If_None_Match=gzip_etag)[0] == 304
    assert "Content-Encoding" not in get(server, "/rss.xml", Accept_Encoding="gzip;q=0")[1]
    # urllib, as a reader would use it, gets the same bytes.
    request = urllib.request.Request(server.url + "rss.xml", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert gzip.decompress(response.read()) == original


def test_head_and_other_methods(server: PreviewServer) -> None:
    status, headers, body = get(server, "/rss.xml", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, headers, _ = get(server, "/rss.xml", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_nothing_outside_the_output_folder_is_served(
    server: PreviewServer, site: Config, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (site.output / "escape").symlink_to(tmp_path)
    (site.output / "link.txt").symlink_to(secret)
    (site.output / "inside.xml").symlink_to(site.output / "rss.xml")
    for path in (
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/categories/..%2f..%2f../secret.txt",
        "/escape/secret.txt",
        "/link.txt",
    ):
        status, _, body = get(server, path)
        assert status == 403, path
        assert b"secret" not in body
    for path in ("/.feedpub/manifest.json", "/.feedpub/state.sqlite3", "/.feedpub/", "/nope.xml"):
        assert get(server, path)[0] == 404, path
    assert get(server, "/%ff")[0] == 400
    assert get(server, "/inside.xml")[0] == 200  # a symlink that stays inside is fine
    status, headers, _ = get(server, "/feeds")
    assert status == 301 and headers["Location"] == "/feeds/"
    status, headers, _ = get(server, "/")  # the front page of a preview: the index of feeds
    assert status == 302 and headers["Location"] == "/feeds/"
    assert get(server, "/categories/")[0] == 404  # no listing


def serve_process(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """`feedpub serve` as a real process; returns it and the URL it announced."""
    process = subprocess.Popen(
        [sys.executable, "-m", "feedpub", "serve", "--port", "0", *args],
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        # As from a terminal, where Ctrl-C interrupts: a test run started in the background
        # of a shell inherits SIGINT ignored, and so would the server, which `stop` ends so.
        preexec_fn=functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    for line in process.stderr:
        if found := re.search(r"at (http://127\.0\.0\.1:\d+/)", line):
            return process, found.group(1)
    raise AssertionError(f"serve did not start: {process.wait()}")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    return err


@pytest.mark.slow
def test_serve_process_stops_cleanly_on_ctrl_c(site: Config, tmp_path: Path) -> None:
    process, url = serve_process("--output", str(site.output), cwd=tmp_path)
    try:
        with urllib.request.urlopen(url + "atom.xml", timeout=5) as response:
            assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    finally:
        err = stop(process)
    assert "Stopped." in err and "Traceback" not in err
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "atom.xml", timeout=2)


def test_serve_needs_an_output_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--output", str(tmp_path / "none")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


@pytest.mark.slow
def test_watch_rebuilds_when_a_post_changes_and_survives_a_failed_rebuild(
    write_post: WritePost, posts: Path, tmp_path: Path
) -> None:
    pytest.importorskip("watchfiles")
    write_post("a.md", title="First", date="2021-08-09 10:00:00")
    (tmp_path / "feedpub.toml").write_text(f'base_url = "{BASE_URL}"\n')
    process, url = serve_process("--watch", cwd=tmp_path)
    try:
        assert feedparser.parse(url + "rss.xml").entries[0].title == "First"
        write_post("b.md", title="Second", date="2021-08-10 10:00:00")
        assert wait_for(lambda: feedparser.parse(url + "rss.xml").entries[0].title == "Second")
        (tmp_path / "feedpub.toml").write_text("base_url = 1\n")  # a rebuild that fails
        write_post("c.md", title="Third", date="2021-08-11 10:00:00")
        time.sleep(4)
        assert feedparser.parse(url + "rss.xml").entries[0].title == "Second"  # still serving
        (tmp_path / "feedpub.toml").write_text(f'base_url = "{BASE_URL}"\n')
        assert wait_for(lambda: feedparser.parse(url + "rss.xml").entries[0].title == "Third")
    finally:
        err = stop(process)
    assert "Rebuild (" in err and "failed" in err and "'base_url' must be" in err
    assert err.count("Rebuilt (") >= 2  # after each good change (the first build came before)


def wait_for(condition: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_serve_watch_in_site_mode_builds_the_site_first(tmp_path: Path) -> None:
    site = tmp_path / "blog"
    (site / "source" / "_posts").mkdir(parents=True)
    (site / "source" / "_posts" / "a.md").write_text(
        "---\ntitle: Hexo post\ndate: 2021-08-09 10:00:00\n---\nA\n", "utf-8"
    )
    (site / "_config.yml").write_text("url: https://blog.example\ntimezone: UTC\n", "utf-8")
    process, url = serve_process("--site", str(site), "--watch", cwd=tmp_path)
    try:
        parsed = feedparser.parse(url + "atom.xml")
        assert parsed.status == 200 and parsed.entries[0].title == "Hexo post"
    finally:
        stop(process)
    assert (site / "public" / "atom.xml").is_file()
