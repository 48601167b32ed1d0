"""Site mode end to end: each fixture site built by feedpub, against what the real Hexo 8
and Jekyll 4 made of it (tests/sites/*/expected*.json, see tests/sites/README.md).

For every expectation: every published post is in the feeds with the generator's URL,
instant and title; nothing unpublished is; each category feed holds exactly that
category's posts; no template tag reaches a feed. A difference the site mode knowingly
keeps is listed in KNOWN_DIFFERENCES with its reason, and checked to be only that.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from feedpub.sites import clock
from feedpub.urls import slugify
from tests.helpers import SHARED_CORPUS, parse_back, run

SITES = Path(__file__).parent / "sites"
EXPECTATIONS = sorted(SITES.glob("*/expected*.json"))
KNOWN_DIFFERENCES = {
    # Hexo gives two posts with the same title one abbrlink (hex: hexo-abbrlink does not
    # look for collisions) and so one URL, where one page overwrites the other; feedpub
    # keeps both posts, the later with a suffix (its duplicate-permalink rule).
    "https://news.zfe.space/p/8621.html",
}


def copy_site(expectation: Path, into: Path) -> tuple[Path, dict[str, Any]]:
    """The fixture site as the generator saw it: its variant config, its files' mtime."""
    data = json.loads(expectation.read_text("utf-8"))
    site = into / expectation.parent.name
    shutil.copytree(
        expectation.parent,
        site,
        ignore=shutil.ignore_patterns("expected*.json", "_variants", "node_modules"),
    )
    if data["config"] != "_config.yml":
        shutil.copy(expectation.parent / data["config"], site / "_config.yml")
    mtime = dt.datetime.fromisoformat(data["environment"]["file_mtime"]).timestamp()
    for path in [site, *site.rglob("*")]:
        os.utime(path, (mtime, mtime))
    return site, data


@pytest.fixture
def machine_tz(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the machine's zone for one build, as the generator's build had it."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        clock.machine_zone_name.cache_clear()

    yield set_zone
    clock.machine_zone_name.cache_clear()


def entries(feed: Path) -> dict[str, Any]:
    parsed, _ = parse_back(feed.read_bytes())
    return {entry.link: entry for entry in parsed.entries}


@pytest.mark.parametrize("expectation", EXPECTATIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_site_builds_as_its_generator_does(
    expectation: Path, tmp_path: Path, machine_tz: Any
) -> None:
    site, data = copy_site(expectation, tmp_path)
    machine_tz(data["environment"]["TZ"])
    out = tmp_path / "out"
    code, stdout, stderr = run("build", "--site", site, "--output", out, "--limit", "1000")
    assert code == 0, stderr
    kind = "Hexo" if data["generator"] == "hexo" else "Jekyll"
    assert stdout.splitlines()[0].startswith(f"{kind} site at {site}: {data['site']['base_url']}")

    # The site feed is where the generator's feed plugin wrote it (its subscribers' URL),
    # with the generator's self link, and its items in the generator's order.
    formats = []
    for path, written in site_feeds(data).items():
        feed = out / path
        assert feed.is_file(), f"no site feed at {path}, where {kind} wrote it"
        parsed, _ = parse_back(feed.read_bytes())
        assert written["url"] in {link.href for link in parsed.feed.links if link.rel == "self"}
        formats.append(written["format"])
        found = entries(feed)
        for source, post in data["posts"].items():
            if not post["published"]:
                assert post.get("url") not in found, f"{source} is not published"
                continue
            if post["url"] in KNOWN_DIFFERENCES:
                continue
            entry = found.get(post["url"])
            assert entry is not None, f"{source}: no item links {post['url']} in {path}"
            # jekyll-feed smartifies titles (and escapes them twice: feedpub does not)
            title = html.unescape(post.get("feed_title", post["title"])).replace("&amp;", "&")
            assert entry.title == title, source
            assert _instant(entry.published) == dt.datetime.fromisoformat(post["date"]), source
        order = [
            data["posts"][s]["url"]
            for s in written["posts"]
            if data["posts"][s]["url"] not in KNOWN_DIFFERENCES
        ]
        shown = [link for link in found if link not in KNOWN_DIFFERENCES | _suffixed(data)]
        assert shown[: len(order)] == order, f"{path}: items not in {kind}'s order"
        published = {p["url"] for p in data["posts"].values() if p["published"]}
        assert set(found) - published <= _suffixed(data), "items the generator has no page for"

    if data["generator"] == "hexo":
        for page, category in data["site"]["category_pages"].items():
            folder = out / page.removesuffix("index.html")
            links = set(entries(folder / f"{formats[0]}.xml"))  # feedpub's names
            assert links - _suffixed(data) == {data["posts"][s]["url"] for s in category["posts"]}
    else:
        # jekyll-feed's `feed.categories`: a feed for each listed category only, at
        # feed/<category>.xml (Atom), with the generator's items in its order
        listed = {
            path.removeprefix("feed/").removesuffix(".xml"): written
            for path, written in data["feeds"].items()
            if path.startswith("feed/") and not path.startswith("feed/by_tag/")
        }
        for name, written in listed.items():
            links = list(entries(out / "feed" / f"{name}.xml"))
            assert links == [data["posts"][s]["url"] for s in written["posts"]], name
        for name, sources in data["site"]["categories"].items():
            folder = out / "categories" / slugify(name)
            if listed and name not in listed:
                assert not folder.exists(), f"{name} is not in feed.categories"
                continue
            links = set(entries(folder / "rss.xml"))  # the other formats: feedpub's names
            assert links == {data["posts"][s]["url"] for s in sources}, name

    for feed in out.rglob("*.xml"):
        assert b"{%" not in feed.read_bytes() and b"{{" not in feed.read_bytes(), feed


def site_feeds(data: dict[str, Any]) -> dict[str, Any]:
    """The generator's site feeds, by path: every feed hexo-generator-feed writes, and the
    one of jekyll-feed that is not below `feed/` (its category and tag feeds)."""
    return {
        path: feed
        for path, feed in data["feeds"].items()
        if data["generator"] == "hexo" or not path.startswith("feed/")
    }


def _instant(text: str) -> dt.datetime:
    import email.utils

    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return email.utils.parsedate_to_datetime(text)


def _suffixed(data: dict[str, Any]) -> set[str]:
    """URLs feedpub gives the second post of a URL the generator shared (KNOWN_DIFFERENCES)."""
    from feedpub.urls import disambiguate

    return {
        disambiguate(url, source.split("/", 1)[1])
        for url, sources in data.get("shared_urls", {}).items()
        for source in sources[1:]
    }


def test_tags_are_rendered_as_the_generator_renders_them(tmp_path: Path, machine_tz: Any) -> None:
    site, data = copy_site(SITES / "hexo-news" / "expected.json", tmp_path)
    machine_tz("UTC")
    out = tmp_path / "out"
    code, _, stderr = run("build", "--site", site, "--output", out, "--limit", "1000")
    assert code == 0, stderr
    post = data["posts"]["source/_posts/2024-01-15-tag-plugins.md"]
    html = entries(out / "atom.xml")[post["url"]].content[0].value
    assert "print(&quot;hello&quot;)" in html or 'print("hello")' in html
    assert "<cite>Wide Awake</cite>" in html
    assert 'src="https://example.org/blog/images/logo.svg"' in html
    assert 'href="https://example.org/blog/news/2019/06/18/version-3-released/"' in html
    assert ">Read the release notes</a>" in html
    assert "Back up your data <strong>before</strong> you upgrade." in html
    assert "{{ left as it is }}" not in html and "left as it is" in html
    assert "2024-01-15-tag-plugins.md:45: warning: template tag {% note %}" in stderr


def test_jekyll_liquid_is_rendered(tmp_path: Path, machine_tz: Any) -> None:
    site, data = copy_site(SITES / "jekyll-news" / "expected.json", tmp_path)
    machine_tz("UTC")
    out = tmp_path / "out"
    run("build", "--site", site, "--output", out, "--limit", "1000")
    post = data["posts"]["_posts/2019-09-09-liquid.md"]
    html = entries(out / "atom.xml")[post["url"]].content[0].value
    assert "The template says &#123;{ page.title }} here." in html
    assert 'href="https://news.example.net/project/about.html"' in html
    assert 'href="https://news.example.net/project/news/2013/05/05/version-0-1-released/"' in html
    assert "The site is at https://news.example.net." in html
    assert "Its base path is /project." in html


def test_detected_in_a_site_root_without_feedpub_toml(tmp_path: Path) -> None:
    site, data = copy_site(SITES / "hexo-news" / "expected.json", tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "feedpub", "build"],
        cwd=site,
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert (
        first
        == f"Hexo site at {site}: https://example.org/blog/, permalink news/:year/:month/:day/:title/"
    )
    feed, _ = parse_back((site / "public" / "atom.xml").read_bytes())  # the site's public_dir
    assert feed.feed.title == data["site"]["title"]
    # feed.type: [atom, rss2] with feed.path: [atom.xml, rss2.xml], as hexo-generator-feed names
    assert (site / "public" / "rss2.xml").exists() and not (site / "public" / "rss.xml").exists()


def test_feedpub_toml_beside_the_site_overrides_it_and_options_override_both(
    tmp_path: Path, machine_tz: Any
) -> None:
    site, data = copy_site(SITES / "jekyll-news" / "expected.json", tmp_path)
    machine_tz("UTC")
    (site / "feedpub.toml").write_text('title = "Overridden"\nlimit = 2\n', "utf-8")
    code, _, stderr = run("build", "--site", site, "--limit", "3")
    assert code == 0, stderr
    feed, _ = parse_back((site / "_site" / "atom.xml").read_bytes())  # Jekyll's destination
    assert feed.feed.title == "Overridden"  # feedpub.toml over _config.yml
    assert len(feed.entries) == 3  # the option over feedpub.toml
    assert feed.feed.link == data["site"]["base_url"]  # the rest from _config.yml


def test_check_reads_the_site_and_writes_nothing(tmp_path: Path, machine_tz: Any) -> None:
    site, _ = copy_site(SITES / "jekyll-news" / "expected.json", tmp_path)
    machine_tz("UTC")
    code, stdout, _ = run("check", "--site", site)
    assert code == 0
    assert stdout.startswith(f"Jekyll site at {site}: https://news.example.net/project/")
    assert "2 drafts" in stdout or "drafts" in stdout
    assert not (site / "_site").exists()


def test_a_folder_that_is_no_site_is_a_clear_error(tmp_path: Path) -> None:
    code, _, stderr = run("build", "--site", tmp_path)
    assert code == 2
    assert "not a Hexo site" in stderr and "nor a Jekyll site" in stderr


def test_the_real_site_as_hexo_and_hexo_abbrlink_build_it(tmp_path: Path, machine_tz: Any) -> None:
    """The real posts in a Hexo site with the real site's _config.yml, against what Hexo 8 and
    hexo-abbrlink made of the same (tests/sites/rsshub-page/real.json)."""
    config = SHARED_CORPUS.parent.parent / "sites" / "rsshub-page" / "_config.yml"
    if not SHARED_CORPUS.is_dir() or not config.is_file():
        pytest.skip("../shared/ is not here (it is not part of the repository)")
    expected = json.loads((SITES / "rsshub-page" / "real.json").read_text("utf-8"))
    machine_tz("UTC")
    site = tmp_path / "site"
    posts = site / "source" / "_posts"
    shutil.copytree(SHARED_CORPUS, posts, ignore=shutil.ignore_patterns("README.md"))
    shutil.copy(config, site / "_config.yml")
    out = tmp_path / "out"
    code, stdout, stderr = run("build", "--site", site, "--output", out, "--limit", "1000")
    assert code == 1, stderr  # the posts Hexo cannot read are skipped, as Hexo skips them
    first = f"Hexo site at {site}: https://news.zfe.space/, permalink p/:abbrlink.html"
    assert stdout.splitlines()[0] == first
    found = entries(out / "atom.xml")
    assert found["https://news.zfe.space/p/fe66.html"].title.startswith("河南省委书记")
    published = {s: p for s, p in expected["posts"].items() if p["published"]}
    assert set(found) == {p["url"] for p in published.values()}
    for source, post in published.items():
        entry = found[post["url"]]
        assert entry.title == post["title"], source
        if post["date"] is not None:  # the others are dated by the file's birth time
            assert _instant(entry.published) == dt.datetime.fromisoformat(post["date"]), source
    for source, post in expected["posts"].items():
        if not post["published"]:
            assert (
                f"{source.removeprefix('source/')}" in stderr and "cannot read it either" in stderr
            )


def test_jekyll_categories_that_differ_only_in_case_each_keep_a_feed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text("url: https://j.example\ntimezone: UTC\n", "utf-8")
    (site / "_posts" / "2020-01-01-a.md").write_text("---\ncategory: Release\n---\nA\n", "utf-8")
    (site / "_posts" / "2020-01-02-b.md").write_text("---\ncategory: release\n---\nB\n", "utf-8")
    out = tmp_path / "out"
    code, _, stderr = run("build", "--site", site, "--output", out)
    assert code == 0, stderr
    assert "category 'release' shares its folder with another" in stderr
    upper = set(entries(out / "categories" / "Release" / "atom.xml"))
    (lower_folder,) = [p for p in (out / "categories").iterdir() if p.name.startswith("release-")]
    lower = set(entries(lower_folder / "atom.xml"))
    assert upper == {"https://j.example/release/2020/01/01/a.html"}  # :categories is lowercased
    assert lower == {"https://j.example/release/2020/01/02/b.html"}


def test_the_site_feed_moves_with_the_generators_feed_path(tmp_path: Path, machine_tz: Any) -> None:
    site, data = copy_site(SITES / "jekyll-styles" / "expected.json", tmp_path)
    machine_tz("UTC")
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    code, _, stderr = run("build", "--site", site, "--output", out, "--report", report)
    assert code == 0, stderr
    # jekyll-feed's default path: feed.xml, an Atom feed; feedpub's other names stay
    assert (out / "feed.xml").is_file() and not (out / "atom.xml").exists()
    assert (out / "rss.xml").is_file() and (out / "feed.json").is_file()
    assert (out / "categories" / "tech" / "atom.xml").is_file()  # category feeds: feedpub's
    assert "feed.xml" in json.loads(report.read_text("utf-8"))["feeds"]["written"]
    # everything that points at the site's Atom feed points there
    index = (out / "feeds" / "index.html").read_text("utf-8")
    assert 'href="../feed.xml"' in index and 'href="../atom.xml"' not in index
    config = tmp_path / "atom.toml"
    config.write_text('opml_format = "atom"\n', "utf-8")
    code, _, stderr = run("build", "--site", site, "--output", out, "--config", config)
    assert code == 0, stderr
    opml = (out / "feeds.opml").read_text("utf-8")
    assert 'xmlUrl="https://styles.example.com/feed.xml"' in opml

    # a new feed.path moves the feed, and the old file feedpub wrote is removed
    text = (site / "_config.yml").read_text("utf-8")
    (site / "_config.yml").write_text(text + "feed:\n  path: /news/atom\n", "utf-8")
    code, _, stderr = run("build", "--site", site, "--output", out)
    assert code == 0, stderr
    assert (out / "news" / "atom").is_file() and not (out / "feed.xml").exists()
    parsed, _ = parse_back((out / "news" / "atom").read_bytes())
    assert parsed.feed.title_detail.value == data["site"]["title"]
    self_links = {link.href for link in parsed.feed.links if link.rel == "self"}
    assert self_links == {"https://styles.example.com/news/atom"}


def test_a_site_feed_at_the_generators_path_is_a_websub_topic(tmp_path: Path) -> None:
    from feedpub.config import load_config
    from feedpub.sites.hexo import HexoSite
    from feedpub.websub import is_feed

    site, _ = copy_site(SITES / "hexo-news" / "expected.rss-only.json", tmp_path)
    config = load_config(site=HexoSite.load(site))
    assert is_feed(config, "news.xml") and is_feed(config, "categories/Core/rss.xml")
    assert not is_feed(config, "rss2.xml") and not is_feed(config, "feeds.opml")


@pytest.mark.parametrize("order_by", ["date", "-date", "title", "-title", "-updated", "updated"])
def test_hexo_site_feed_follows_order_by(tmp_path: Path, machine_tz: Any, order_by: str) -> None:
    site, data = copy_site(SITES / "hexo-news" / "expected.json", tmp_path)
    machine_tz("UTC")
    oldest = site / "source" / "_posts" / "2018-12-31-offset-date.md"
    oldest.write_text(
        oldest.read_text("utf-8").replace(
            "categories:", "updated: 2025-01-01 00:00:00\ncategories:"
        ),
        "utf-8",
    )
    settings = yaml.safe_load((site / "_config.yml").read_text("utf-8"))
    settings["feed"]["order_by"] = order_by  # beside its type, path and limit: 0
    (site / "_config.yml").write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    out = tmp_path / "out"
    code, _, stderr = run("build", "--site", site, "--output", out)
    assert code == 0, stderr

    # The order hexo-generator-feed sorts the generator's posts in (its dates and titles).
    posts = {p["url"]: p for p in data["posts"].values() if p["published"]}
    posts[data["posts"]["source/_posts/2018-12-31-offset-date.md"]["url"]]["updated"] = (
        "2025-01-01T00:00:00.000Z"  # updated_option: date, so the others' is their date
    )
    field = order_by.removeprefix("-")
    value = (lambda p: p[field]) if field == "title" else (lambda p: _instant(p[field]))
    expected = sorted(posts, key=lambda url: value(posts[url]), reverse=order_by[0] == "-")
    for path in site_feeds(data):
        assert list(entries(out / path)) == expected, path
    if order_by != "-date":  # category feeds stay newest first
        core = list(entries(out / "categories" / "Core" / "atom.xml"))
        assert core == sorted(core, key=lambda url: _instant(posts[url]["date"]), reverse=True)


@pytest.mark.parametrize("delimiter", ["", " "])
def test_hexo_summaries_follow_content_limit(
    tmp_path: Path, machine_tz: Any, delimiter: str
) -> None:
    """`content: false`: a post with no description or excerpt is summarised by the first
    `content_limit` characters of its text, cut back to `content_limit_delim`."""
    machine_tz("UTC")
    full, _ = copy_site(SITES / "hexo-news" / "expected.json", tmp_path / "full")
    code, _, stderr = run("build", "--site", full, "--output", tmp_path / "full-out")
    assert code == 0, stderr
    texts = {
        link: " ".join(html.unescape(re.sub("<[^>]+>", "", e.content[0].value)).split())
        for link, e in entries(tmp_path / "full-out" / "atom.xml").items()
    }
    site, _ = copy_site(SITES / "hexo-news" / "expected.rss-only.json", tmp_path)
    settings = yaml.safe_load((site / "_config.yml").read_text("utf-8"))
    settings["feed"]["content_limit_delim"] = delimiter
    (site / "_config.yml").write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    code, _, stderr = run("build", "--site", site, "--output", tmp_path / "out")
    assert code == 0, stderr
    found = entries(tmp_path / "out" / "news.xml")
    assert len(found) == 3  # feed.limit
    for link, entry in found.items():
        cut = texts[link][:60]  # the variant's content_limit
        if delimiter:
            cut = cut[: cut.rindex(delimiter)]
        assert html.unescape(entry.summary) == cut.rstrip(), link


def test_hexo_feed_icon_is_the_atom_icon_and_json_feed_icon(
    tmp_path: Path, machine_tz: Any
) -> None:
    machine_tz("UTC")
    site, _ = copy_site(SITES / "hexo-news" / "expected.json", tmp_path)  # icon: /favicon.svg
    out = tmp_path / "out"
    code, _, stderr = run("build", "--site", site, "--output", out, "--format", "atom,json")
    assert code == 0, stderr
    parsed, _ = parse_back((out / "atom.xml").read_bytes())
    # full_url_for: a path below the site's root (url https://example.org/blog)
    assert parsed.feed.icon == "https://example.org/blog/favicon.svg"
    document = json.loads((out / "feed.json").read_text("utf-8"))
    assert document["icon"] == "https://example.org/blog/favicon.svg"


def test_a_generator_build_between_two_builds_gets_the_site_feed_back(
    tmp_path: Path, machine_tz: Any
) -> None:
    """`hexo generate && feedpub build`: the generator rewrites its feed file every time,
    and the next (incremental) feedpub build writes feedpub's again."""
    machine_tz("UTC")
    site, _ = copy_site(SITES / "hexo-news" / "expected.rss-only.json", tmp_path)
    out = tmp_path / "out"
    code, _, stderr = run("build", "--site", site, "--output", out, "--no-ping")
    assert code == 0, stderr
    ours = (out / "news.xml").read_bytes()
    (out / "news.xml").write_bytes(b'<rss version="2.0"><channel></channel></rss>\n')
    code, stdout, stderr = run("build", "--site", site, "--output", out, "--no-ping")
    assert code == 0, stderr
    assert (out / "news.xml").read_bytes() == ours
    assert "Feeds: 1 written" in stdout


def test_abbrlinks_moved_by_rep_dec_see_the_numbers_taken_before_them(tmp_path: Path) -> None:
    """hexo-abbrlink's `rep: dec` moves a post whose number is taken to the next free one:
    free of every post's own number and of the numbers earlier posts were moved to."""
    site = tmp_path / "site"
    posts = site / "source" / "_posts"
    posts.mkdir(parents=True)
    (site / "_config.yml").write_text(
        "url: https://h.example\npermalink: p/:abbrlink.html\ntimezone: UTC\n"
        "abbrlink:\n  alg: crc16\n  rep: dec\n",
        "utf-8",
    )
    numbers = {"a1": 5, "a2": 5, "b1": 6, "b2": 6, "c": 7}
    for day, (name, number) in enumerate(numbers.items(), start=1):
        (posts / f"{name}.md").write_text(
            f"---\ntitle: {name}\nabbrlink: {number}\ndate: 2020-01-0{day} 00:00:00\n---\n{name}\n",
            "utf-8",
        )
    out = tmp_path / "out"
    code, _, stderr = run("build", "--site", site, "--output", out)
    assert code == 0, stderr
    found = {entry.title: url for url, entry in entries(out / "atom.xml").items()}
    assert found == {
        "a1": "https://h.example/p/5.html",
        "a2": "https://h.example/p/9.html",  # 6 and 7 are b1's and c's, 8 is b2's now
        "b1": "https://h.example/p/6.html",
        "b2": "https://h.example/p/8.html",  # (the newer posts' number is settled first)
        "c": "https://h.example/p/7.html",
    }
