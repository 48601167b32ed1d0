"""The site-mode building blocks, table by table. The expected values in the slug and
abbrlink tables are what hexo-util 4, hexo-abbrlink 2.2.1 and Jekyll 4.3.1 return for the
same input (run by hand: node -e 'require("hexo-util").slugize(…)', ruby -rjekyll)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import importlib
import json
import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedpub.config import load_config
from feedpub.dates import DateError
from feedpub.errors import ConfigError
from feedpub.formats import Format
from feedpub.scanning import scan_posts
from feedpub.sites import detect, find_site, load_site
from feedpub.sites.abbrlink import abbrlink
from feedpub.sites.base import DateSource
from feedpub.sites.clock import hexo_date, jekyll_date
from feedpub.sites.hexo import HexoSite
from feedpub.sites.hexo_tags import render_hexo
from feedpub.sites.jekyll import JekyllSite
from feedpub.sites.slugs import hexo_slugize, jekyll_slugify
from feedpub.sites.smartify import smartify
from feedpub.sites.tags import Context, no_template_markers, render_jekyll

UTC = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("text", "plain", "lower"),
    [
        ("Hello World", "Hello-World", "hello-world"),
        ("新媒体", "新媒体", "新媒体"),
        ("a/b c", "a-b-c", "a-b-c"),
        ("—— 前沿 ——", "——-前沿-——", "——-前沿-——"),
        ("C++ & Rust", "C-Rust", "c-rust"),
        ("Ünïcode Æon", "Unicode-AEon", "unicode-aeon"),
        ("  --x--  ", "x", "x"),
        ("Foo_Bar.baz", "Foo-Bar-baz", "foo-bar-baz"),
        ("ß Øre Łódź ﬁ ①", "s-Ore-Lodz-ﬁ-①", "s-ore-lodz-ﬁ-①"),
    ],
)
def test_hexo_slugize(text: str, plain: str, lower: str) -> None:
    assert hexo_slugize(text) == plain
    assert hexo_slugize(text, 1) == lower
    assert hexo_slugize(text, 2) == plain.upper()


@pytest.mark.parametrize(
    ("text", "default", "pretty_cased"),
    [
        ("Hello World", "hello-world", "Hello-World"),
        ("新媒体", "新媒体", "新媒体"),
        ("a/b c", "a-b-c", "a-b-c"),
        ("—— 前沿 ——", "前沿", "前沿"),
        ("C++ & Rust", "c-rust", "C++-&-Rust"),
        ("Ünïcode Æon", "ünïcode-æon", "Ünïcode-Æon"),
        ("  --x--  ", "x", "x"),
        ("Foo_Bar.baz", "foo-bar-baz", "Foo_Bar.baz"),
    ],
)
def test_jekyll_slugify(text: str, default: str, pretty_cased: str) -> None:
    assert jekyll_slugify(text) == default
    assert jekyll_slugify(text, "pretty", cased=True) == pretty_cased


def _jekyll_slug_char_by_char(text: str, pretty: bool) -> str:
    """Jekyll's slugify as its rule reads: every character looked at in turn."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LM" or category == "Nd" or (pretty and char in "._~!$&'()+,;=@"):
            out.append(char)
        elif not out or out[-1] != "-":  # a run of other characters is one hyphen
            out.append("-")
    return "".join(out).removeprefix("-").removesuffix("-")


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(codec="utf-8") | st.sampled_from(list("-_. ~@新Éé①٣"))))
def test_jekyll_slugify_is_its_rule_read_char_by_char(text: str) -> None:
    """The slugs made by translation, a character's mark found once, are the rule's."""
    assert jekyll_slugify(text, cased=True) == _jekyll_slug_char_by_char(text, pretty=False)
    assert jekyll_slugify(text, "pretty", cased=True) == _jekyll_slug_char_by_char(text, True)


@pytest.mark.parametrize(
    ("title", "hex16", "dec16", "dec32"),
    [
        ("河南省委书记：疫情不在本月解决，将造成极大被动", "fe66", "65126", "317783694"),
        ("Hello", "f353", "62291", "4157704578"),
        ("", "0", "0", "0"),
        ("😀 emoji", "60e8", "24808", "3848022191"),
    ],
)
def test_abbrlink(title: str, hex16: str, dec16: str, dec32: str) -> None:
    assert abbrlink(title, "crc16", "hex") == hex16
    assert abbrlink(title, "crc16", "dec") == dec16
    assert abbrlink(title, "crc32", "dec") == dec32
    assert abbrlink(title, "crc32", "hex") == format(int(dec32), "x")


@pytest.mark.parametrize(
    ("value", "site", "machine", "expected"),
    [
        # A YAML timestamp without offset: its wall clock, in `timezone` (else the machine's).
        (dt.datetime(2021, 3, 22, 4, 50, 47), SHANGHAI, UTC, "2021-03-22T04:50:47+08:00"),
        (dt.datetime(2021, 3, 22, 4, 50, 47), None, SHANGHAI, "2021-03-22T04:50:47+08:00"),
        # With an offset, Hexo keeps the UTC wall clock and places it in `timezone`.
        (
            dt.datetime(2018, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            None,
            UTC,
            "2018-12-31T14:30:00+00:00",
        ),
        # Text is read as JavaScript's Date reads it, then moved into `timezone`.
        ("Mon, 09 Aug 2021 08:36:33 GMT", None, UTC, "2021-08-09T08:36:33+00:00"),
        ("Mon, 09 Aug 2021 08:36:33 GMT", SHANGHAI, UTC, "2021-08-09T00:36:33+00:00"),
        (dt.date(2019, 6, 19), SHANGHAI, UTC, "2019-06-19T00:00:00+08:00"),
    ],
)
def test_hexo_dates(value: object, site: ZoneInfo | None, machine: ZoneInfo, expected: str) -> None:
    assert hexo_date(value, site, machine) == dt.datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2013, 5, 6, 2, 12, 52), "2013-05-05T19:12:52-07:00"),  # Psych: UTC
        ("2013-05-06 02:12:52", "2013-05-06T02:12:52-07:00"),  # a string: the site's zone
        (
            dt.datetime(2013, 5, 6, 2, 12, 52, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2013-05-05T17:12:52-07:00",
        ),
        (dt.date(2014, 1, 1), "2014-01-01T00:00:00-08:00"),
        # Ruby's Time.parse takes what it can from sloppy text, as a real Jekyll post has it.
        ("2023-01-29 18:30:22 2023 -0800", "2023-01-29T18:30:22-08:00"),
        ("2013-05-06 02:12 +0200", "2013-05-05T17:12:00-07:00"),
        ("2013-05-06 02:12:52 UTC", "2013-05-05T19:12:52-07:00"),
    ],
)
def test_jekyll_dates(value: object, expected: str) -> None:
    assert jekyll_date(value, LA) == dt.datetime.fromisoformat(expected)


def test_unreadable_dates_raise() -> None:
    with pytest.raises(DateError):
        hexo_date("Invalid Date", None, UTC)
    with pytest.raises(DateError):
        jekyll_date("someday", LA)


def hexo_site(tmp_path: Path, **settings: Any) -> HexoSite:
    (tmp_path / "source" / "_posts").mkdir(parents=True, exist_ok=True)
    (tmp_path / "_config.yml").write_text(json.dumps(settings), "utf-8")
    return HexoSite.load(tmp_path)


def jekyll_site(tmp_path: Path, **settings: Any) -> JekyllSite:
    (tmp_path / "_posts").mkdir(parents=True, exist_ok=True)
    (tmp_path / "_config.yml").write_text(json.dumps(settings), "utf-8")
    return JekyllSite.load(tmp_path)


@pytest.mark.parametrize(
    ("new_post_name", "rel", "expected"),
    [
        (":title.md", "_posts/新媒体/观察者网/首页/x.md", {"title": "新媒体/观察者网/首页/x"}),
        (
            ":year-:month-:day-:title.md",
            "_posts/2019-06-19-version-3-released.md",
            {"year": "2019", "month": "06", "day": "19", "title": "version-3-released"},
        ),
        # A path the pattern does not match: Hexo's slugize of the whole path.
        (
            ":year-:month-:day-:title.md",
            "_posts/2020/spring/nested post.md",
            {"title": "2020-spring-nested-post"},
        ),
        (
            ":year/:i_month/:i_day/:title.md",
            "_posts/2020/4/1/x.md",
            {"year": "2020", "i_month": "4", "i_day": "1", "title": "x"},
        ),
    ],
)
def test_hexo_file_names(
    tmp_path: Path, new_post_name: str, rel: str, expected: dict[str, str]
) -> None:
    assert hexo_site(tmp_path, new_post_name=new_post_name).filename_info(rel) == expected


def hexo_url(
    site: HexoSite, rel: str, category_paths: tuple[tuple[str, ...], ...] = (), **meta: Any
) -> str:
    """The URL of a post with front matter `meta`, in the category paths the reader read."""
    saved = dt.datetime(2024, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    warnings: list[str] = []
    return site.post_url(rel, site.post_facts(rel, meta, saved), category_paths, warnings.append)


@pytest.mark.parametrize(
    ("settings", "rel", "meta", "url"),
    [
        (
            {},
            "_posts/a b.md",
            {"date": "2021-08-09 10:00:00"},
            "http://example.com/2021/08/09/a%20b/",
        ),
        (
            {"url": "https://x.org/blog", "permalink": ":year/:i_month/:i_day/:name.html"},
            "_posts/dir/post.md",
            {"date": dt.date(2021, 8, 9)},
            "https://x.org/blog/2021/8/9/post.html",
        ),
        (
            {"permalink": ":category/:post_title/", "default_category": "misc"},
            "_posts/p.md",
            {"title": "Hello World", "date": dt.date(2021, 1, 1)},
            "http://example.com/misc/hello-world/",
        ),
        (
            {"permalink": ":lang/:title/", "permalink_defaults": {"lang": "en"}},
            "_posts/p.md",
            {"date": dt.date(2021, 1, 1)},
            "http://example.com/en/p/",
        ),
        (
            {"permalink": ":lang/:title/", "permalink_defaults": {"lang": "en"}},
            "_posts/p.md",
            {"date": dt.date(2021, 1, 1), "lang": "zh"},
            "http://example.com/zh/p/",
        ),
        (
            {"permalink": ":title.html", "pretty_urls": {"trailing_html": False}},
            "_posts/p.md",
            {"date": dt.date(2021, 1, 1)},
            "http://example.com/p",
        ),
        (
            {"permalink": ":title/index.html", "pretty_urls": {"trailing_index": False}},
            "_posts/p.md",
            {"date": dt.date(2021, 1, 1)},
            "http://example.com/p/",
        ),
        (
            {"permalink": "p/:abbrlink.html", "abbrlink": {"alg": "crc32", "rep": "hex"}},
            "_posts/p.md",
            {"title": "Hello", "date": dt.date(2021, 1, 1)},
            "http://example.com/p/f7d18982.html",
        ),
        (
            {"permalink": "p/:abbrlink.html"},
            "_posts/p.md",
            {"title": "Hello", "abbrlink": "mine", "date": dt.date(2021, 1, 1)},
            "http://example.com/p/mine.html",
        ),
        (
            {"post_asset_folder": True, "permalink": ":title"},
            "_posts/p.md",
            {"date": dt.date(2021, 1, 1)},
            "http://example.com/p/",
        ),
        (
            {},
            "_posts/p.md",
            {"permalink": "about/me/", "date": dt.date(2021, 1, 1)},
            "http://example.com/about/me/",
        ),
        (
            {"permalink": ":year/:month/:day/:hour:minute:second-:timestamp/"},
            "_posts/p.md",
            {"date": "2021-08-09 10:11:12"},
            "http://example.com/2021/08/09/101112-1628503872/",
        ),
    ],
)
def test_hexo_permalinks(
    tmp_path: Path, settings: dict[str, Any], rel: str, meta: dict[str, Any], url: str
) -> None:
    assert hexo_url(hexo_site(tmp_path, timezone="UTC", **settings), rel, **meta) == url


def test_hexo_category_token_is_the_last_category_paths_slugs(tmp_path: Path) -> None:
    site = hexo_site(
        tmp_path, timezone="UTC", permalink=":category/:title/", category_map={"新闻": "news"}
    )
    paths = (("Old",), ("新闻", "Sub Cat"))
    url = hexo_url(site, "_posts/p.md", paths, date=dt.date(2021, 1, 1))
    assert url == "http://example.com/news/Sub-Cat/p/"


def test_hexo_post_facts(tmp_path: Path) -> None:
    saved = dt.datetime(2024, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    site = hexo_site(tmp_path, timezone="UTC", new_post_name=":year-:month-:day-:title.md")
    meta = {"tag": "x", "category": "c"}
    facts = site.post_facts("_posts/2021-08-09-hello.md", meta, saved)
    assert meta == {"tag": "x", "category": "c"}  # the post's own front matter is left as it is
    assert facts.slug == "hello" and facts.date_source is DateSource.FILE_NAME
    assert facts.date == dt.datetime(2021, 8, 9, tzinfo=UTC)
    assert facts.front_matter["tags"] == "x" and facts.front_matter["categories"] == "c"
    assert facts.updated == saved  # updated_option: mtime, Hexo's default
    given = site.post_facts("_posts/p.md", {"date": "2021-08-09 10:00:00", "updated": "x"}, saved)
    assert given.date_source is DateSource.FRONT_MATTER and given.updated is None
    undated = hexo_site(tmp_path / "b", updated_option="date")
    (tmp_path / "b" / "source" / "_posts" / "p.md").write_text("---\n---\n", "utf-8")
    by_date = undated.post_facts("_posts/p.md", {}, saved)
    assert by_date.updated is None  # updated_option: date: feeds show its date
    # no date: the file's birth time, where the file system keeps one, else its mtime
    assert by_date.date_source in (DateSource.CREATED, DateSource.MODIFIED)


@pytest.mark.parametrize(
    ("rel", "folder", "kept"),
    [
        ("_posts", True, True),
        ("_drafts", True, True),
        ("about", True, False),
        ("_posts/a.md", False, True),
        ("_posts/a.html", False, True),
        ("_posts/_hidden.md", False, False),
        ("_posts/.x.md", False, False),
        ("_posts/a.md~", False, False),
        ("_posts/img.png", False, False),
    ],
)
def test_hexo_posts_are_what_hexo_reads(tmp_path: Path, rel: str, folder: bool, kept: bool) -> None:
    assert hexo_site(tmp_path).keep(rel, folder) is kept


def test_hexo_drafts_and_future(tmp_path: Path) -> None:
    site = hexo_site(tmp_path)
    assert site.unpublished("_drafts/a.md", {}) and site.unpublished(
        "_posts/a.md", {"published": False}
    )
    assert not site.unpublished("_posts/a.md", {"draft": True})  # not a key Hexo knows
    assert site.publishes_future()
    shown = hexo_site(tmp_path / "b", render_drafts=True, future=False)
    assert not shown.unpublished("_drafts/a.md", {}) and not shown.publishes_future()


def test_hexo_category_pages(tmp_path: Path) -> None:
    site = hexo_site(
        tmp_path, category_dir="topics", category_map={"新闻": "news"}, filename_case=1
    )
    assert site.category_directory(("新闻", "Big Data")) == ("topics", "news", "big-data")
    assert site.category_directory(("???",)) is None  # feedpub's own safe folder then


def test_hexo_config_values(tmp_path: Path) -> None:
    site = hexo_site(
        tmp_path,
        title="T",
        subtitle="S",
        url="https://x.org/",
        language=["zh-CN", "en"],
        author={"name": "A"},
        public_dir="www",
        feed={"type": ["atom", "rss2"], "limit": 0, "content": False, "hub": " https://h.org/ "},
    )
    values = site.config_values()
    assert values["hubs"] == ["https://h.org/"]
    assert values["title"] == "T" and values["description"] == "S"
    assert values["base_url"] == "https://x.org/" and values["language"] == "zh-CN"
    assert values["author"] == "A" and values["output"] == str(tmp_path / "www")
    assert values["formats"] == ["atom", "rss"] and values["limit"] > 10**6
    assert values["content"] == "summary"


_EVERY_JEKYLL_TOKEN = "/" + "/".join(
    f":{token}"
    for token in (
        "year", "month", "day", "hour", "minute", "second", "i_day", "i_month", "short_month",
        "long_month", "short_year", "w_year", "week", "w_day", "short_day", "long_day", "y_day",
        "title", "slug", "name", "categories", "slugified_categories", "output_ext",
        "collection", "path", "title_", "slug_", "year_",
    )
) + "/"  # fmt: skip


def jekyll_url(site: JekyllSite, rel: str, **meta: Any) -> str:
    saved = dt.datetime(2024, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    return site.post_url(rel, site.post_facts(rel, meta, saved), (), lambda m: None)


@pytest.mark.parametrize(
    ("settings", "rel", "meta", "url"),
    [
        ({}, "_posts/2013-05-06-a-b.md", {}, "http://localhost:4000/2013/05/06/a-b.html"),
        (
            {"permalink": "pretty"},
            "news/_posts/2013-05-06-a.md",
            {"categories": "X Y"},
            "http://localhost:4000/news/x/y/2013/05/06/a/",
        ),
        (
            {"permalink": "ordinal"},
            "_posts/2024-02-29-Leap Day.md",
            {},
            "http://localhost:4000/2024/060/Leap-Day.html",
        ),
        (
            {"permalink": "weekdate"},
            "_posts/2021-01-01-w.md",
            {},
            "http://localhost:4000/2021/W53/Fri/w.html",
        ),
        (
            {"permalink": "none"},
            "_posts/2021-01-01-n.md",
            {"category": "Big Cat"},
            "http://localhost:4000/big%20cat/n.html",
        ),
        (
            {
                "url": "https://x.org",
                "baseurl": "/p",
                "collections": {"posts": {"permalink": "/n/:year/:title/"}},
            },
            "_posts/2021-01-01-x.md",
            {"slug": "My Slug"},
            "https://x.org/p/n/2021/My-Slug/",
        ),
        (
            {},
            "_posts/2021-01-01-x.md",
            {"permalink": "/own/:slug/"},
            "http://localhost:4000/own/x/",
        ),
        (
            {"permalink": "/:short_year/:i_month/:i_day/:y_day/:slug:output_ext"},
            "_posts/2021-02-03-Some Thing.md",
            {},
            "http://localhost:4000/21/2/3/034/some-thing.html",
        ),
        (  # every token Jekyll knows, and the `_` ending that keeps one's value
            {"url": "https://x.org", "permalink": _EVERY_JEKYLL_TOKEN},
            "_posts/2021-02-03-Some Thing.md",
            {"categories": ["Café News", "b"]},
            "https://x.org/2021/02/03/00/00/00/3/2/Feb/February/21/2021/05/3/Wed/Wednesday/034"
            "/Some-Thing/some-thing/2021-02-03-some-thing/caf%C3%A9%20news/b/caf%C3%A9-news/b"
            "/.html/posts/2021-02-03-Some%20Thing/Some-Thing_/some-thing_/2021_/",
        ),
    ],
)
def test_jekyll_permalinks(
    tmp_path: Path, settings: dict[str, Any], rel: str, meta: dict[str, Any], url: str
) -> None:
    assert jekyll_url(jekyll_site(tmp_path, timezone="UTC", **settings), rel, **meta) == url


def test_jekyll_front_matter(tmp_path: Path) -> None:
    site = jekyll_site(
        tmp_path,
        timezone="UTC",
        defaults=[
            {"scope": {"path": ""}, "values": {"author": "Everyone"}},
            {"scope": {"path": "releases", "type": "posts"}, "values": {"author": "Release team"}},
        ],
    )
    saved = dt.datetime(2024, 2, 3, tzinfo=dt.UTC)
    facts = site.post_facts(
        "releases/_posts/2015-03-04-v2.md",
        {"categories": "a b", "category": "c", "tags": "x y"},
        saved,
    )
    meta = facts.front_matter
    assert meta["categories"] == ["releases", "a", "b", "c"]
    assert meta["tags"] == ["x", "y"] and meta["author"] == "Release team"
    assert meta["title"] == "V2"  # Jekyll titles a post from its slug
    assert facts.date == dt.datetime(2015, 3, 4, tzinfo=ZoneInfo("UTC"))
    assert facts.date_source is DateSource.FILE_NAME and facts.slug == "v2"
    assert facts.updated is None  # Jekyll has no `updated`
    other = site.post_facts("_posts/2015-03-04-version-3-released.md", {}, saved).front_matter
    assert other["author"] == "Everyone" and other["title"] == "Version 3 Released"
    draft = site.post_facts("_drafts/undated.md", {}, saved)
    assert draft.date_source is DateSource.DRAFT and draft.date == saved
    assert site.keep("_posts/2015-03-04-v.md", False) and not site.keep("_posts/undated.md", False)
    assert not site.keep("_site", True) and not site.keep("node_modules", True)
    assert site.unpublished("_drafts/x.md", {}) and site.unpublished(
        "_posts/x.md", {"published": False}
    )
    assert not site.publishes_future()


def context(site: Any, url: str = "https://x.org/p/") -> Context:
    return Context(site, "_posts/p.md", url, url)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{% youtube abc123 %}", 'href="https://www.youtube.com/watch?v=abc123"'),
        ("{% youtube PLxyz playlist %}", 'href="https://www.youtube.com/playlist?list=PLxyz"'),
        ("{% vimeo 76979871 %}", 'href="https://vimeo.com/76979871"'),
        ("{% asset_path pic.png %}", "https://x.org/p/pic.png"),
        (
            "{% asset_link doc.pdf The manual %}",
            '<a href="https://x.org/p/doc.pdf" title="The manual">The manual</a>',
        ),
        (
            "{% codeblock lang:js %}\nlet a = '<b>';\n{% endcodeblock %}",
            "let a = &#x27;&lt;b&gt;&#x27;;",
        ),
        ("{% raw %}{% not a tag %}{% endraw %}", "{% not a tag %}"),
        ("{% blockquote %}\nQuote\n{% endblockquote %}", "<blockquote>\n\nQuote\n\n</blockquote>"),
        (
            "```\n{% raw %}kept in code{% endraw %}\n```",
            "```\n{% raw %}kept in code{% endraw %}\n```",
        ),
        ("{# a Nunjucks comment #}text", "text"),
        ("{% pullquote %}\nSaid\n{% endpullquote %}", '<blockquote class="pullquote">\n\nSaid'),
        ("{% iframe https://x.org/embed 100% 300 %}", '<a href="https://x.org/embed">'),
        ("{% url_for Docs /docs/ %}", '<a href="http://example.com/docs/">Docs</a>'),
        (
            "{% include_code Demo lang:py from:2 to:2 demo.py %}",
            "<span>Demo</span></figcaption><pre><code>two</code>",
        ),
        ("Title: {{ title }}", "Title: The &lt;Post&gt;"),
        ("Write `{% note warn %}` and ``{{ x }}``.", "Write `{% note warn %}` and ``{{ x }}``."),
    ],
)
def test_hexo_tags(tmp_path: Path, body: str, expected: str) -> None:
    site = hexo_site(tmp_path)
    code = tmp_path / "source" / "downloads" / "code"
    code.mkdir(parents=True)
    (code / "demo.py").write_text("one\ntwo\nthree\n", "utf-8")
    rendered = render_hexo(
        body, Context(site, "_posts/p.md", "https://x.org/p/", "https://x.org/p/", "The <Post>")
    )
    assert expected in rendered


def test_a_tag_around_inline_code_still_finds_its_end(tmp_path: Path) -> None:
    warnings: list[tuple[str, int]] = []
    body = "{% note warn %}\nDropped: `gist` and\n`vimeo`.\n{% endnote %}\n\n```\n{% x %}\n```\n"
    out = render_hexo(
        body, context(hexo_site(tmp_path)), lambda m, line: warnings.append((m, line))
    )
    assert out == "\nDropped: `gist` and\n`vimeo`.\n\n\n```\n{% x %}\n```\n"
    assert [line for _, line in warnings] == [1]


def test_unknown_tags_keep_their_content_and_are_named_with_their_line(tmp_path: Path) -> None:
    warnings: list[tuple[str, int]] = []
    body = "intro\n\n{% note warn %}\nInside **it**.\n{% endnote %}\n{% gist 123 %}\n{{ page.x }}"
    out = render_hexo(
        body, context(hexo_site(tmp_path)), lambda m, line: warnings.append((m, line))
    )
    assert "Inside **it**." in out and "{%" not in out and "{{" not in out
    assert [line for _, line in warnings] == [3, 6, 7]
    assert "{% note %}" in warnings[0][0] and "content kept" in warnings[0][0]
    assert "{% gist %}" in warnings[1][0] and "left out" in warnings[1][0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ site.url }}/x", "https://x.org/x"),
        ("{{ site.baseurl }}", "/base"),
        ("{{ site.title | escape }}", "Site"),
        ("{% raw %}{{ page.title }}{% endraw %}", "{{ page.title }}"),
        (
            "{% highlight ruby linenos %}\nputs 1\n{% endhighlight %}",
            "<pre><code>puts 1</code></pre>",
        ),
        ("{% comment %}gone{% endcomment %}kept", "kept"),
        ("{%- if x -%}shown{%- endif -%}", "shown"),
        ('{{ "/about.html" | relative_url }}', "/base/about.html"),
        ('{{ "/about.html" | absolute_url }}', "https://x.org/base/about.html"),
        ("{{ site.repo.name | upcase }}", "FEEDPUB"),
        ('{% assign ns = "1|2" | split: "|" %}{% for n in ns %}[#{{ n }}]{% endfor %}', "[#1][#2]"),
        (
            '{% include note.html content="Back up **first**." %}',
            '<div class="note"><p>Back up <strong>first</strong>.</p></div>',
        ),
        ("{% include ../../etc/passwd %}", ""),
    ],
)
def test_jekyll_liquid(tmp_path: Path, body: str, expected: str) -> None:
    site = jekyll_site(
        tmp_path, url="https://x.org", baseurl="/base", title="Site", repo={"name": "feedpub"}
    )
    includes = tmp_path / "_includes"
    includes.mkdir()
    (includes / "note.html").write_text(
        '<div class="note">{{ include.content | markdownify }}</div>', "utf-8"
    )
    assert expected in render_jekyll(body, context(site))


@pytest.mark.parametrize(
    ("title", "smart"),
    [  # what Jekyll 4.3.1's smartify filter returns (ruby -rjekyll)
        (
            "Jekyll's Mid-Life Crisis (Or, Jekyll turns 2.5.0)",
            "Jekyll’s Mid-Life Crisis (Or, Jekyll turns 2.5.0)",
        ),
        ('Jekyll 3.1.4 "Stability Sam" Released', "Jekyll 3.1.4 “Stability Sam” Released"),
        ("Jekyll Turns 21! Err... I mean 2.1.0.", "Jekyll Turns 21! Err… I mean 2.1.0."),
        ("'90s -- and --- more", "’90s – and — more"),
        ("'quoted'", "‘quoted’"),
    ],
)
def test_jekyll_smartify(title: str, smart: str) -> None:
    assert smartify(title) == smart


def test_no_template_marker_survives() -> None:
    assert (
        no_template_markers("<code>{% x %} {{ y }}</code>")
        == "<code>&#123;% x %} &#123;{ y }}</code>"
    )


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        ({"_config.yml": "", "source/_posts/a.md": ""}, HexoSite),
        ({"_config.yml": "source_dir: src\n", "src/_posts/a.md": ""}, HexoSite),
        ({"_config.yml": "", "package.json": '{"dependencies": {"hexo": "^8"}}'}, HexoSite),
        ({"_config.yml": "", "_posts/2021-01-01-a.md": ""}, JekyllSite),
        ({"_config.yml": ""}, None),
        ({"source/_posts/a.md": ""}, None),
    ],
)
def test_detect(
    tmp_path: Path, files: dict[str, str], kind: type | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, "utf-8")
    assert detect(tmp_path) is kind
    # The site is loaded as the kind found, its _config.yml read once.
    reads: list[Path] = []
    read = importlib.import_module("feedpub.sites.base").read_site_config
    for name in ("detect", "hexo", "jekyll"):  # (`detect` is also the function's name)
        module = importlib.import_module(f"feedpub.sites.{name}")
        monkeypatch.setattr(
            module, "read_site_config", lambda file: reads.append(file) or read(file)
        )
    site = find_site(tmp_path)
    assert type(site) is kind if kind else site is None
    assert len(reads) == (1 if files.get("_config.yml") is not None else 0)


def test_a_site_whose_config_cannot_be_read_says_why(tmp_path: Path) -> None:
    (tmp_path / "_config.yml").write_text("url: [unclosed\n", "utf-8")
    (tmp_path / "source" / "_posts").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"_config\.yml: not valid YAML"):
        load_site(tmp_path)


@pytest.mark.parametrize(
    ("feed", "files"),
    [  # what hexo-generator-feed 3.0.0's index.js makes of `type` and `path`
        ({}, {Format.ATOM: "atom.xml"}),
        ({"type": "rss2"}, {Format.RSS: "rss2.xml"}),
        ({"type": "rss2", "path": "news"}, {Format.RSS: "news.xml"}),
        ({"type": "rss2", "path": ["news.xml"]}, {Format.RSS: "rss2.xml"}),  # types differ
        ({"type": "json"}, {Format.ATOM: "atom.xml"}),
        ({"type": ["rss2"], "path": ["/feeds/r.rss"]}, {Format.RSS: "feeds/r.rss"}),
        ({"type": ["rss2"], "path": "r.xml"}, {Format.RSS: "rss2.xml"}),
        ({"type": ["json"]}, {Format.ATOM: "atom.xml"}),
        (
            {"type": ["atom", "rss2"], "path": ["a.xml", "r.xml"]},
            {Format.ATOM: "a.xml", Format.RSS: "r.xml"},
        ),
        (
            {"type": ["rss2", "atom"], "path": ["a.xml"]},  # any pair is [atom, rss2]
            {Format.ATOM: "a.xml", Format.RSS: "rss2.xml"},
        ),
        (
            {"type": ["atom", "rss2", "x"], "path": ["a", "r", "x"]},
            {Format.ATOM: "a.xml", Format.RSS: "r.xml"},
        ),
        ({"type": ["atom", "rss2"], "path": []}, {Format.ATOM: "atom.xml", Format.RSS: "rss2.xml"}),
    ],
)
def test_hexo_feed_files(tmp_path: Path, feed: dict[str, Any], files: dict[Format, str]) -> None:
    assert hexo_site(tmp_path, feed=feed).feed_files() == files


def test_jekyll_feed_file(tmp_path: Path) -> None:
    assert jekyll_site(tmp_path).feed_files() == {Format.ATOM: "feed.xml"}
    assert jekyll_site(tmp_path, feed={"path": "/news/atom.xml"}).feed_files() == {
        Format.ATOM: "news/atom.xml"
    }


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"path": "../atom.xml"}, "is not a file below the site"),
        ({"path": "feeds/"}, "is not a file below the site"),
        ({"path": "rss.xml"}, "is also the file of another feed"),  # feedpub's RSS feed
        ({"path": "feeds.opml"}, "is also the file of another feed"),
        ({"path": ".feedpub/x.xml"}, "is also the file of another feed"),
    ],
)
def test_a_feed_path_feedpub_cannot_write_is_a_config_error(
    tmp_path: Path, feed: dict[str, Any], message: str
) -> None:
    site = jekyll_site(tmp_path, feed=feed)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(site=site)
    assert str(tmp_path / "_config.yml") in str(caught.value)
    hexo = hexo_site(tmp_path / "h", feed={"type": ["atom", "rss2"], "path": ["f.xml", "f.xml"]})
    with pytest.raises(ConfigError, match="is also the file of another feed"):
        load_config(site=hexo)


@pytest.mark.parametrize(
    ("feed", "order", "cut"),
    [
        ({}, ("date", True), (140, "")),  # hexo-generator-feed's defaults
        ({"order_by": "date", "content_limit": 60}, ("date", False), (60, "")),
        ({"order_by": "-updated", "content_limit_delim": " "}, ("updated", True), (140, " ")),
        ({"order_by": "title", "content_limit": 0}, ("title", False), (140, "")),
        ({"order_by": "-comments", "content_limit": "x"}, ("date", True), (140, "")),
    ],
)
def test_hexo_feed_order_and_summary_length(
    tmp_path: Path, feed: dict[str, Any], order: tuple[str, bool], cut: tuple[int, str]
) -> None:
    site = hexo_site(tmp_path, feed=feed)
    assert site.feed_order() == order and site.summary_cut() == cut
    assert jekyll_site(tmp_path / "j").feed_order() == ("date", True)
    assert jekyll_site(tmp_path / "j").summary_cut() is None


def test_hexo_feed_icon(tmp_path: Path) -> None:
    assert hexo_site(tmp_path, feed={"icon": "/i.png"}).config_values()["icon"] == "i.png"
    given = hexo_site(tmp_path, feed={"icon": "https://cdn.example/i.png"}).config_values()
    assert given["icon"] == "https://cdn.example/i.png"
    assert "icon" not in hexo_site(tmp_path, feed={}).config_values()


def test_jekyll_feed_categories(tmp_path: Path) -> None:
    every = jekyll_site(tmp_path)
    assert every.keeps_category_feed(("news",)) and every.category_feed_files(("news",)) == {}
    site = jekyll_site(tmp_path / "a", feed={"categories": ["release", "Release", "a/../b"]})
    assert site.keeps_category_feed(("release",)) and not site.keeps_category_feed(("news",))
    assert site.category_feed_files(("release",)) == {Format.ATOM: "feed/release.xml"}
    assert site.category_feed_files(("Release",)) == {}  # one file on a case-blind disk
    assert site.category_feed_files(("a/../b",)) == {}
    nested = jekyll_site(
        tmp_path / "b",
        feed={"categories": ["x"], "collections": {"posts": {"categories": ["news"]}}},
    )
    assert nested.keeps_category_feed(("news",)) and not nested.keeps_category_feed(("x",))


_GLOB_PIECES = st.sampled_from(["a", "b", "_posts", "/", "*", "?", "[ab]", "[!a]", ".", "-", "]"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_GLOB_PIECES, min_size=1, max_size=5).map("".join), max_size=4),
    st.lists(_GLOB_PIECES, min_size=1, max_size=6).map("".join),
)
def test_jekyll_exclude_matches_a_path_as_fnmatch_does(excluded: list[str], rel: str) -> None:
    """Jekyll's `exclude` is asked of every file: one compiled pattern, the verdict of a
    name compared as it is and with `fnmatch` against each entry."""
    from feedpub.sites import jekyll

    names = (*jekyll._EXCLUDED, *excluded)
    literal, pattern = jekyll._exclusions(tuple(excluded))
    expected = any(rel == e or fnmatch.fnmatch(rel, e) for e in names)
    assert (rel in literal or pattern.match(rel) is not None) is expected


@pytest.mark.parametrize(
    ("exclude", "kept"),
    [
        (["drafts-old"], ["_posts/2021-01-01-a.md"]),
        ("drafts-old", ["_posts/2021-01-01-a.md"]),  # a name, not its letters
        ("_posts/2021-01-01-a.md", []),
        ("Gemfile, _posts/2021-01-01-a.md", []),  # comma-separated, as Jekyll reads a text
        (5, ["_posts/2021-01-01-a.md"]),  # neither: the value as one entry
    ],
)
def test_jekyll_exclude_that_is_not_a_list(
    tmp_path: Path, exclude: object, kept: list[str]
) -> None:
    site = jekyll_site(tmp_path, exclude=exclude)
    (tmp_path / "_posts" / "2021-01-01-a.md").write_text("---\ntitle: a\n---\n", "utf-8")
    (tmp_path / "drafts-old").mkdir()
    (tmp_path / "drafts-old" / "x.md").write_text("", "utf-8")
    assert [f.rel for f in scan_posts(tmp_path, site.keep).files()] == kept


_FILE_NAMES = (
    st.lists(
        st.sampled_from([*"ab_.~%-é文", ".md", ".MD", ".markdown", ".html", ".Htm", ".txt"]),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(lambda name: name not in (".", ".."))
)


@settings(max_examples=300, deadline=None)
@given(
    folder=st.sampled_from(["", "_posts/", "_drafts/", "_posts/a/b/"]),
    name=_FILE_NAMES,
    asset_folder=st.booleans(),
)
def test_the_names_a_hexo_folder_keeps_are_files_keep_keeps(
    tmp_path_factory: pytest.TempPathFactory, folder: str, name: str, asset_folder: bool
) -> None:
    """The scan's rule by name (`post_names`) takes no file `keep` would not."""
    site = hexo_site(tmp_path_factory.mktemp("site"), post_asset_folder=asset_folder)
    rule = site.post_names(folder)
    if rule is None:
        return
    hidden, suffixes, unwanted = rule
    taken = (
        name[0] not in hidden
        and name.lower().endswith(suffixes)
        and not (unwanted and name.endswith(unwanted))
    )
    if taken:
        assert site.keep(folder + name, False)


def test_a_hexo_scan_by_names_finds_what_keep_finds(tmp_path: Path) -> None:
    site = hexo_site(tmp_path)
    posts = tmp_path / "source" / "_posts"
    for rel in [
        "a.md", "B.MD", "c.Markdown", "d.html", "e.txt", "_f.md", ".g.md", "h.md~", "i.md%",
        "文.md", "sub/j.md", "sub/_k.md", "_sub/l.md", ".sub/m.md", "sub/deeper/n.htm",
    ]:  # fmt: skip
        (posts / rel).parent.mkdir(parents=True, exist_ok=True)
        (posts / rel).write_text("---\ntitle: t\n---\n", "utf-8")
    (tmp_path / "source" / "top.md").write_text("", "utf-8")
    (tmp_path / "source" / "_drafts").mkdir()
    (tmp_path / "source" / "_drafts" / "draft.md").write_text("", "utf-8")
    source = tmp_path / "source"
    by_keep = sorted(f.rel for f in scan_posts(source, site.keep).files())
    by_names = sorted(f.rel for f in scan_posts(source, site.keep, names=site.post_names).files())
    assert by_names == by_keep
    assert by_keep == [
        "_drafts/draft.md", "_posts/B.MD", "_posts/a.md", "_posts/c.Markdown", "_posts/d.html",
        "_posts/sub/deeper/n.htm", "_posts/sub/j.md", "_posts/文.md",
    ]  # fmt: skip
