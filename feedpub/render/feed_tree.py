"""The site's feeds as a tree (the site's feed at the root, the category tree below it),
and the files that list them for subscribers: `feeds.opml` and `feeds/index.html`.

Both are written from the built feeds alone, so they are right in site mode too and
change only when a feed is added, removed, renamed or gains posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Feed


@dataclass(frozen=True, slots=True)
class FeedNode:
    feed: Feed
    children: tuple[FeedNode, ...]

    @property
    def name(self) -> str:
        """The node's own name: its category's last level (the site's title at the root)."""
        return self.feed.category[-1] if self.feed.category else self.feed.title


def feed_tree(feeds: Sequence[Feed]) -> FeedNode:
    """The feeds nested by category path, each level in the builder's (sorted) order.

    A category whose parent's feed is missing (kept back by a collision) hangs from
    its nearest ancestor that has one, so no feed is left out.
    """
    site = next(f for f in feeds if not f.category)
    children: dict[tuple[str, ...], list[Feed]] = {(): []}
    for feed in sorted((f for f in feeds if f.category), key=lambda f: f.category):
        children[feed.category] = []
        parent = feed.category[:-1]
        while parent not in children:
            parent = parent[:-1]
        children[parent].append(feed)

    def node(feed: Feed) -> FeedNode:
        return FeedNode(feed, tuple(node(child) for child in children[feed.category]))

    return node(site)


def walk(root: FeedNode) -> list[FeedNode]:
    """Every node, parents before their children."""
    nodes = [root]
    for child in root.children:
        nodes += walk(child)
    return nodes
