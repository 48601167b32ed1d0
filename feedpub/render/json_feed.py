"""Feed → JSON Feed 1.1 bytes (https://jsonfeed.org/version/1.1), with the stdlib's json.

The same facts as the Atom feed, in JSON Feed's names: an item's `id` is the Atom
entry's id (the permalink), dates are RFC 3339 in UTC, the thumbnail is `image` and
an attachment. Members are written in a fixed order with fixed separators, so a
rebuild is byte-identical; optional members are left out rather than written empty
or null, which the specification does not allow.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Mapping
from typing import Any

from ..config import Config
from ..formats import Format
from ..models import Content, Entry, Feed
from .items import Document, Items

VERSION = "https://jsonfeed.org/version/1.1"


def json_feed(
    feed: Feed, contents: Mapping[str, Content], config: Config, items: Items
) -> bytes | Document:
    """The feed as JSON Feed 1.1; `contents` maps each entry's post source → its Content."""
    document: dict[str, Any] = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": feed.alternate,
        "feed_url": feed.file_url(Format.JSON),
        "description": feed.description,
        "language": config.language,
        # Atom's feed author, which covers items that name none.
        "authors": [{"name": config.author or config.title}],
    }
    if config.icon:
        document["icon"] = config.icon
    if config.favicon:
        document["favicon"] = config.favicon
    if config.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in config.hubs]
    # What _json(document, "\n") writes, with each item's text from `items`.
    members = [f"{_string(k)}: {_json(v, _MEMBER)}" for k, v in document.items()]
    if not feed.entries:
        return f'{{{_MEMBER}{("," + _MEMBER).join(members)},{_MEMBER}"items": []\n}}\n'.encode()
    head = f'{{{_MEMBER}{("," + _MEMBER).join(members)},{_MEMBER}"items": [{_ITEM}'
    texts = tuple(
        items.item(
            Format.JSON,
            e,
            lambda e: _json(_item(e, contents[e.post.source], config), _ITEM).encode(),
        )
        for e in feed.entries
    )
    return Document(head.encode(), texts, f"{_MEMBER}]\n}}\n".encode(), _SEPARATOR)


_MEMBER = "\n  "
"""What comes before a member of the feed's object: a new line and its indentation."""
_ITEM = _MEMBER + "  "
_SEPARATOR = f",{_ITEM}".encode()


def _json(value: object, newline: str) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=2, separators=(",", ": "))`, of the
    values a feed holds. The standard library encodes indented JSON in Python, one
    generator per level, which costs more than rendering the RSS and Atom feeds; here
    only the layout is Python's, and strings are escaped by json's C encoder."""
    if isinstance(value, str):
        return _string(value)
    inner = newline + "  "
    if isinstance(value, dict):
        members = (f"{_string(k)}: {_json(v, inner)}" for k, v in value.items())
        return f"{{{inner}{(',' + inner).join(members)}{newline}}}" if value else "{}"
    if isinstance(value, list):
        items = (_json(v, inner) for v in value)
        return f"[{inner}{(',' + inner).join(items)}{newline}]" if value else "[]"
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    raise TypeError(f"a JSON Feed holds no {type(value).__name__}")


# What json.dumps escapes strings with when ensure_ascii is off (its C function).
_string: Callable[[str], str] = json.encoder.encode_basestring


def _item(entry: Entry, content: Content, config: Config) -> dict[str, Any]:
    post = entry.post
    item: dict[str, Any] = {"id": entry.url, "url": entry.url, "title": post.title}
    if config.content == "summary":
        # As RSS's description: the summary's HTML stands for the post.
        item["content_html"] = content.summary or content.html
    else:
        item["content_html"] = content.html
    if content.summary:
        summary = plain_text(content.summary)
        if summary:
            item["summary"] = summary
    if content.enclosure:
        enclosure = content.enclosure
        item["image"] = enclosure.url
        attachment: dict[str, Any] = {"url": enclosure.url, "mime_type": enclosure.type}
        if enclosure.length:  # 0 is "unknown": leave it out rather than claim an empty file
            attachment["size_in_bytes"] = enclosure.length
        item["attachments"] = [attachment]
    item["date_published"] = rfc3339(post.date)
    item["date_modified"] = rfc3339(entry.updated)
    if post.author:
        item["authors"] = [{"name": post.author}]
    tags = [name for path in post.categories for name in path] + list(post.tags)
    if tags:
        item["tags"] = list(dict.fromkeys(tags))
    return item


def rfc3339(when: dt.datetime) -> str:
    """UTC, with 'Z', and microseconds only when there are some (the builder's tie-breaks)."""
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def plain_text(fragment: str) -> str:
    """HTML → one line of plain text: JSON Feed's `summary` is text, not markup."""
    import nh3  # imported when first needed, as the body sanitiser does

    return " ".join(html.unescape(nh3.clean(fragment, tags=set())).split())
