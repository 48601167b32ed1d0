"""The site's feeds → `feeds.opml`, an OPML 2.0 subscription list (http://opml.org/spec2.opml).

One `<outline type="rss">` per feed, in folders nested as the category tree; a reader that
imports it subscribes to every feed at once and files the category feeds in those folders.
The site's feed comes first, the top-level categories beside it. Bytes depend only on the feeds
and the configuration, so a rebuild with the same posts writes the same file.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from ..config import Config
from ..formats import Format
from ..models import Feed
from .feed_tree import FeedNode, feed_tree
from .rss_atom import rfc822

SPEC = "http://opml.org/spec2.opml"


def opml_format(config: Config) -> Format:
    """The format `xmlUrl` points to: `opml_format`, else the first format written."""
    return config.opml_format if config.opml_format in config.formats else config.formats[0]


def render_opml(feeds: Sequence[Feed], config: Config) -> bytes:
    root = feed_tree(feeds)
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = f"{config.title}: all feeds"
    updated = root.feed.updated
    # What email.utils.format_datetime(usegmt=True) writes, without importing email: that
    # costs more than rendering the OPML.
    etree.SubElement(head, "dateModified").text = rfc822(updated, zone="GMT")
    if config.author:
        etree.SubElement(head, "ownerName").text = config.author
    etree.SubElement(head, "docs").text = SPEC
    body = etree.SubElement(opml, "body")
    fmt = opml_format(config)
    _outline(body, FeedNode(root.feed, ()), fmt)
    for child in root.children:
        _outline(body, child, fmt)
    return bytes(etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True))


def _outline(parent: etree._Element, node: FeedNode, fmt: Format) -> None:
    """A feed with no sub-categories is one outline; one with some is a folder holding its own
    feed and theirs. Readers take an outline with an `xmlUrl` for a feed and never look inside
    it, and one without for a folder: so the tree survives an import."""
    if node.children:
        parent = etree.SubElement(parent, "outline", {"text": node.name, "title": node.name})
    feed = node.feed
    etree.SubElement(
        parent,
        "outline",
        # type="rss" is what OPML 2.0 says a subscription is, whatever the feed's format.
        {
            "text": node.name,
            "title": feed.title,
            "type": "rss",
            "xmlUrl": feed.file_url(fmt),
            "htmlUrl": feed.alternate,
            "description": feed.description,
        },
    )
    for child in node.children:
        _outline(parent, child, fmt)
