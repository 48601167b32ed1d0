"""Tests for feedpub.validate: feeds as files with their expected findings, and tables.

tests/feeds/bad/ holds broken feeds, one fault each, named for the fault;
tests/feeds/good/ holds valid feeds in the styles of other generators. Beside each
NAME.xml, NAME.expected lists the findings, one per line: `severity line element rule`
(`-` for no line or element), after an optional `self_url URL` line. A new case is a
new pair of files; see tests/feeds/README.md.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedpub import validation
from feedpub.models import Problem, Severity
from feedpub.validation import schema, validate_feed
from feedpub.validation.values import (
    atom_id_fault,
    relative_references,
    rfc822_fault,
    rfc3339_fault,
    url_fault,
)

FEEDS = Path(__file__).parent / "feeds"


def _cases(folder: str) -> list[Path]:
    return sorted((FEEDS / folder).glob("*.xml"))


def json_cases(folder: str) -> list[Path]:
    """The JSON Feed cases: the same layout, NAME.json beside NAME.expected."""
    return sorted((FEEDS / folder).glob("*.json"))


def _expected(feed: Path) -> tuple[str | None, list[tuple[str, int | None, str | None, str]]]:
    self_url = None
    findings = []
    for line in feed.with_suffix(".expected").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "self_url":
            self_url = fields[1]
            continue
        severity, number, element, rule = fields
        findings.append(
            (
                severity,
                None if number == "-" else int(number),
                None if element == "-" else element,
                rule,
            )
        )
    return self_url, findings


def _found(problems: list[Problem]) -> list[tuple[str, int | None, str | None, str]]:
    return [(str(p.severity), p.line, p.element, p.rule or "") for p in problems]


@pytest.mark.parametrize(
    "feed",
    _cases("bad") + _cases("good") + json_cases("bad") + json_cases("good"),
    ids=lambda p: p.parent.name + "/" + p.name,
)
def test_feed_findings(feed: Path) -> None:
    self_url, expected = _expected(feed)
    problems = validate_feed(feed.read_bytes(), feed.name, self_url)
    assert _found(problems) == expected
    for problem in problems:
        assert problem.path == feed.name
        assert problem.message
        if problem.element is not None:
            assert problem.element in problem.message
    # what the writer asks for: the same errors, and no warning need be looked for
    errors = [p for p in problems if p.severity is Severity.ERROR]
    only = validate_feed(feed.read_bytes(), feed.name, self_url, warnings=False)
    assert [p for p in only if p.severity is Severity.ERROR] == errors
    assert not any(p.rule == "relative-reference" for p in only)


@pytest.mark.parametrize("feed", _cases("good"), ids=lambda p: p.name)
def test_schemas_accept_good_feeds_whole(feed: Path) -> None:
    # validate_feed checks items one by one; the schemas must also work as plain files
    root = etree.fromstring(feed.read_bytes())
    grammar = schema._schema("rss20.rng" if root.tag == "rss" else "atom10.rng")
    assert grammar.validate(root), grammar.error_log


def test_folders_are_what_they_say() -> None:
    # every bad feed has an error or warning (one fault each), every good one no error
    bad, good = _cases("bad") + json_cases("bad"), _cases("good") + json_cases("good")
    assert len(bad) >= 70 and len(good) >= 11
    assert all(_expected(feed)[1] for feed in bad)
    for feed in good:
        assert all(severity == "warning" for severity, *_ in _expected(feed)[1])


def test_findings_are_sorted_by_line() -> None:
    data = (FEEDS / "good" / "minimal-rss.xml").read_bytes()
    data = data.replace(b"<title>Bench Notes</title>", b"<title>Bench Notes</title><ttl>x</ttl>")
    data = data.replace(b"https://bench.example.org/", b"/")
    lines = [p.line or 0 for p in validate_feed(data, "x.xml")]
    assert lines == sorted(lines) and len(lines) == 3


# -- hostile input ---------------------------------------------------------------------


def _passwd_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/passwd").read_text().splitlines() if line][:3]
    except OSError:
        return ["root:x:0:0"]


@pytest.mark.parametrize(
    "doctype",
    [
        # an internal subset declaring an external entity (classic XXE)
        '<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',
        # a parameter entity, the out-of-band XXE variant
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        # no internal subset: the DTD itself is the file
        '<!DOCTYPE rss SYSTEM "file:///etc/passwd">',
    ],
)
@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "utf-32-le"]
)
def test_xxe_is_reported_and_never_followed(doctype: str, encoding: str) -> None:
    text = (FEEDS / "bad" / "xxe-file.xml").read_text(encoding="utf-8")
    text = text.replace('encoding="utf-8"', f'encoding="{encoding.removesuffix("-sig")}"')
    start, end = text.index("<!DOCTYPE"), text.index("]>") + 2
    text = text[:start] + doctype + text[end:]
    problems = validate_feed(text.encode(encoding), "xxe.xml")
    assert [p.rule for p in problems if p.severity == Severity.ERROR][:1] in (
        ["entity-declaration"],
        ["doctype-forbidden"],
    )
    output = "\n".join(str(p) + repr(p) for p in problems)
    for line in _passwd_lines():
        assert line not in output


def test_billion_laughs_returns_at_once() -> None:
    data = (FEEDS / "bad" / "billion-laughs.xml").read_bytes()
    # the bomb also in an attribute, where libxml2 would expand it even without NOENT
    data = data.replace(b"<channel>", b'<channel xml:lang="&lol9;">')
    problems = validate_feed(data, "bomb.xml")
    assert [(p.rule, p.line) for p in problems] == [("entity-declaration", 2)]


def test_too_large_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (FEEDS / "bad" / "not-well-formed.xml").read_bytes()
    monkeypatch.setattr(validation, "MAX_FEED_BYTES", len(data) - 1)
    problems = validate_feed(data, "big.xml")
    assert [(p.severity, p.rule, p.line) for p in problems] == [(Severity.ERROR, "too-large", None)]


def _rss(channel_extra: str = "", items: str = "") -> bytes:
    return (
        '<?xml version="1.0"?>\n<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:x="urn:example:x">\n<channel>\n<title>t</title>\n<link>https://e.com/</link>\n'
        "<description>d</description>\n"
        '<atom:link rel="self" href="https://e.com/rss.xml"/>\n'
        f"{channel_extra}{items}</channel>\n</rss>\n"
    ).encode()


def test_too_many_children_is_refused_quickly() -> None:
    # libxml2's RELAX NG is quadratic in an element's children: 50,000 took seconds
    problems = validate_feed(_rss("<x:a/>" * 50_000), "wide.xml")
    assert [(p.rule, p.element) for p in problems] == [("too-many-children", "channel")]


def test_large_xhtml_content_is_checked_quickly() -> None:
    paragraphs = "<p>A paragraph of a very long article.</p>\n" * 20_000
    feed = (FEEDS / "good" / "xhtml-atom.xml").read_text(encoding="utf-8")
    feed = feed.replace("<p>Use it for ranges", paragraphs + "<p>Use it for ranges")
    problems = validate_feed(feed.encode(), "long.xml")
    assert problems == []


def test_two_megabyte_feed_is_quick() -> None:
    item = (
        "<item><title>Item {i}</title><link>https://e.com/{i}/</link>"
        "<guid>https://e.com/{i}/</guid><pubDate>Mon, 09 Aug 2021 08:36:33 GMT</pubDate>"
        "<description>{body}</description></item>\n"
    )
    body = (
        "&lt;p&gt;Some text with &lt;a href=&quot;https://e.com/x&quot;&gt;a link&lt;/a&gt;.&lt;/p&gt;"
        * 20
    )
    data = _rss(items="".join(item.format(i=i, body=body) for i in range(1200)))
    assert len(data) > 2_000_000
    validate_feed(data, "warm-up.xml")
    problems = validate_feed(data, "big.xml")
    assert problems == []


def test_threads_get_their_own_findings() -> None:
    # the writer may validate feeds in threads; a compiled schema keeps its last error log
    feeds = _cases("bad") + _cases("good")

    def findings(feed: Path) -> list[tuple[str, int | None, str | None, str]]:
        return _found(validate_feed(feed.read_bytes(), feed.name, _expected(feed)[0]))

    alone = [findings(feed) for feed in feeds]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(findings, feeds)) == alone


def test_self_url_is_compared_only_when_given() -> None:
    data = (FEEDS / "good" / "hugo-rss.xml").read_bytes()
    assert validate_feed(data, "a.xml", "https://logbook.example.com/posts/index.xml") == []
    assert validate_feed(data, "a.xml") == []
    wrong = validate_feed(data, "a.xml", "https://logbook.example.com/index.xml")
    assert [(p.rule, p.element) for p in wrong] == [("self-link-mismatch", "atom:link")]


# -- the value checkers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("Mon, 09 Aug 2021 08:36:33 GMT", None),  # the usual form
        ("Mon, 09 Aug 2021 08:36:33 +0000", None),  # numeric offset
        ("Tue, 01 Mar 2022 06:00:00 -0545", None),  # offsets need not be whole hours
        ("9 Aug 2021 08:36 EDT", None),  # weekday and seconds are optional
        ("mon, 09 aug 2021 08:36:33 gmt", None),  # RFC 822 ignores case
        ("Mon, 09 Aug 2021 08:36:33 UT", None),  # UT, as old as RFC 822
        ("Mon, 09 Aug 2021 23:59:60 Z", None),  # a leap second
        ("  Mon, 09 Aug 2021 08:36:33 GMT\n", None),  # space around the value
        ("Mon, 09 Aug 21 08:36:33 GMT", "rss-date-obsolete"),  # two-digit year
        ("Mon, 09 Aug 2021 08:36:33 A", "rss-date-obsolete"),  # military zone
        ("Tue, 09 Aug 2021 08:36:33 GMT", "rss-weekday"),  # 9 Aug 2021 was a Monday
        ("Monday, 09 Aug 2021 08:36:33 GMT", "rss-date"),  # full day name
        ("Mon, 09 Aug 2021 08:36:33", "rss-date"),  # no zone
        ("Mon, 09 Aug 2021 08:36:33 CET", "rss-date"),  # a zone RFC 822 does not name
        ("Mon, 09 Aug 2021 08:36:33 J", "rss-date"),  # J is the one letter not a zone
        ("Mon, 09 Aug 2021 08:36:33 +0099", "rss-date"),  # minutes past 59
        ("2021-08-09T08:36:33Z", "rss-date"),  # ISO 8601, the most common mistake
        ("Mon, 09 August 2021 08:36:33 GMT", "rss-date"),  # full month name
        ("Mon, 31 Feb 2021 08:36:33 GMT", "rss-date"),  # no such day
        ("Mon, 09 Aug 2021 24:00:00 GMT", "rss-date"),  # no such hour
        ("Invalid Date", "rss-date"),  # what a broken generator writes
        ("", "rss-date"),  # nothing at all
    ],
)
def test_rfc822_dates(value: str, rule: str | None) -> None:
    fault = rfc822_fault(value)
    assert (fault[0] if fault else None) == rule


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2021-08-09T08:36:33Z", True),  # UTC
        ("2021-08-09T08:36:33+08:00", True),  # offset
        ("2022-02-01T19:40:00.003-08:00", True),  # fractions of a second (Blogger)
        ("2016-12-31T23:59:60Z", True),  # a leap second
        ("2021-08-09T08:36Z", False),  # no seconds
        ("2021-08-09T08:36:33", False),  # no zone
        ("2021-08-09", False),  # a date alone
        ("2021-08-09 08:36:33Z", False),  # space for T
        ("2021-08-09t08:36:33z", False),  # RFC 4287 wants upper-case T and Z
        ("2021-08-09T08:36:33+0800", False),  # offset without its colon
        ("2021-08-09T08:36:33.Z", False),  # a point and no fraction
        ("2021-02-29T08:36:33Z", False),  # not a leap year
        ("2021-08-09T08:36:33+24:00", False),  # no such offset
        (" 2021-08-09T08:36:33Z", False),  # Atom dates allow no space
        ("Mon, 09 Aug 2021 08:36:33 GMT", False),  # RSS's format in an Atom feed
    ],
)
def test_rfc3339_dates(value: str, valid: bool) -> None:
    assert (rfc3339_fault(value) is None) == valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://example.com/2021/post/", True),  # a URL
        ("tag:example.com,2021:post-1", True),  # RFC 4151 tag
        ("tag:jane@example.com,2021-08-09:post-1", True),  # tag with an e-mail authority
        ("urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6", True),  # RFC 4287's own example
        ("urn:isbn:9780140449136", True),  # other URNs are not checked further
        ("https://例え.jp/記事", True),  # an IRI may hold non-ASCII
        ("/2021/post/", False),  # relative
        ("post-1", False),  # no scheme
        ("tag:example.com:post-1", False),  # tag without its date
        ("tag:Example.com,2021:x", False),  # tag authorities are lower-case
        ("urn:uuid:1234", False),  # not a UUID
        ("https://example.com/a post", False),  # a space
    ],
)
def test_atom_ids(value: str, valid: bool) -> None:
    assert (atom_id_fault(value) is None) == valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://example.com/", True),  # the plainest
        ("HTTP://EXAMPLE.COM", True),  # schemes and hosts ignore case
        ("https://user@example.com:8443/a/b?c=d&e=f#g", True),  # every part
        ("http://[2001:db8::1]:8080/", True),  # an IPv6 host
        ("https://example.cn/posts/%E6%98%8E", True),  # percent-encoded UTF-8
        ("  https://example.com/  ", True),  # space around the value
        ("https://example.cn/posts/明前", False),  # an IRI: RSS wants it percent-encoded
        ("https://example.com/a b", False),  # a space
        ("https://example.com/a[1]", False),  # brackets outside an IPv6 host
        ("/posts/1", False),  # relative
        ("example.com", False),  # no scheme
        ("ftp://example.com/a.mp3", False),  # not http(s)
        ("tag:example.com,2021:1", False),  # an id, not a URL
        ("https://", False),  # no host
        ("", False),  # nothing
    ],
)
def test_rss_urls(value: str, valid: bool) -> None:
    assert (url_fault(value) is None) == valid


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<a href="https://e.com/">x</a>', []),  # absolute
        ('<img src="/img/a.png">', ["/img/a.png"]),  # root-relative
        ("<A HREF=page.html>x</A>", ["page.html"]),  # upper case, no quotes
        ("<a href='#top'>top</a>", ["#top"]),  # a fragment resolves against the feed too
        ('<a href="//cdn.e.com/a.js">', ["//cdn.e.com/a.js"]),  # scheme-relative
        ('<a href=" mailto:jane@e.com">', []),  # any scheme is absolute
        ('<img data-src="lazy.png" src="https://e.com/a.png">', []),  # not an href or src
        ('<img srcset="a.png 1x, b.png 2x">', []),  # srcset is not checked (nor by W3C)
        ('<a href="">empty</a>', [""]),  # an empty reference is this document
        ("x = 1, src: none", []),  # words, not attributes
    ],
)
def test_relative_references(html: str, found: list[str]) -> None:
    assert relative_references(html) == found


def _document(fmt: str, html: str | None = None) -> Any:
    """A feed of three items as the renderer's parts (head, items, tail, separator,
    skeletons); `html`: the newest post's body."""
    from feedpub.formats import Format
    from feedpub.render import render_document
    from tests.test_render import sample_feed

    feed, contents, config = sample_feed()
    if html is not None:
        contents["new.md"] = dataclasses.replace(contents["new.md"], html=html)
    return render_document(feed, Format(fmt), contents, config), feed.file_url(Format(fmt))


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_items_checked_in_another_feed_are_not_checked_again(fmt: str) -> None:
    (head, items, tail, between, _), self_url = _document(fmt)
    assert len(items) == 3
    for known in ((), (0,), (0, 1, 2)):
        assert validation.feed_errors(head, items, tail, "f", self_url, known, between) == []
    # a fault in a known item is not looked for: the caller vouches for it
    bad = (items[0], items[1].replace(b"2021", b"20x1"), items[2])
    assert validation.feed_errors(head, bad, tail, "f", self_url, (1,), between) == []


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_faults_outside_the_known_items_are_reported_as_in_the_whole_feed(fmt: str) -> None:
    (head, items, tail, between, _), self_url = _document(fmt)
    bad = (items[0], items[1], items[2].replace(b"2021", b"20x1"))  # dates no reader reads
    whole = [
        p
        for p in validate_feed(head + between.join(bad) + tail, "f", self_url)
        if p.severity is Severity.ERROR
    ]
    assert whole
    found = validation.feed_errors(head, bad, tail, "f", self_url, (0, 1), between)
    assert found == whole  # the lines (and JSON paths) are those of the whole feed
    # the head is always checked: a feed published under another URL
    assert validation.feed_errors(head, items, tail, "f", self_url + "x", (0, 1, 2), between)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_skeletons_are_read_instead_of_the_items_and_faults_reported_as_in_the_whole(
    fmt: str,
) -> None:
    html = "<p>a <b>long</b> & “fine” body ]]> " * 50
    (head, items, tail, between, skeletons), self_url = _document(fmt, html)
    escaped = html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
    assert escaped in items[0] and escaped not in skeletons[0]  # the body is not read
    assert skeletons[0].replace(b">x<", b">" + escaped + b"<") == items[0]
    assert validation.feed_errors(head, items, tail, "f", self_url, (), between, skeletons) == []

    # a fault outside the bodies is in the skeleton too, and reported as in the whole feed
    def bad(parts: tuple[bytes, ...]) -> tuple[bytes, ...]:
        return (*parts[:2], parts[2].replace(b"2021", b"20x1"))

    whole = [
        p
        for p in validate_feed(head + between.join(bad(items)) + tail, "f", self_url)
        if p.severity is Severity.ERROR
    ]
    assert whole
    found = validation.feed_errors(head, bad(items), tail, "f", self_url, (0,), between, bad(skeletons))  # fmt: skip
    assert found == whole


@pytest.mark.parametrize("fmt", ["rss", "atom"])
@pytest.mark.parametrize("character", ["\x0c", "\x00", "\ufffe", "\uffff"])
def test_a_body_with_a_character_xml_forbids_is_read_in_the_skeleton(
    fmt: str, character: str
) -> None:
    (head, items, tail, between, skeletons), self_url = _document(fmt, f"<p>a{character}b</p>")
    assert skeletons[0] == items[0]
    found = validation.feed_errors(head, items, tail, "f", self_url, (), between, skeletons)
    assert [p.rule for p in found] == ["not-well-formed"]
