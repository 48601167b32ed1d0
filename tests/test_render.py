"""The renderer: every feedgen 1.0.0 trap the old renderer worked around stays avoided,
each proven on real XML parsed back with lxml and feedparser."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from lxml import etree

from feedpub.builder import build_feeds
from feedpub.config import load_config
from feedpub.formats import Format
from feedpub.models import Content, Enclosure, Feed
from feedpub.render import render
from feedpub.render.items import Contents
from tests.helpers import BASE_URL, parse_back, post

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
}
IMAGE = "https://img.example.org/cover.jpg"
MEDIA = NS["media"]


def sample_feed(**settings: Any) -> tuple[Feed, dict[str, Content], Any]:
    config = load_config(None, {"base_url": BASE_URL, "title": "Site", **settings})
    posts = [
        post("old.md", 1, ("a",), author="Ana", thumbnail=IMAGE),
        post("new.md", 9, ("a", "b"), tags=("t",)),
        post("mid.md", 5, summary="short"),
    ]
    contents = {
        "old.md": Content("<p>old</p>", None, Enclosure(IMAGE, "image/jpeg", 0)),
        "new.md": Content("<p>new</p>", None, None),
        "mid.md": Content(
            "<p>mid <b>full</b></p>", "<p>short</p>", Enclosure(IMAGE, "image/jpeg", 1234)
        ),
    }
    feed = build_feeds(posts, config, NOW).feeds[0]
    return feed, contents, config


def rendered(fmt: Format, **settings: Any) -> tuple[Any, etree._Element]:
    feed, contents, config = sample_feed(**settings)
    return parse_back(render(feed, fmt, contents, config))


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])  # feedgen's traps
def test_entries_keep_the_builders_order(fmt: Format) -> None:
    # Trap: feedgen prepends entries unless order="append".
    parsed, _ = rendered(fmt)
    assert [e.link for e in parsed.entries] == [
        BASE_URL + "2021/08/09/new/",
        BASE_URL + "2021/08/05/mid/",
        BASE_URL + "2021/08/01/old/",
    ]


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])  # feedgen's traps
def test_no_date_comes_from_the_clock(fmt: Format) -> None:
    # Trap: feed updated, lastBuildDate and entry updated default to now().
    feed, contents, config = sample_feed()
    first = render(feed, fmt, contents, config)
    assert render(feed, fmt, contents, config) == first
    parsed, _ = parse_back(first)
    newest = (2021, 8, 9, 12, 0, 0)
    assert tuple(parsed.feed.updated_parsed)[:6] == newest
    for entry, date in zip(parsed.entries, (9, 5, 1), strict=True):
        assert tuple(entry.published_parsed)[:6] == (2021, 8, date, 12, 0, 0)
        if fmt == "atom":
            assert tuple(entry.updated_parsed)[:6] == (2021, 8, date, 12, 0, 0)


def test_rss_channel_link_is_the_site_not_the_feed() -> None:
    # Trap: the RSS channel <link> is the LAST link added.
    _, root = rendered(Format.RSS)
    assert root.findtext("channel/link") == BASE_URL
    assert root.find("channel/atom:link", NS).get("href") == BASE_URL + "rss.xml"
    assert root.find("channel/atom:link", NS).get("rel") == "self"
    assert root.findtext("channel/lastBuildDate") == "Mon, 09 Aug 2021 12:00:00 +0000"


def test_atom_entry_links_keep_rel_type_and_length() -> None:
    # Trap (feedgen issue 135): rel, type and length are dropped, so the enclosure
    # becomes a second alternate link and readers open the image as the post.
    parsed, root = rendered(Format.ATOM)
    mid = root.findall("atom:entry", NS)[1]
    links = [dict(link.attrib) for link in mid.findall("atom:link", NS)]
    assert links == [
        {"href": BASE_URL + "2021/08/05/mid/", "rel": "alternate", "type": "text/html"},
        {"href": IMAGE, "rel": "enclosure", "type": "image/jpeg", "length": "1234"},
    ]
    assert parsed.entries[1].link == BASE_URL + "2021/08/05/mid/"
    assert parsed.entries[1].enclosures[0]["href"] == IMAGE


def test_atom_content_is_html_and_not_overwritten_by_the_summary() -> None:
    # Traps: content(type="CDATA") writes an invalid Atom type; description() overwrites content.
    _, root = rendered(Format.ATOM)
    mid = root.findall("atom:entry", NS)[1]
    assert mid.find("atom:content", NS).get("type") == "html"
    assert mid.findtext("atom:content", namespaces=NS) == "<p>mid <b>full</b></p>"
    assert mid.findtext("atom:summary", namespaces=NS) == "<p>short</p>"
    assert root.findall("atom:entry", NS)[0].find("atom:summary", NS) is None


def test_rss_description_is_the_summary_or_the_content() -> None:
    _, root = rendered(Format.RSS)
    new, mid, _ = root.findall("channel/item")
    assert mid.findtext("description") == "<p>short</p>"
    assert mid.findtext("content:encoded", namespaces=NS) == "<p>mid <b>full</b></p>"
    assert new.findtext("description") == "<p>new</p>"
    assert new.findtext("content:encoded", namespaces=NS) == "<p>new</p>"


def test_summary_only_feeds() -> None:
    _, rss = rendered(Format.RSS, content="summary")
    _, atom = rendered(Format.ATOM, content="summary")
    assert rss.find("channel/item/content:encoded", NS) is None
    assert atom.find("atom:entry/atom:content", NS) is None


def test_enclosure_length_is_never_none() -> None:
    # Trap: enclosure() without a length writes length="None".
    _, root = rendered(Format.RSS)
    lengths = [e.get("length") for e in root.iter("enclosure")]
    assert lengths == ["1234", "0"]
    assert all(
        e.get("type") == "image/jpeg" and e.get("url") == IMAGE for e in root.iter("enclosure")
    )


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])  # feedgen's traps
def test_media_elements_are_not_grouped(fmt: Format) -> None:
    # Trap: the media extension wraps everything in <media:group> by default.
    _, root = rendered(fmt)
    assert not list(root.iter(f"{{{MEDIA}}}group"))
    thumbnails = list(root.iter(f"{{{MEDIA}}}thumbnail"))
    assert [t.getparent().tag.rpartition("}")[2] for t in thumbnails] == [
        ("item" if fmt == "rss" else "entry")
    ] * 2
    media = list(root.iter(f"{{{MEDIA}}}content"))
    assert [m.get("medium") for m in media] == ["image", "image"]
    assert [m.get("fileSize") for m in media] == ["1234", None]


def test_rss_items_carry_guid_author_and_categories() -> None:
    parsed, root = rendered(Format.RSS)
    old = root.findall("channel/item")[2]
    assert old.find("guid").get("isPermaLink") == "true"
    assert old.findtext("guid") == old.findtext("link") == BASE_URL + "2021/08/01/old/"
    assert old.find("author") is None  # RSS <author> is for e-mail addresses
    assert old.findtext("dc:creator", namespaces=NS) == "Ana"
    new = root.findall("channel/item")[0]
    assert [c.text for c in new.findall("category")] == ["a", "b", "t"]
    assert parsed.entries[2].author == "Ana"


def test_atom_feed_and_entries_have_authors_ids_and_links() -> None:
    parsed, root = rendered(Format.ATOM, author="Site Team")
    assert root.findtext("atom:id", namespaces=NS) == BASE_URL + "atom.xml"
    assert root.findtext("atom:author/atom:name", namespaces=NS) == "Site Team"
    links = {link.get("rel"): link.get("href") for link in root.findall("atom:link", NS)}
    assert links == {"self": BASE_URL + "atom.xml", "alternate": BASE_URL}
    assert [e.id for e in parsed.entries] == [e.link for e in parsed.entries]
    assert parsed.entries[2].author == "Ana"


@pytest.mark.parametrize("content", ["full", "summary"])
def test_an_item_rendered_once_for_several_feeds_is_the_same_bytes(content: str) -> None:
    """The feeds of a category tree share their posts: each item is rendered once per
    format for all of them, and every feed is byte for byte what it is rendered alone."""
    config = load_config(None, {"base_url": BASE_URL, "title": "Site", "content": content})
    posts = [
        post("old.md", 1, ("a",), author="Ana", thumbnail=IMAGE),
        post("new.md", 9, ("a", "b"), tags=("t",)),
        post("mid.md", 5, ("a", "b"), summary="short"),
        post("none.md", 3),
    ]
    alone = {
        "old.md": Content("<p>old &amp; “new”</p>", None, Enclosure(IMAGE, "image/jpeg", 0)),
        "new.md": Content("<p>new</p>", None, None),
        "mid.md": Content("<p>mid <b>full</b></p>", "<p>short</p>", None),
        "none.md": Content("", None, None),
    }
    feeds = build_feeds(posts, config, NOW).feeds
    assert len(feeds) == 3  # the site, a, a › b: new.md and mid.md are in all three
    jobs = [(feed, fmt) for feed in feeds for fmt in Format]
    shared = Contents((fmt, entry) for feed, fmt in jobs for entry in feed.entries)
    shared.update(alone)
    for feed, fmt in jobs:
        assert render(feed, fmt, shared, config) == render(feed, fmt, alone, config)
    assert not shared.rendered._kept  # each item let go after the last feed that shows it


def test_items_keep_only_what_is_shown_again() -> None:
    feed, alone, config = sample_feed()
    contents = Contents((Format.RSS, entry) for entry in feed.entries)  # each shown once
    contents.update(alone)
    render(feed, Format.RSS, contents, config)
    render(feed, Format.ATOM, contents, config)  # not announced: rendered, not kept
    assert not contents.rendered._kept
