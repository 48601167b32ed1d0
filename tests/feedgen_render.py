"""The oracle for feedpub's renderer: the same feeds written with feedgen 1.0.0 and lxml.

feedpub rendered with this module until it wrote its feeds as text itself
(feedpub/render/rss_atom.py); tests/test_rss_atom.py checks that both give the same
bytes. feedgen builds correct XML, but has traps; each workaround
below names the trap it avoids. Each format gets its own FeedGenerator, so
nothing set for one format can leak into the other (feedgen shares fields
between them: `description()` overwrites Atom content, for one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator

from feedpub import __version__
from feedpub.config import Config
from feedpub.formats import Format
from feedpub.models import Content, Entry, Feed

GENERATOR = "feedpub"
ATOM_NS = "http://www.w3.org/2005/Atom"


def _generator(feed: Feed, fmt: Format, config: Config) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.title(feed.title)
    fg.language(config.language)
    fg.generator(GENERATOR, version=__version__)
    # Trap: feed `updated`/`lastBuildDate` default to now(); the newest item's date
    # keeps a rebuild byte-identical.
    fg.updated(feed.updated.astimezone(dt.UTC))
    fg.link(href=feed.file_url(fmt), rel="self", type=fmt.media_type)
    # Trap: the RSS channel <link> is the LAST link added, so the page goes last.
    fg.link(href=feed.alternate, rel="alternate", type="text/html")
    return fg


def _add_entry(fg: FeedGenerator, entry: Entry, content: Content) -> FeedEntry:
    # Trap: entries are prepended unless order="append"; feeds are built newest first.
    fe = fg.add_entry(order="append")
    post = entry.post
    fe.title(post.title)
    fe.link(href=entry.url, rel="alternate", type="text/html")
    if content.enclosure:
        enclosure = content.enclosure
        # Trap: enclosure() without a length writes length="None": always pass one.
        fe.enclosure(enclosure.url, str(enclosure.length), enclosure.type)
        # Trap: the media extension wraps in <media:group> unless group=None.
        fe.media.thumbnail(url=enclosure.url, group=None)
        media = {"url": enclosure.url, "medium": "image", "type": enclosure.type, "group": None}
        if enclosure.length:
            media["fileSize"] = str(enclosure.length)
        fe.media.content(media)
    fe.published(post.date.astimezone(dt.UTC))
    names = [name for path in post.categories for name in path] + list(post.tags)
    for name in dict.fromkeys(names):
        fe.category(term=name)
    return fe


class _RssHubLinks(BaseExtension):  # type: ignore[misc]
    """Trap: feedgen's RSS channel writes only the rel="self" atom:link and silently drops
    every other, so `fg.link(rel="hub")` never reaches RSS. Put the WebSub hub links in
    after the self link, where readers and hubs look for them."""

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        self_link = channel.find(f"{{{ATOM_NS}}}link")
        at = list(channel).index(self_link) + 1
        for offset, hub in enumerate(self.hubs):
            link = channel.makeelement(f"{{{ATOM_NS}}}link", {"href": hub, "rel": "hub"})
            channel.insert(at + offset, link)
        return rss


def rss(feed: Feed, contents: Mapping[str, Content], config: Config) -> bytes:
    fg = _generator(feed, Format.RSS, config)
    fg.load_extension("dc", atom=False, rss=True)
    if config.hubs:
        fg.register_extension("hubs", _RssHubLinks, atom=False, rss=True)
        fg.hubs.hubs = config.hubs
    fg.description(feed.description)
    for entry in feed.entries:
        content = contents[entry.post.source]
        fe = _add_entry(fg, entry, content)
        fe.guid(entry.url, permalink=True)
        if entry.post.author:
            # RSS <author> is for e-mail addresses; a name goes in dc:creator.
            fe.dc.dc_creator(entry.post.author)
        if config.content == "summary":
            fe.description(content.summary)
        else:
            fe.description(content.summary or content.html)
            fe.content(content.html)
    return bytes(fg.rss_str(pretty=True))


class _AtomLinkRepair(BaseEntryExtension):  # type: ignore[misc]
    """Trap (feedgen issue 135): Atom entry links lose rel, type and length, so an
    enclosure becomes a second alternate link and readers open the image as the post.
    feedgen writes the links in the order they were added; put the attributes back."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: Any) -> Any:
        elements = entry.findall("{http://www.w3.org/2005/Atom}link") or entry.findall("link")
        for element, link in zip(elements, self.links, strict=True):
            for name in ("rel", "type", "length"):
                if link.get(name):
                    element.set(name, link[name])
        return entry


def atom(feed: Feed, contents: Mapping[str, Content], config: Config) -> bytes:
    fg = _generator(feed, Format.ATOM, config)
    fg.id(feed.file_url(Format.ATOM))
    for hub in config.hubs:
        fg.link(href=hub, rel="hub")  # Atom keeps every link; only RSS needs _RssHubLinks
    fg.subtitle(feed.description)
    # Atom needs an author for every entry; the feed's covers entries that name none.
    fg.author({"name": config.author or config.title})
    for entry in feed.entries:
        content = contents[entry.post.source]
        fe = _add_entry(fg, entry, content)
        fe.register_extension("links", _AtomLinkRepair, atom=True, rss=False)
        fe.links.links = [dict(link) for link in fe.link()]
        fe.id(entry.url)
        # Trap: an entry's `updated` defaults to now(); use the post's own dates.
        fe.updated(entry.updated.astimezone(dt.UTC))
        if entry.post.author:
            fe.author({"name": entry.post.author})
        if content.summary:
            fe.summary(content.summary, type="html")
        if config.content == "full":
            # Trap: content(type="CDATA") writes an invalid Atom type; "html" escapes instead.
            fe.content(content.html, type="html")
    return bytes(fg.atom_str(pretty=True))
