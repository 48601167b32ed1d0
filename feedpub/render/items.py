"""Each item of a feed rendered once for all the feeds that show it.

A post is in the site's feed and in the feed of every category above it, and its item
is the same text in each (the same post, URL, `updated` instant and content), so the
feeds of one publish group render it once per format and join its bytes. Escaping a
post's HTML, twice for RSS, is most of the cost of rendering a feed.

An RSS or Atom item comes with its skeleton (`Item`): what the validator reads in its place,
without the post's HTML, most of its bytes and of the cost of checking it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from ..formats import Format
from ..models import Content, Entry

ItemKey = tuple[Format, str, str, dt.datetime]
_Rendered = TypeVar("_Rendered")


class Item(NamedTuple):
    """An RSS or Atom item's bytes, and its skeleton: the same bytes with each run of a
    post's escaped HTML that holds no character XML forbids replaced by a stand-in. Such
    a run is character data XML can hold, whatever it says, in elements the validator reads
    only as text: it finds an error in the skeleton whenever it finds one in the item
    (validation.feed_errors)."""

    data: bytes
    skeleton: bytes


def item_key(fmt: Format, entry: Entry) -> ItemKey:
    """What an item's bytes are known by, for one set of contents: its post, URL and instant."""
    return fmt, entry.post.source, entry.url, entry.updated


class Items:
    """The bytes of items that feeds still to be rendered will show again.

    For the feeds of one set of contents (one publish group) only: an item is known by
    its post, URL and instant, and its post's content is taken as given. `uses` are
    the items those feeds will show, in any order; an item is kept only until its
    last use, so what is kept is what is still to be shown again.
    """

    def __init__(self, uses: Iterable[tuple[Format, Entry]] = ()) -> None:
        self._left = Counter(item_key(fmt, entry) for fmt, entry in uses)
        self._kept: dict[ItemKey, Any] = {}

    def item(self, fmt: Format, entry: Entry, render: Callable[[Entry], _Rendered]) -> _Rendered:
        key = item_key(fmt, entry)
        data = self._kept.get(key)
        if data is None:
            data = render(entry)
        left = self._left[key] - 1
        if left > 0:
            self._kept[key] = data
            self._left[key] = left
        else:
            self._kept.pop(key, None)
            self._left.pop(key, None)
        return data

    def document(
        self,
        fmt: Format,
        entries: tuple[Entry, ...],
        head: str,
        tail: str,
        render: Callable[[Entry], Item],
    ) -> Document:
        """`head`, the entries' items one after the other, `tail`: an RSS or Atom document."""
        items = [self.item(fmt, entry, render) for entry in entries]
        return Document(
            head.encode("utf-8"),
            tuple(item.data for item in items),
            tail.encode("utf-8"),
            skeletons=tuple(item.skeleton for item in items),
        )


class Document(NamedTuple):
    """A feed as its parts: its bytes are `head`, the `items` with `separator` between them,
    `tail` (the validator checks an item once for all the feeds of a group that show it)."""

    head: bytes
    items: tuple[bytes, ...]
    tail: bytes
    separator: bytes = b""
    skeletons: tuple[bytes, ...] | None = None
    """The items' skeletons (`Item`), which the validator reads instead, when there are."""

    def bytes(self) -> bytes:
        return b"".join([self.head, self.separator.join(self.items), self.tail])


class Contents(dict[str, Content]):
    """Post source → Content, for the feeds of one publish group, with the `Items`
    rendered from them (which are good for these contents only): `render` renders each
    item once for all the feeds it is given these contents for."""

    def __init__(self, uses: Iterable[tuple[Format, Entry]] = ()) -> None:
        super().__init__()
        self.rendered = Items(uses)
