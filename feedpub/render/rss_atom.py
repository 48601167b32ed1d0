"""Feed → RSS 2.0 or Atom 1.0 bytes, written as text in one pass.

These are the bytes feedpub's feedgen renderer wrote (feedgen 1.0.0 serialised by lxml
with pretty printing): the same elements in the same order, the same escaping, the same
indentation, so feeds do not change for readers or for the W3C validator. feedgen built a
whole lxml tree per feed and serialised it, a third of a cold build's publishing; here a
feed is a list of strings joined once. `tests/test_rss_atom.py` renders random feeds both
ways and compares the bytes, so the two cannot drift apart.

Everything that goes into the XML is text the reader already made fit for XML 1.0
(no forbidden characters); escaping is what lxml does: `& < >` (and CR) in text, also
`"`, TAB and LF in attributes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .. import __version__
from ..config import Config
from ..formats import Format
from ..models import Content, Entry, Feed
from ..text import fit_for_xml
from .items import Document, Item, Items

GENERATOR = "feedpub"
_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
_RSS_OPEN = (
    '<rss xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' version="2.0">\n'
)
_ATOM_OPEN = '<feed xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom"'
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rss(feed: Feed, contents: Mapping[str, Content], config: Config, items: Items) -> Document:
    full = config.content != "summary"
    return items.document(
        Format.RSS, feed.entries, _rss_head(feed, config), "  </channel>\n</rss>\n",
        lambda entry: _rss_item(entry, contents[entry.post.source], full),
    )  # fmt: skip


def atom(feed: Feed, contents: Mapping[str, Content], config: Config, items: Items) -> Document:
    full = config.content == "full"
    return items.document(
        Format.ATOM, feed.entries, _atom_head(feed, config), "</feed>\n",
        lambda entry: _atom_item(entry, contents[entry.post.source], full),
    )  # fmt: skip


def _text(value: str) -> str:
    """Text content escaped as lxml escapes it."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def _escaped(value: str) -> tuple[bytes, bytes]:
    """`_text(value)` in UTF-8, escaped as bytes: for a post's HTML, twice as fast as
    escaping the text and encoding it (and the item's text around it is not encoded
    with it); and what stands for it in the item's skeleton (`Item`): a letter, if the
    text holds no character XML forbids (so escaped, it is character data XML can hold),
    else the same bytes, for the validator to find them."""
    data = value.encode("utf-8")
    stand_in = _STAND_IN if fit_for_xml(data, value) else None
    if b"&" in data:
        data = data.replace(b"&", b"&amp;")
    if b"<" in data:
        data = data.replace(b"<", b"&lt;")
    if b">" in data:
        data = data.replace(b">", b"&gt;")
    if b"\r" in data:
        data = data.replace(b"\r", b"&#13;")
    return data, stand_in or data


_STAND_IN = b"x"


class _ItemBytes:
    """An item's bytes as they are made, and its skeleton's: its text, encoded a run of
    strings at a time, and its escaped bodies (`_escaped`)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.skeleton: list[bytes] = []

    def text(self, strings: list[str]) -> None:
        data = "".join(strings).encode("utf-8")
        self.parts.append(data)
        self.skeleton.append(data)

    def body(self, escaped: tuple[bytes, bytes]) -> None:
        self.parts.append(escaped[0])
        self.skeleton.append(escaped[1])

    def item(self) -> Item:
        return Item(b"".join(self.parts), b"".join(self.skeleton))


def _attr(value: str) -> str:
    """An attribute value escaped as lxml escapes it (inside double quotes)."""
    value = _text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#9;")
    return value


def _element(indent: str, name: str, text: str | None) -> str:
    """`<name>text</name>` on a line of its own; `<name/>` when there is no text at all."""
    if text is None:
        return f"{indent}<{name}/>\n"
    return f"{indent}<{name}>{_text(text)}</{name}>\n"


def rfc822(when: dt.datetime, zone: str = "+0000") -> str:
    """What feedgen's formatRFC2822 writes: strftime's `%a, %d %b %Y %H:%M:%S %z` in the C locale
    (with `zone="GMT"`, what email.utils.format_datetime writes with `usegmt`)."""
    when = when.astimezone(dt.UTC)
    return (
        f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}"
    )


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


def _categories(entry: Entry) -> list[str]:
    names = [name for path in entry.post.categories for name in path] + list(entry.post.tags)
    return list(dict.fromkeys(names))


def _media(content: Content, indent: str) -> list[str]:
    """media:content and media:thumbnail, after everything else in an item or entry."""
    enclosure = content.enclosure
    if enclosure is None:
        return []
    url = _attr(enclosure.url)
    size = f' fileSize="{enclosure.length}"' if enclosure.length else ""
    media_type = f' type="{_attr(enclosure.type)}"' if enclosure.type else ""
    return [
        f'{indent}<media:content url="{url}"{size}{media_type} medium="image"/>\n',
        f'{indent}<media:thumbnail url="{url}"/>\n',
    ]


def _rss_head(feed: Feed, config: Config) -> str:
    out = [
        _DECLARATION,
        _RSS_OPEN,
        "  <channel>\n",
        _element("    ", "title", feed.title),
        _element("    ", "link", feed.alternate),
        _element("    ", "description", feed.description),
        f'    <atom:link href="{_attr(feed.file_url(Format.RSS))}" rel="self" type="{Format.RSS.media_type}"/>\n',
        # WebSub: the hub links right after the self link, where hubs and readers look
        *(f'    <atom:link href="{_attr(hub)}" rel="hub"/>\n' for hub in config.hubs),
        "    <docs>http://www.rssboard.org/rss-specification</docs>\n",
        f"    <generator>{GENERATOR}</generator>\n",
    ]
    if config.language:
        out.append(_element("    ", "language", config.language))
    out.append(f"    <lastBuildDate>{rfc822(feed.updated)}</lastBuildDate>\n")
    return "".join(out)


def _rss_item(entry: Entry, content: Content, full: bool) -> Item:
    post = entry.post
    out = ["    <item>\n", _element("      ", "title", post.title)]
    out.append(_element("      ", "link", entry.url))
    item = _ItemBytes()  # the long HTML escaped as bytes
    # feedgen: a description and content make both elements; content alone (an empty
    # description) goes into <description>; a description alone is only that.
    description = (content.summary or content.html) if full else content.summary
    if description and full:
        body = _escaped(content.html)  # escaped once when it is both (no summary): most posts
        out.append("      <description>")
        item.text(out)
        item.body(body if description is content.html else _escaped(description))
        out = ["</description>\n      <content:encoded>"]
        item.text(out)
        item.body(body)
        out = ["</content:encoded>\n"]
    elif description:
        out.append(_element("      ", "description", description))
    elif full:
        out.append(_element("      ", "description", content.html))
    out.append(f'      <guid isPermaLink="true">{_text(entry.url)}</guid>\n')
    out += [_element("      ", "category", name) for name in _categories(entry)]
    if content.enclosure:
        enclosure = content.enclosure
        out.append(
            f'      <enclosure url="{_attr(enclosure.url)}" length="{enclosure.length}" '
            f'type="{_attr(enclosure.type)}"/>\n'
        )
    out.append(f"      <pubDate>{rfc822(post.date)}</pubDate>\n")
    out += _media(content, "      ")
    if post.author:
        out.append(_element("      ", "dc:creator", post.author))
    out.append("    </item>\n")
    item.text(out)
    return item.item()


def _atom_head(feed: Feed, config: Config) -> str:
    lang = f' xml:lang="{_attr(config.language)}"' if config.language else ""
    out = [
        _DECLARATION,
        f"{_ATOM_OPEN}{lang}>\n",
        _element("  ", "id", feed.file_url(Format.ATOM)),
        _element("  ", "title", feed.title),
        f"  <updated>{_iso(feed.updated)}</updated>\n",
    ]
    feed_author = config.author or config.title
    if feed_author:
        out.append(f"  <author>\n{_element('    ', 'name', feed_author)}  </author>\n")
    out.append(
        f'  <link href="{_attr(feed.file_url(Format.ATOM))}" rel="self" type="{Format.ATOM.media_type}"/>\n'
    )
    out.append(f'  <link href="{_attr(feed.alternate)}" rel="alternate" type="text/html"/>\n')
    out += [f'  <link href="{_attr(hub)}" rel="hub"/>\n' for hub in config.hubs]
    out.append(f'  <generator version="{__version__}">{GENERATOR}</generator>\n')
    if config.icon and config.site is not None:  # the site's feed plugin writes <icon>
        out.append(_element("  ", "icon", config.icon))  # where feedgen put it
    if feed.description:
        out.append(_element("  ", "subtitle", feed.description))
    return "".join(out)


def _atom_item(entry: Entry, content: Content, full: bool) -> Item:
    post = entry.post
    out = [
        "  <entry>\n",
        _element("    ", "id", entry.url),
        _element("    ", "title", post.title),
        f"    <updated>{_iso(entry.updated)}</updated>\n",
    ]
    if post.author:
        out.append(f"    <author>\n{_element('      ', 'name', post.author)}    </author>\n")
    item = _ItemBytes()  # as in _rss_item
    if full and content.html:
        out.append('    <content type="html">')
        item.text(out)
        item.body(_escaped(content.html))
        out = ["</content>\n"]
    elif full:
        out.append('    <content type="html"/>\n')
    out.append(f'    <link href="{_attr(entry.url)}" rel="alternate" type="text/html"/>\n')
    if content.enclosure:
        enclosure = content.enclosure
        length = f' length="{enclosure.length}"' if str(enclosure.length) else ""
        out.append(
            f'    <link href="{_attr(enclosure.url)}" rel="enclosure" '
            f'type="{_attr(enclosure.type)}"{length}/>\n'
        )
    if content.summary:
        out.append(f'    <summary type="html">{_text(content.summary)}</summary>\n')
    out += [f'    <category term="{_attr(name)}"/>\n' for name in _categories(entry)]
    out.append(f"    <published>{_iso(post.date)}</published>\n")
    out += _media(content, "    ")
    out.append("  </entry>\n")
    item.text(out)
    return item.item()
