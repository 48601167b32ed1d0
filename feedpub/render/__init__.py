"""Feed → bytes, one renderer per format; the writer calls `render_document` and nothing
else here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..config import Config
from ..formats import Format
from ..models import Content, Feed
from . import json_feed, rss_atom
from .items import Contents, Document, ItemKey, Items, item_key

__all__ = ["Document", "ItemKey", "item_key", "render", "render_document"]

Renderer = Callable[[Feed, Mapping[str, Content], Config, Items], bytes | Document]

_RENDERERS: dict[Format, Renderer] = {
    Format.RSS: rss_atom.rss,
    Format.ATOM: rss_atom.atom,
    Format.JSON: json_feed.json_feed,
}


def render_document(
    feed: Feed, fmt: Format, contents: Mapping[str, Content], config: Config
) -> bytes | Document:
    """The feed in `fmt`: for RSS and Atom the `Document` of its parts, for others its bytes.
    `contents` maps each entry's post source → its Content (when they are `Contents`,
    items already rendered from them are not rendered again)."""
    items = contents.rendered if isinstance(contents, Contents) else Items()
    return _RENDERERS[fmt](feed, contents, config, items)


def render(feed: Feed, fmt: Format, contents: Mapping[str, Content], config: Config) -> bytes:
    """The feed's bytes in `fmt` (see `render_document`)."""
    rendered = render_document(feed, fmt, contents, config)
    return rendered.bytes() if isinstance(rendered, Document) else rendered
