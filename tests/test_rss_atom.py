"""feedpub writes its feeds as text (render/rss_atom.py); feedgen with lxml is the oracle.

Random feeds (awkward text, empty and missing parts, enclosures of known and unknown
size, both content settings) are rendered both ways and must be the same bytes, so
readers and validators see exactly what they saw when feedgen wrote the feeds.
"""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from feedpub.builder import build_feeds
from feedpub.config import load_config
from feedpub.formats import Format
from feedpub.models import Content, Enclosure
from feedpub.render import render
from feedpub.validation import validate_feed
from tests.feedgen_render import atom as feedgen_atom
from tests.feedgen_render import rss as feedgen_rss
from tests.helpers import BASE_URL, parse_back, post

# Text the reader lets through: anything XML 1.0 can carry, markup and quotes included.
_TEXT = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs",),
        exclude_characters="\x00\ufffe\uffff",
        min_codepoint=0x09,
    ).filter(lambda c: c in "\t\n\r" or c >= " "),
    max_size=40,
)
_LINE = st.text(st.sampled_from(string.ascii_letters + " &<>\"'é›中]]>"), min_size=1, max_size=20)
_ORACLE = {Format.RSS: feedgen_rss, Format.ATOM: feedgen_atom}
_INSTANT = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2030, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))]),
)


@st.composite
def _site(draw: st.DrawFn) -> tuple[object, dict[str, Content], object]:
    config = load_config(
        None,
        {
            "base_url": BASE_URL,
            "title": draw(_LINE),
            "description": draw(_LINE),
            "author": draw(st.sampled_from(["", "Site & Co"])),
            "language": draw(st.sampled_from(["", "en", "zh-CN"])),
            "content": draw(st.sampled_from(["full", "summary"])),
            "hubs": draw(
                st.sampled_from(
                    [
                        (),
                        ("https://hub.example/",),
                        ("https://a.example/h?x=1&y=2", "https://b.example/"),
                    ]
                )
            ),
        },
    )
    posts, contents = [], {}
    for n in range(draw(st.integers(0, 4))):
        source = f"p{n}.md"
        image = draw(st.sampled_from([None, 'https://img.example.org/a&b.jpg?x="1"']))
        posts.append(
            post(
                source,
                1,
                *draw(st.lists(st.tuples(_LINE), max_size=2)),
                title=draw(_LINE),
                date=draw(_INSTANT),
                updated=draw(st.none() | _INSTANT),
                tags=tuple(draw(st.lists(_LINE, max_size=2))),
                author=draw(st.none() | _LINE),
                thumbnail=image,
            )
        )
        enclosure = (
            Enclosure(image, "image/jpeg", draw(st.sampled_from([0, 77]))) if image else None
        )
        contents[source] = Content(
            draw(st.sampled_from(["", "<p>x</p>"]) | _TEXT),
            draw(st.none() | st.just("") | _TEXT),
            enclosure,
        )
    built = build_feeds(posts, config, dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    feed = draw(st.sampled_from(built.feeds))
    return feed, contents, config


@settings(max_examples=200, deadline=None)
@given(_site(), st.sampled_from(list(_ORACLE)))
def test_the_same_bytes_as_feedgen(
    site: tuple[object, dict[str, Content], object], fmt: Format
) -> None:
    feed, contents, config = site
    ours = render(feed, fmt, contents, config)  # type: ignore[arg-type]
    assert ours == _ORACLE[fmt](feed, contents, config)  # type: ignore[arg-type]


def test_a_real_feed_is_valid_and_the_same() -> None:
    config = load_config(None, {"base_url": BASE_URL, "title": "Site"})
    posts = [
        post(
            "a.md",
            3,
            ("新媒体", "观察者网"),
            author="Ana",
            thumbnail="https://img.example.org/c.jpg",
        )
    ]
    contents = {
        "a.md": Content(
            "<p>a &amp; b</p>",
            "<p>a</p>",
            Enclosure("https://img.example.org/c.jpg", "image/jpeg", 0),
        )
    }
    for feed in build_feeds(posts, config, dt.datetime(2031, 1, 1, tzinfo=dt.UTC)).feeds:
        for fmt in _ORACLE:
            data = render(feed, fmt, contents, config)
            assert data == _ORACLE[fmt](feed, contents, config)
            assert validate_feed(data, feed.file(fmt), self_url=feed.file_url(fmt)) == []
            parse_back(data)
