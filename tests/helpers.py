"""Helpers the tests share: paths, feed parsing, the CLI, sample posts. Fixtures are in
conftest.py; tests import helpers from here, never from each other."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import feedparser
from click.testing import CliRunner
from lxml import etree

from feedpub.cli import cli
from feedpub.config import load_config
from feedpub.formats import Format
from feedpub.models import BodyFormat, Post
from feedpub.urls import pattern_url

PROJECT = Path(__file__).resolve().parent.parent
SHARED_CORPUS = PROJECT.parent / "shared" / "corpus" / "real"
BASE_URL = "https://news.example.org/"

WritePost = Callable[..., Path]
"""The write_post fixture: write_post("a.md", title="A", body="text", **front_matter)."""


def parse_back(data: bytes) -> tuple[feedparser.FeedParserDict, etree._Element]:
    """Parse feed bytes as a reader would (feedparser, from bytes) and as XML (lxml)."""
    parsed = feedparser.parse(io.BytesIO(data))
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed, etree.fromstring(data)


def output_files(folder: Path) -> set[str]:
    """Every file feedpub wrote below the output `folder`, but its own state."""
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and ".feedpub" not in p.relative_to(folder).parts
    }


def feed_files(folder: Path) -> list[Path]:
    """The RSS and Atom feeds below `folder`: by feedpub's names, and every `.xml` file an
    output folder's manifest names (a site feed where the site's generator writes it)."""
    found = {p for p in folder.rglob("*.xml") if p.name in ("rss.xml", "atom.xml")}
    for manifest in folder.rglob(".feedpub/manifest.json"):
        try:
            files = json.loads(manifest.read_text("utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a test's damaged manifest
        found |= {manifest.parent.parent / f for f in files if str(f).endswith(".xml")}
    return sorted(p for p in found if p.is_file())


def json_feed_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(Format.JSON.file_name))


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on loopback, each feed with its media type; yields the base URL.

    The port is bound first, so a site can be built for that URL and then served."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map: ClassVar[dict[str, str]] = {
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".json": Format.JSON.media_type,
            ".opml": "text/x-opml",
            ".xml": "application/xml",
        }

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run(*args: str | Path) -> tuple[int, str, str]:
    """The CLI through click's runner: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def build(posts: Path, output: Path, *extra: str) -> tuple[int, str, str]:
    return run("build", "--posts", posts, "--output", output, "--base-url", BASE_URL, *extra)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every feed file below `folder` → its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in feed_files(folder)}


def write_many(posts: Path, count: int, start: int = 0, words: int = 400) -> None:
    """`count` ordinary posts in a small category tree, each with a body of `words` words."""
    for n in range(start, start + count):
        folder = posts / f"area{n % 3}" / f"source{n % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        body = " ".join(f"word{(n * 7 + i) % 997}" for i in range(words))
        (folder / f"post-{n}.md").write_text(
            f"---\ntitle: Post {n}\ncategories: [Area {n % 3}, Source {n % 7}]\n"
            f"date: 2021-{1 + n % 12:02d}-{1 + n % 28:02d} {n % 24:02d}:00:00\n"
            f"thumbnail: https://img.example.org/{n}.jpg\n---\n\n<p>{body}</p>\n",
            "utf-8",
        )


def post(source: str, day: int = 1, *paths: tuple[str, ...], **fields: Any) -> Post:
    """A Post as the reader would make it, dated 2021-08-`day`, in category `paths`."""
    defaults: dict[str, Any] = {
        "source": source,
        "title": source,
        "date": dt.datetime(2021, 8, day, 12, tzinfo=dt.UTC),
        "updated": None,
        "categories": paths,
        "tags": (),
        "author": None,
        "thumbnail": None,
        "summary": None,
        "draft": False,
        "url": "",
        "body_format": BodyFormat.HTML,
        "digest": "0" * 32,
    }
    defaults.update(fields)
    if not defaults["url"]:
        config = load_config(None, {"base_url": BASE_URL})
        defaults["url"] = pattern_url(config, source, defaults["date"], None)
    return Post(**defaults)
