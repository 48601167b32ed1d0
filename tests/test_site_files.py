"""feeds.opml, feeds/index.html and `feedpub snippet`: the files and tags that let readers find
every feed. The OPML is imported with listparser (a real OPML parser, the one feed readers
in Python use); the page is parsed as HTML and its every link followed to a file."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urljoin

import listparser
import pytest
from lxml import etree, html

from feedpub import pipeline
from feedpub.config import load_config
from feedpub.formats import INDEX_FILE, OPML_FILE, Format
from feedpub.models import Feed
from feedpub.output import OutputFolder
from feedpub.render.index_page import render_index
from feedpub.sites import load_site
from tests.helpers import BASE_URL, PROJECT, WritePost, build, run

SITES = PROJECT / "tests" / "sites"
HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__pwned=true">',
    "\"quoted\" & 'apos'",
    "R&D &amp; </li></ul>",
    "مرحبا بالعالم",  # right to left
    "עברית 123",
]


@pytest.fixture(autouse=True)
def away_from_the_sample_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of the project's folder, so its feedpub.toml is not read."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tree_site(write_post: WritePost, posts: Path) -> Path:
    write_post(
        "a.md", title="A", date="2021-08-09 08:00:00", categories=["新媒体", "观察者网", "首页"]
    )
    write_post("b.md", title="B", date="2021-08-07 08:00:00", categories=["新媒体", "观察者网"])
    write_post("c.md", title="C", date="2021-08-05 08:00:00", categories=["新媒体"])
    write_post("d.md", title="D", date="2021-08-03 08:00:00", categories=["Tech"])
    for n in range(5):  # more posts than the feed's limit: the count says them all
        write_post(f"many/{n}.md", title=f"M{n}", date=f"2021-07-0{n + 1} 08:00:00", categories=["Tech"])  # fmt: skip
    write_post("draft.md", title="Draft", date="2021-08-01", categories=["Drafts"], draft=True)
    return posts


def site_feeds(posts: Path) -> tuple[Feed, ...]:
    return pipeline.feeds(load_config(None, {"posts": posts, "base_url": BASE_URL, "limit": 3}))


def test_opml_imports_with_the_category_tree_intact(tree_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, _ = build(tree_site, out, "--limit", "3")
    assert code == 0
    parsed = listparser.parse((out / OPML_FILE).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "opml2"
    assert parsed.meta.title == "feedpub: all feeds"
    feeds = {feed.file_url(Format.RSS): feed for feed in site_feeds(tree_site)}
    assert sorted(f.url for f in parsed.feeds) == sorted(feeds)  # one outline per feed
    for imported in parsed.feeds:
        feed = feeds[imported.url]
        path = list(feed.category)
        has_children = any(other.category[:-1] == feed.category for other in feeds.values())
        # a node with sub-categories is a folder holding its own feed; a leaf sits in its parent
        folder = path if has_children else path[:-1]
        assert imported.categories == ([folder] if folder else []), imported.url
        assert imported.title == (path[-1] if path else "feedpub")
        assert (out / unquote(imported.url.removeprefix(BASE_URL))).is_file()
    outlines = etree.fromstring((out / OPML_FILE).read_bytes()).iter("outline")
    subscriptions = [o for o in outlines if o.get("xmlUrl")]
    assert all(o.get("type") == "rss" and o.get("htmlUrl") for o in subscriptions)
    by_url = {o.get("xmlUrl"): o for o in subscriptions}
    tech = by_url[BASE_URL + "categories/Tech/rss.xml"]
    assert tech.get("htmlUrl") == BASE_URL + "categories/Tech/"
    assert tech.get("title") == "feedpub › Tech"


def test_opml_can_subscribe_to_atom_or_json(tree_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "feedpub.toml"
    config.write_text(f'opml_format = "json"\nbase_url = "{BASE_URL}"\n', "utf-8")
    out = tmp_path / "out"
    code, _, _ = run("build", "--config", config, "--posts", tree_site, "--output", out)
    assert code == 0
    urls = [f.url for f in listparser.parse((out / OPML_FILE).read_bytes()).feeds]
    assert urls and all(url.endswith("/feed.json") for url in urls)
    # the chosen format is not written: the first one that is
    run("build", "--config", config, "--posts", tree_site, "--output", out, "--format", "atom")
    urls = [f.url for f in listparser.parse((out / OPML_FILE).read_bytes()).feeds]
    assert urls and all(url.endswith("/atom.xml") for url in urls)


def test_index_page_lists_every_feed_with_counts_dates_and_working_links(
    tree_site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert build(tree_site, out, "--limit", "3")[0] == 0
    page = html.fromstring((out / INDEX_FILE).read_bytes())
    assert page.get("lang") == "en"
    assert not page.xpath("//script") and not page.xpath("//*[@style]")
    assert page.xpath("//meta[@name='viewport']")
    head_links = page.xpath("//head/link[@rel='alternate']")
    assert [(link.get("type"), link.get("href")) for link in head_links] == [
        ("application/rss+xml", "../rss.xml"),
        ("application/atom+xml", "../atom.xml"),
        ("application/feed+json", "../feed.json"),
    ]
    page_url = BASE_URL + "feeds/"
    for href in page.xpath("//a/@href | //link/@href"):  # every link leads somewhere real
        url = urljoin(page_url, href)
        if url.startswith(BASE_URL) and not url.endswith("/"):  # not a page of the site
            assert (out / unquote(url.removeprefix(BASE_URL))).is_file(), href
    assert page.xpath(f"//a[@href='../{OPML_FILE}']")
    rows = {
        " ".join(div.xpath("string(.//a[@class='name'])").split()): " ".join(
            div.xpath("string(.//span[@class='meta'])").split()
        )
        for div in page.xpath("//div[@class='feed']")
    }
    assert rows == {
        "feedpub": "9 posts, newest 2021-08-09",
        "新媒体": "3 posts, newest 2021-08-09",
        "观察者网": "2 posts, newest 2021-08-09",
        "首页": "1 post, newest 2021-08-09",
        "Tech": "6 posts, newest 2021-08-03",
    }
    # nested as the tree: 首页 is inside 观察者网's list, inside 新媒体's
    shouye = page.xpath("//a[@class='name'][normalize-space()='首页']")[0]
    ancestors = [
        " ".join(li.xpath("string(./div/a[@class='name'])").split())
        for li in shouye.iterancestors("li")
    ]
    assert ancestors == ["首页", "观察者网", "新媒体", "feedpub"]


def test_hostile_category_names_are_text_and_links_stay_inside(
    write_post: WritePost, posts: Path, tmp_path: Path
) -> None:
    for n, name in enumerate(HOSTILE):
        write_post(f"{n}.md", title=f"T{n}", date=f"2021-08-0{n + 1}", categories=["Top", name])
    out = tmp_path / "out"
    assert build(posts, out)[0] == 0
    data = (out / INDEX_FILE).read_bytes()
    assert b"<script>" not in data
    page = html.fromstring(data)
    assert not page.xpath("//script")
    names = [" ".join(a.text_content().split()) for a in page.xpath("//a[@class='name']")]
    assert sorted(names) == sorted(["feedpub", "Top", *HOSTILE])
    for a in page.xpath("//a[@class='name']"):
        assert a.xpath("./bdi"), "every name is isolated, so right-to-left text cannot reorder"
    for href in page.xpath("//span[@class='formats']/a/@href"):
        target = (out / "feeds" / unquote(href)).resolve()
        assert target.is_file() and target.is_relative_to(out.resolve()), href
    opml = listparser.parse((out / OPML_FILE).read_bytes())
    assert not opml.bozo
    assert sorted(f.title for f in opml.feeds if f.categories == [["Top"]]) == sorted(
        ["Top", *HOSTILE]
    )
    code, stdout, _ = run("snippet", "--posts", posts, "--base-url", BASE_URL, f"Top/{HOSTILE[1]}")
    assert code == 0
    tags = html.fragment_fromstring(f"<div>{stdout}</div>").xpath("//link")
    assert tags[0].get("title") == f"feedpub › Top › {HOSTILE[1]} (RSS 2.0)"


def test_site_files_are_in_the_manifest_and_follow_the_posts(
    tree_site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    build(tree_site, out)
    assert {OPML_FILE, INDEX_FILE} <= OutputFolder(out).manifest()
    mtimes = {rel: (out / rel).stat().st_mtime_ns for rel in (OPML_FILE, INDEX_FILE)}
    code, stdout, _ = build(tree_site, out, "--full")
    assert code == 0 and "0 written" in stdout
    assert {rel: (out / rel).stat().st_mtime_ns for rel in mtimes} == mtimes  # not rewritten
    (out / INDEX_FILE).unlink()  # a build that finds it gone writes it again
    code, stdout, _ = build(tree_site, out)
    assert code == 0 and (out / INDEX_FILE).is_file() and "1 written" in stdout
    (tree_site / "d.md").unlink()
    for n in range(5):
        (tree_site / "many" / f"{n}.md").unlink()
    code, stdout, _ = build(tree_site, out)
    assert code == 0
    assert "Tech" not in (out / INDEX_FILE).read_text("utf-8")
    assert "categories/Tech" not in (out / OPML_FILE).read_text("utf-8")
    # an older post in a full feed changes no feed's items, but changes the count
    (tree_site / "old.md").write_text(
        "---\ntitle: Old\ndate: 2001-01-01\ncategories: [新媒体]\n---\n\nx\n"
    )
    code, stdout, _ = build(tree_site, out, "--limit", "1")
    assert "4 posts" in (out / INDEX_FILE).read_text("utf-8").replace("\n", " ")


def test_an_empty_site_still_has_an_index_and_an_opml(posts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build(posts, out)[0] == 0
    assert "0 posts" in (out / INDEX_FILE).read_text("utf-8")
    assert [f.url for f in listparser.parse((out / OPML_FILE).read_bytes()).feeds] == [
        BASE_URL + "rss.xml"
    ]


def test_snippet_prints_the_link_tags_of_the_site_or_a_category(tree_site: Path) -> None:
    args = ("--posts", tree_site, "--base-url", BASE_URL)
    code, out, _ = run("snippet", *args)
    assert code == 0
    assert out.splitlines() == [
        f'<link rel="alternate" type="application/rss+xml" title="feedpub (RSS 2.0)" href="{BASE_URL}rss.xml">',
        f'<link rel="alternate" type="application/atom+xml" title="feedpub (Atom 1.0)" href="{BASE_URL}atom.xml">',
        f'<link rel="alternate" type="application/feed+json" title="feedpub (JSON Feed 1.1)" href="{BASE_URL}feed.json">',
    ]  # fmt: skip
    code, out, _ = run("snippet", "新媒体/观察者网", *args, "--format", "atom")
    assert code == 0
    assert out == (
        '<link rel="alternate" type="application/atom+xml" title="feedpub › 新媒体 › 观察者网 '
        f'(Atom 1.0)" href="{BASE_URL}categories/%E6%96%B0%E5%AA%92%E4%BD%93/'
        '%E8%A7%82%E5%AF%9F%E8%80%85%E7%BD%91/atom.xml">\n'
    )
    assert (
        run("snippet", "新媒体 › 观察者网", *args)[1] == run("snippet", "新媒体/观察者网", *args)[1]
    )


@pytest.mark.parametrize(
    ("category", "message"),
    [
        ("新媒体/观察者", "did you mean '新媒体/观察者网'"),
        ("Drafts", "no category 'Drafts' has published posts"),  # only a draft is in it
        ("Nothing/like/it", "no category 'Nothing/like/it' has published posts"),
    ],
)
def test_snippet_of_an_unknown_category_is_a_usage_error(
    tree_site: Path, category: str, message: str
) -> None:
    code, out, err = run("snippet", category, "--posts", tree_site)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_index_dates_are_in_the_sites_time_zone(write_post: WritePost, posts: Path) -> None:
    write_post("late.md", title="Late", date="2021-08-09T23:30:00Z")
    config = load_config(None, {"posts": posts, "base_url": BASE_URL, "timezone": "Asia/Tokyo"})
    page = render_index(pipeline.feeds(config), config).decode()
    assert '<time datetime="2021-08-10T08:30:00+09:00">2021-08-10</time>' in page


def test_site_mode_lists_the_sites_own_feeds(tmp_path: Path) -> None:
    """A Hexo site (tests/sites/hexo-news): the OPML, the page and the snippet name the feeds
    at the URLs and in the formats the site's own configuration gives them."""
    site = tmp_path / "hexo-news"
    shutil.copytree(
        SITES / "hexo-news", site, ignore=shutil.ignore_patterns("expected*", "_variants")
    )
    out = tmp_path / "out"
    code, _, err = run("build", "--site", site, "--output", out, "--limit", "1000")
    assert code == 0, err
    feeds = pipeline.feeds(load_config(None, {}, site=load_site(site)))
    base_url = feeds[0].url
    outlines = listparser.parse((out / OPML_FILE).read_bytes()).feeds
    assert sorted(o.url for o in outlines) == sorted(f.file_url(Format.RSS) for f in feeds)
    for outline in outlines:
        assert (out / unquote(outline.url.removeprefix(base_url))).is_file(), outline.url
    page = html.fromstring((out / INDEX_FILE).read_bytes())
    hrefs = page.xpath("//span[@class='formats']/a/@href")
    assert len(hrefs) == 2 * len(feeds)  # the site writes RSS and Atom
    assert all((out / "feeds" / unquote(href)).resolve().is_file() for href in hrefs)
    code, stdout, _ = run("snippet", "--site", site)
    assert code == 0
    assert [tag.get("href") for tag in html.fragments_fromstring(stdout)] == [
        feeds[0].file_url(fmt) for fmt in load_config(None, {}, site=load_site(site)).formats
    ]
