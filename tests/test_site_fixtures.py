"""The fixture sites' committed expectations are well-formed and agree with the sites.

The expectations are written by tests/sites/regenerate.py from the real Hexo and Jekyll;
these checks need neither generator.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

from tests.helpers import PROJECT

SITES = Path(__file__).parent / "sites"
# expected*.json: fixture sites complete here; real.json: a site whose config and posts
# are in ../shared.
EXPECTATIONS = sorted([*SITES.glob("*/expected*.json"), *SITES.glob("*/real.json")])
POST_SUFFIXES = {".md", ".markdown", ".html"}
# Folders of a fixture site that hold no posts or pages of its own.
NOT_CONTENT = {"themes", "_layouts", "_includes", "_variants", "node_modules", "public", "_site"}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text} has no offset"
    return value


def shared_inputs(data: dict) -> Path | None:
    """The real posts a build took from ../shared, or None for a fixture site of its own."""
    if "posts_from" not in data:
        return None
    folder = PROJECT / data["posts_from"]
    if not folder.is_dir() or not (PROJECT / data["config"]).is_file():
        pytest.skip("../shared/ is not here (it is not part of the repository)")
    return folder


def post_files(site: Path, data: dict) -> set[str]:
    """Files the generator treats as posts or drafts, relative to the site root."""
    generator = data["generator"]
    real = shared_inputs(data)
    if real is not None:
        names = [p.name for p in real.glob("*.md") if p.name != "README.md"]
        return {f"source/_posts/{name}" for name in names}
    if generator == "hexo":
        roots = [site / "source" / "_posts", site / "source" / "_drafts"]
        candidates = [p for root in roots if root.is_dir() for p in root.rglob("*")]
    else:
        candidates = [
            p
            for p in site.rglob("*")
            if {"_posts", "_drafts"} & set(p.relative_to(site).parts[:-1])
        ]
    return {
        p.relative_to(site).as_posix()
        for p in candidates
        if p.is_file() and p.suffix in POST_SUFFIXES
    }


def content_files(site: Path) -> set[str]:
    """Every Markdown file of a site outside its theme and layouts."""
    return {
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file()
        and p.suffix in {".md", ".markdown"}
        and not NOT_CONTENT & set(p.relative_to(site).parts)
    }


def test_there_are_fixture_sites_for_both_generators() -> None:
    generators = {load(path)["generator"] for path in EXPECTATIONS}
    assert generators == {"hexo", "jekyll"}


@pytest.fixture(params=EXPECTATIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def expectation(request: pytest.FixtureRequest) -> tuple[Path, dict]:
    path: Path = request.param
    return path.parent, load(path)


def test_records_the_build(expectation: tuple[Path, dict]) -> None:
    site, data = expectation
    assert data["generator"] in ("hexo", "jekyll")
    assert data["versions"][data["generator"]], "the generator's version is recorded"
    if shared_inputs(data) is None:
        assert (site / data["config"]).is_file(), f"{data['config']} is in the site"
    assert data["environment"]["TZ"]
    instant(data["environment"]["file_mtime"].replace("Z", "+00:00"))


def test_site_values(expectation: tuple[Path, dict]) -> None:
    _, data = expectation
    site = data["site"]
    assert is_absolute(site["base_url"]) and site["base_url"].endswith("/")
    assert site["title"]
    assert site["language"]
    assert site["feeds"], "the generator wrote at least one feed"
    assert set(data["feeds"]) == set(site["feeds"])
    for feed in data["feeds"].values():
        assert feed["format"] in ("atom", "rss")
        assert is_absolute(feed["url"])


def test_every_post_file_has_an_entry(expectation: tuple[Path, dict]) -> None:
    site, data = expectation
    posts = set(data["posts"])
    assert post_files(site, data) == posts
    assert not posts & set(data["non_posts"])
    assert content_files(site) <= posts | set(data["non_posts"])
    for name in data["non_posts"]:
        assert (site / name).is_file()


def test_published_posts_are_complete(expectation: tuple[Path, dict]) -> None:
    _, data = expectation
    published = {k: v for k, v in data["posts"].items() if v["published"]}
    assert published
    for name, post in published.items():
        assert is_absolute(post["url"]), name
        assert post["url"].startswith(data["site"]["base_url"]), name
        assert isinstance(post["title"], str), name
        if post["date"] is None:
            # No date of its own: Hexo took the file's birth time, which only says when the
            # build copied it.
            assert post["date_source"] == "birthtime", name
        else:
            instant(post["date"])
        if post["updated"] is not None:
            instant(post["updated"])
        for term in post["categories"] + post["tags"]:
            assert term["name"], name
            # Hexo: the category or tag page; Jekyll has none, but jekyll-feed may write a feed.
            link = term["url"] if data["generator"] == "hexo" else term["feed"]
            assert link is None or is_absolute(link), name
        for asset in post.get("assets", []):
            assert asset.startswith(post["url"]), name
    by_url: dict[str, list[str]] = {}
    for name, post in published.items():
        by_url.setdefault(post["url"], []).append(name)
    shared = {url: names for url, names in by_url.items() if len(names) > 1}
    assert shared == data.get("shared_urls", {}), "posts share a page only where recorded"


def test_unpublished_posts_say_why(expectation: tuple[Path, dict]) -> None:
    _, data = expectation
    for name, post in data["posts"].items():
        if not post["published"]:
            assert post["reason"] in ("draft", "future", "published: false", "unreadable"), name
            assert "url" not in post, name


def test_feeds_hold_only_published_posts(expectation: tuple[Path, dict]) -> None:
    _, data = expectation
    published = {k for k, v in data["posts"].items() if v["published"]}
    in_feed = {k for k, v in data["posts"].items() if v.get("in_feed")}
    held: set[str] = set()
    for name, feed in data["feeds"].items():
        assert set(feed["posts"]) <= published, name
        held |= set(feed["posts"])
    assert held == in_feed


def test_no_template_tag_reaches_a_feed_outside_code(expectation: tuple[Path, dict]) -> None:
    # Hexo writes braces in code as &#123; &#125;; Jekyll leaves a {% raw %} block's `{% tag %}`
    # as it is, and only inside code.
    _, data = expectation
    for name, post in data["posts"].items():
        outside_code = re.sub(r"<code\b.*?</code>", "", post.get("content") or "", flags=re.S)
        assert "{%" not in outside_code, name


def test_the_seed_post_has_its_real_url() -> None:
    data = load(SITES / "hexo-abbrlink" / "expected.json")
    post = data["posts"]["source/_posts/新媒体/观察者网/首页/000-guancha.md"]
    assert post["url"] == "https://news.zfe.space/p/fe66.html"


def regenerate_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regenerate", SITES / "regenerate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_expectation_is_a_build_of_the_script() -> None:
    builds = regenerate_script().BUILDS
    made = {SITES / b.site / b.expected_name: b for b in builds}
    assert set(made) == set(EXPECTATIONS)
    for path, build in made.items():
        data = load(path)
        assert (data["generator"], data["config"], data["environment"]["TZ"]) == (
            build.generator,
            build.config,
            build.tz,
        )


def test_the_script_skips_generators_that_are_not_installed(tmp_path: Path) -> None:
    before = {path: path.read_bytes() for path in EXPECTATIONS}
    done = subprocess.run(
        [sys.executable, str(SITES / "regenerate.py"), "--cache", str(tmp_path / "cache")],
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "skipping the hexo sites: Hexo builds need node and npm" in done.stdout
    assert "skipping the jekyll sites: Jekyll builds need Debian's jekyll" in done.stdout
    assert {path: path.read_bytes() for path in EXPECTATIONS} == before
