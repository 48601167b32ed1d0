"""JSON Feed 1.1: every feed.json a build writes is checked against the JSON Feed 1.1 JSON
Schema (tests/schemas, written from the specification), by feedpub's own rules, and read
back over HTTP by a real feed reader library (reader, which reads JSON Feed; feedparser 6
does not), with the same items, ids and dates as the Atom feed beside it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reader import make_reader

from feedpub.render import json_feed
from feedpub.validation import validate_feed
from feedpub.validation.json_feed import VERSIONS
from tests.helpers import json_feed_files, run, serve

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "jsonfeed-1.1.schema.json").read_text())
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 92  # 100 bytes with a PNG signature


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def make_site(root: Path, base_url: str, settings: str = "") -> Path:
    """A small site: a config file, posts in a category tree, a local image of known size."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "feedpub.toml").write_text(
        f'title = "Demo"\nbase_url = "{base_url}"\nlanguage = "zh-CN"\n'
        f'author = "Demo Team"\ntimezone = "Asia/Shanghai"\n{settings}',
        "utf-8",
    )
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "cover.png").write_bytes(PNG)
    posts = root / "posts"
    posts.mkdir()
    (posts / "guancha.md").write_text(
        textwrap.dedent("""\
        ---
        title: '河南省委书记：疫情不在本月解决，将造成极大被动'
        categories: [新媒体, 观察者网]
        tags: [疫情]
        author: 观察者网
        date: Mon, 09 Aug 2021 08:36:33 GMT
        thumbnail: /images/cover.png
        description: 'A <b>summary</b> &amp; more'
        ---

        <div><p>正文 <a href="/about/">about</a></p></div>
        """),
        "utf-8",
    )
    (posts / "markdown.md").write_text(
        textwrap.dedent("""\
        ---
        title: Markdown post
        categories: Tech
        date: 2021-08-10 10:00:00
        updated: 2021-08-11 10:00:00
        thumbnail: https://picsum.photos/400/300?random=1
        ---

        The summary.

        <!-- more -->

        The *rest*.
        """),
        "utf-8",
    )
    return root


def build_site(site: Path, *extra: str) -> tuple[int, str, str]:
    return run("build", "--config", site / "feedpub.toml", *extra)


def test_every_json_feed_matches_the_schema_and_says_what_atom_says(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", "https://news.example.org/")
    code, _, err = build_site(site)
    assert code == 0, err
    files = json_feed_files(site / "output")
    assert len(files) == 4  # the site, 新媒体, 新媒体 › 观察者网, Tech
    for path in files:
        document = json.loads(path.read_bytes())
        assert schema_errors(document) == [], path
        assert validate_feed(path.read_bytes(), str(path)) == []
        atom = feedparser.parse(path.with_name("atom.xml").read_bytes())
        assert [item["id"] for item in document["items"]] == [e.id for e in atom.entries]
        assert [item["date_modified"] for item in document["items"]] == [
            e.updated.replace("+00:00", "Z") for e in atom.entries
        ]
    site_feed = json.loads((site / "output" / "feed.json").read_text("utf-8"))
    assert site_feed["feed_url"] == "https://news.example.org/feed.json"
    assert site_feed["home_page_url"] == "https://news.example.org/"
    assert site_feed["language"] == "zh-CN"
    assert site_feed["authors"] == [{"name": "Demo Team"}]
    assert "hubs" not in site_feed and "icon" not in site_feed
    markdown, guancha = site_feed["items"]
    assert guancha["title"] == "河南省委书记：疫情不在本月解决，将造成极大被动"
    assert guancha["date_published"] == "2021-08-09T08:36:33Z"
    assert guancha["authors"] == [{"name": "观察者网"}]
    assert guancha["tags"] == ["新媒体", "观察者网", "疫情"]
    assert guancha["summary"] == "A summary & more"  # plain text, as JSON Feed wants
    assert guancha["image"] == "https://news.example.org/images/cover.png"
    assert guancha["attachments"] == [
        {"url": guancha["image"], "mime_type": "image/png", "size_in_bytes": len(PNG)}
    ]
    assert 'href="https://news.example.org/about/"' in guancha["content_html"]
    # a remote image of unknown size: no size_in_bytes rather than a false 0
    assert markdown["attachments"] == [{"url": markdown["image"], "mime_type": "image/jpeg"}]
    assert markdown["date_published"] == "2021-08-10T02:00:00Z"  # Asia/Shanghai
    assert markdown["date_modified"] == "2021-08-11T02:00:00Z"
    assert markdown["summary"] == "The summary."


def test_icon_favicon_and_hubs_when_configured(tmp_path: Path) -> None:
    site = make_site(
        tmp_path / "site",
        "https://news.example.org/blog/",
        'icon = "images/icon.png"\nfavicon = "https://cdn.example.org/fav.ico"\n'
        'hub = ["https://hub.example.org/", "https://pubsubhubbub.appspot.com/"]\n',
    )
    assert build_site(site)[0] == 0
    for path in json_feed_files(site / "output"):
        document = json.loads(path.read_bytes())
        assert schema_errors(document) == []
        assert document["icon"] == "https://news.example.org/blog/images/icon.png"
        assert document["favicon"] == "https://cdn.example.org/fav.ico"
        assert document["hubs"] == [
            {"type": "WebSub", "url": "https://hub.example.org/"},
            {"type": "WebSub", "url": "https://pubsubhubbub.appspot.com/"},
        ]


def test_summary_mode_carries_the_summary_as_content(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", "https://news.example.org/", 'content = "summary"\n')
    assert build_site(site)[0] == 0
    items = json.loads((site / "output" / "feed.json").read_text("utf-8"))["items"]
    assert items[1]["content_html"] == "A <b>summary</b> &amp; more"
    assert "正文" not in items[1]["content_html"]


def test_rebuilds_are_byte_identical_and_unchanged_files_are_not_rewritten(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path / "site", "https://news.example.org/")
    build_site(site)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in json_feed_files(site / "output")}
    code, out, _ = build_site(site, "--full")  # everything rendered again
    assert code == 0 and " 0 written" in out
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before
    text = (site / "output" / "feed.json").read_text("utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"


def test_json_only_and_no_json(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", "https://news.example.org/")
    assert build_site(site, "--format", "json")[0] == 0
    assert not list((site / "output").rglob("*.xml"))
    assert len(json_feed_files(site / "output")) == 4
    assert build_site(site, "--format", "rss,atom")[0] == 0
    assert json_feed_files(site / "output") == []  # removed: the manifest said feedpub wrote them


def test_a_real_reader_reads_every_json_feed_over_http(tmp_path: Path) -> None:
    out = tmp_path / "site" / "output"
    with serve(out) as base_url:
        site = make_site(tmp_path / "site", base_url)
        assert build_site(site)[0] == 0
        reader = make_reader(":memory:")
        try:
            urls = [base_url + p.relative_to(out).as_posix() for p in json_feed_files(out)]
            for url in urls:
                reader.add_feed(url)
            reader.update_feeds()
            for url in urls:
                feed = reader.get_feed(url)
                assert feed.last_exception is None, (url, feed.last_exception)
                assert feed.version == "json11"
                assert feed.title.startswith("Demo")
            site_feed = reader.get_feed(base_url + "feed.json")
            assert site_feed.link == base_url
            entries = {e.id: e for e in reader.get_entries(feed=site_feed)}
            guancha = entries[base_url + "2021/08/09/guancha/"]
            assert guancha.title == "河南省委书记：疫情不在本月解决，将造成极大被动"
            assert guancha.link == guancha.id
            assert guancha.published.isoformat() == "2021-08-09T08:36:33+00:00"
            assert guancha.authors_str == "观察者网"
            assert [(e.href, e.type, e.length) for e in guancha.enclosures] == [
                (base_url + "images/cover.png", "image/png", len(PNG))
            ]
            assert "正文" in guancha.content[0].value
            assert guancha.content[0].type == "text/html"
        finally:
            reader.close()


def test_the_schema_refuses_what_the_specification_refuses() -> None:
    """The schema test above can fail: documents that break the specification do not pass."""
    good = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "items": [{"id": "1", "content_text": "x", "date_published": "2021-08-09T08:36:33Z"}],
    }
    assert schema_errors(good) == []
    broken = [
        {**good, "version": "1.1"},
        {**good, "items": [{"id": "1"}]},  # no content
        {**good, "items": [{"id": "1", "content_text": "x", "date_published": "9 Aug 2021"}]},
        {**good, "items": [{"id": "1", "content_text": "x", "attachments": [{"url": "u"}]}]},
        {**good, "home_page_url": "example.org"},
        {**good, "titel": "typo"},
    ]
    for document in broken:
        assert schema_errors(document), document


def test_validate_command_reads_json_feeds(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", "https://news.example.org/")
    build_site(site)
    code, out, _ = run("validate", site / "output" / "feed.json")
    assert code == 0 and "feed.json: valid (0 errors, 0 warnings)" in out
    broken = tmp_path / "broken.json"
    document = json.loads((site / "output" / "feed.json").read_text("utf-8"))
    document["items"][0]["date_published"] = "Mon, 09 Aug 2021 08:36:33 GMT"
    del document["items"][1]["content_html"]
    broken.write_text(json.dumps(document), "utf-8")
    code, out, _ = run("validate", broken, "--url", "https://other.example.org/feed.json")
    assert code == 1
    assert "items[0].date_published" in out and "[json-date]" in out
    assert "[missing-content]" in out and "[feed-url-mismatch]" in out


@pytest.mark.parametrize("name", ["feed.json"])
def test_a_category_named_like_a_feed_file_gets_its_own_folder(tmp_path: Path, name: str) -> None:
    site = make_site(tmp_path / "site", "https://news.example.org/")
    (site / "posts" / "odd.md").write_text(
        f"---\ntitle: Odd\ncategories: [Tech, {name}]\ndate: 2021-08-01\n---\n\nx\n", "utf-8"
    )
    assert build_site(site)[0] == 0
    assert (site / "output" / "categories" / "Tech" / "feed.json").is_file()
    assert (site / "output" / "categories" / "Tech" / f"{name}-" / "feed.json").is_file()


def test_cli_help_names_json_feed() -> None:
    assert "JSON Feed 1.1" in " ".join(run("build", "--help")[1].split())


FEEDS = Path(__file__).parent / "feeds"


def _json_feed_1_1(path: Path) -> bool:
    """A case the schema can judge: a JSON object that says it is JSON Feed 1.1 (not bytes
    that are not JSON, which are the parser's to refuse, nor a 1.0 feed)."""
    try:
        document = json.loads(path.read_bytes(), parse_constant=float)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("version") == VERSIONS[0]


@pytest.mark.parametrize(
    "feed", [p for p in sorted(FEEDS.glob("*/*.json")) if _json_feed_1_1(p)], ids=lambda p: p.name
)
def test_the_schema_and_the_validator_agree_on_every_case(feed: Path) -> None:
    """tests/feeds: what feedpub's rules call an error in a JSON Feed 1.1, the schema refuses;
    what they pass, it passes."""
    document = json.loads(feed.read_bytes(), parse_constant=float)
    refused = {
        p.rule
        for p in validate_feed(feed.read_bytes(), feed.name)
        # the schema has no warnings: what feedpub only warns of, it refuses outright
        if p.severity == "error" or p.rule in ("unknown-member", "json-id", "json-language")
    } - {"duplicate-id", "duplicate-member", "feed-url-mismatch"}  # beyond what it can say
    assert bool(schema_errors(document)) == bool(refused), (feed.name, refused)


def test_the_real_corpus_as_json_feed(real_corpus: Path, tmp_path: Path) -> None:
    """Every real post: each feed.json matches the schema, a real reader reads every one of
    them over HTTP with no error, and each has the same items as the Atom feed beside it."""
    out = tmp_path / "out"
    with serve(out) as base_url:
        code, _, err = run("build", "--posts", real_corpus, "--output", out, "--base-url", base_url)
        assert code in (0, 1), err  # 1: the corpus has posts that are skipped on purpose
        files = json_feed_files(out)
        assert len(files) == len(list(out.rglob("atom.xml"))) > 50
        for path in files:
            document = json.loads(path.read_bytes())
            assert schema_errors(document) == [], path
            atom = feedparser.parse(path.with_name("atom.xml").read_bytes())
            assert [item["id"] for item in document["items"]] == [e.id for e in atom.entries]
        reader = make_reader(":memory:")
        try:
            urls = [base_url + p.relative_to(out).as_posix() for p in files]
            for url in urls:
                reader.add_feed(url)
            reader.update_feeds()
            for url in urls:
                assert reader.get_feed(url).last_exception is None, url
            items = sum(len(json.loads(p.read_bytes())["items"]) for p in files)
            assert reader.get_entry_counts().total == items  # every item of every feed
        finally:
            reader.close()


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "too-deep"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "n": ' + b"9" * 5000 + b"}", "not-json"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "n": Infinity}', "not-json"),
        (b"\xef\xbb\xbf{}", "byte-order-mark"),
        (b"  \n{", "not-json"),
    ],
    ids=["deep", "huge-number", "infinity", "bom", "truncated"],
)
def test_hostile_json_is_reported_never_raised(data: bytes, rule: str) -> None:
    problems = validate_feed(data, "x.json")
    assert rule in {p.rule for p in problems}
    assert all(p.path == "x.json" and p.message for p in problems)


_JSON_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(['"', "\\", "\n", "\x00", "\u2028"])
)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(_JSON_VALUES)
def test_the_json_writer_writes_what_json_dumps_writes(value: Any) -> None:
    """The feed's JSON is laid out by our own writer; the standard library is its oracle."""
    expected = json.dumps(value, ensure_ascii=False, indent=2, separators=(",", ": "))
    assert json_feed._json(value, "\n") == expected
