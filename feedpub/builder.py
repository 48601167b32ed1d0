"""Posts → Feeds: the site feed and one feed for every node of the category tree.

Pure: no files, no clock (the build's `now` is passed in), no XML. Given the
same posts, configuration and `now`, the feeds are always the same, in the
same order: that is what makes the output byte-identical between runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from .config import Config
from .formats import Format
from .models import Entry, Feed, Post, Problem, Severity
from .report import PostStatus
from .urls import category_slug, disambiguate, site_url

CATEGORY_ROOT = "categories"
"""Category feeds live under `<output>/categories/<slug>/<slug>/…`, as Hexo's category pages."""
SEPARATOR = " › "
EMPTY_SITE_UPDATED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""`updated` of a feed with no items: a fixed date, never the clock."""
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Collision:
    """Categories whose feeds would share one folder: none of them is written."""

    folder: str
    """The folder they would share, relative to the output folder."""
    categories: tuple[tuple[str, ...], ...]

    def problems(self, formats: Sequence[Format]) -> list[Problem]:
        """One error per feed file kept back, naming the rival categories."""
        names = " and ".join(repr(SEPARATOR.join(c)) for c in self.categories)
        return [
            Problem(
                f"{self.folder}/{fmt.file_name}",
                f"categories {names} would both be written to {self.folder}/; neither feed is "
                "written (give one a slug in category_map)",
                element="categories",
                rule="category-collision",
            )
            for fmt in formats
        ]


@dataclass(frozen=True, slots=True)
class Build:
    feeds: tuple[Feed, ...]
    collisions: tuple[Collision, ...]
    """Feeds kept back because two categories would share their folder."""
    drafts: tuple[Post, ...]
    scheduled: tuple[Post, ...]
    problems: tuple[Problem, ...]
    moved: dict[str, str]
    """Posts published at another URL than their permalink (it is another's): source → URL."""
    unsettled: frozenset[str]
    """The moved posts whose URL depends on more than the posts that share their permalink:
    a site's own rule, or a suffix tried after one that was taken (which URLs every post
    has)."""


def build_feeds(
    posts: Iterable[Post],
    config: Config,
    now: dt.datetime,
    totals: Mapping[tuple[str, ...], int] | None = None,
    ranks: InstantRanks | None = None,
) -> Build:
    """Group posts into feeds.

    Feeds of categories that would land in one folder are kept back and reported
    in `Build.collisions`; every other feed is built.

    Given `totals` (each feed's count of published posts over the whole site) and `ranks`
    (where each post stands among all the published posts that share its instant), `posts`
    may be only the posts the feeds are made of (each feed's newest, and every post that
    shares a URL with one of them, and with those): the feeds are then the same as from
    every post.
    """
    drafts: list[Post] = []
    scheduled: list[Post] = []
    live: list[Post] = []
    lists = {PostStatus.DRAFT: drafts, PostStatus.SCHEDULED: scheduled}
    for post in posts:
        lists.get(classify(post, config, now), live).append(post)
    live.sort(key=_newest_first)
    urls, moved, unsettled, problems = _unique_urls(live, config)
    updates = _distinct_updates(live, instant_ranks(live) if ranks is None else ranks)
    members: dict[tuple[str, ...], list[Post]] = defaultdict(list)
    counted: dict[tuple[str, ...], int] = defaultdict(int)
    # Most posts share their categories with others: work out the nodes once per set.
    known: dict[tuple[tuple[str, ...], ...], list[tuple[str, ...]]] = {}
    for post in live:
        nodes = known.get(post.categories)
        if nodes is None:
            nodes = known[post.categories] = nodes_of(post.categories, config)
        for node in nodes:
            counted[node] += 1
            if len(members[node]) < config.limit:
                members[node].append(post)
    if totals is None:
        totals = {(): len(live), **counted}
    site_posts = _site_order(live, updates, config)[: config.limit]
    feeds = [_feed((), site_posts, totals.get((), 0), urls, updates, config)]
    feeds += [
        _feed(node, members[node], totals[node], urls, updates, config) for node in sorted(members)
    ]
    if config.site is not None:
        site = config.site  # jekyll-feed's `categories`: only the listed have feeds
        feeds = [f for f in feeds if not f.category or site.keeps_category_feed(f.category)]
        feeds = _apart(feeds, config, problems)
    feeds, collisions = _without_collisions(feeds)
    return Build(
        tuple(feeds),
        tuple(collisions),
        tuple(drafts),
        tuple(scheduled),
        tuple(problems),
        moved,
        frozenset(unsettled),
    )


def classify(post: Post, config: Config, now: dt.datetime) -> PostStatus:
    """A draft, scheduled (dated after `now`, unless the site publishes future posts) or
    published: what a post is whatever the other posts are."""
    if post.draft:
        return PostStatus.DRAFT
    if post.date > now and not (config.site and config.site.publishes_future()):
        return PostStatus.SCHEDULED
    return PostStatus.PUBLISHED


def _newest_first(post: Post) -> tuple[float, str]:
    """Feed order: newest first, ties broken by path so the order never wobbles."""
    return (-post.date.timestamp(), post.source)


def _site_order(
    live: list[Post], updates: dict[str, dt.datetime], config: Config
) -> Sequence[Post]:
    """The site feed's posts in the order the site's feed plugin sorts them (newest first
    but in site mode, where the plugin may sort by `updated` or `title`, or oldest first)."""
    if config.site is None:
        return live
    field_name, descending = config.site.feed_order()
    if (field_name, descending) == ("date", True):
        return live
    sign = -1 if descending else 1
    if field_name == "title":
        ordered = sorted(live, key=lambda p: p.source)
        return sorted(ordered, key=lambda p: p.title, reverse=descending)
    when = {p.source: updates[p.source] if field_name == "updated" else p.date for p in live}
    return sorted(live, key=lambda p: (sign * when[p.source].timestamp(), p.source))


def nodes_of(categories: tuple[tuple[str, ...], ...], config: Config) -> list[tuple[str, ...]]:
    """Every category node a post belongs to: each path and, in a tree, its ancestors."""
    nodes: list[tuple[str, ...]] = []
    for path in categories:
        prefixes = (
            [path] if config.categories == "flat" else [path[:i] for i in range(1, len(path) + 1)]
        )
        nodes.extend(p for p in prefixes if p not in nodes)
    return nodes


def _unique_urls(
    posts: Sequence[Post], config: Config
) -> tuple[dict[str, str], dict[str, str], set[str], list[Problem]]:
    """One URL per post (`settle_shared_url` for each URL several posts have, in feed
    order). Also the moved posts whose URL depends on which URLs the other posts have."""
    first: dict[str, Post] = {}
    claimed: dict[str, list[Post]] = {}  # only the URLs more than one post has
    for post in posts:
        owner = first.setdefault(post.url, post)
        if owner is not post:
            claimed.setdefault(post.url, [owner]).append(post)
    urls = {post.source: post.url for post in posts}
    moved: dict[str, str] = {}
    unsettled: set[str] = set()
    problems: list[Problem] = []
    # Every URL some post has now (a suffixed URL must not be another post's): it only
    # grows, as a shared URL stays with its first post, so it is kept up to date here.
    taken = set(first)
    for url, owners in claimed.items():
        shared = settle_shared_url(url, [(p.date, p.source) for p in owners], taken, config)
        urls.update(shared.urls)
        moved.update((source, u) for source, u in shared.urls.items() if u != url)
        unsettled.update(shared.unsettled)
        problems += shared.problems
    return urls, moved, unsettled, problems


class Taken(Protocol):
    """Every URL the published posts have, and those given to posts moved so far."""

    def __contains__(self, url: object, /) -> bool: ...

    def add(self, url: str, /) -> None: ...


class SharedUrl(NamedTuple):
    """How the published posts that claim one URL are told apart."""

    url: str
    urls: dict[str, str]
    """Each post's URL (source → URL): the one that keeps the shared URL has it."""
    unsettled: list[str]
    """The moved posts whose URL depends on more than the posts that share it
    (`Build.unsettled`)."""
    problems: list[Problem]


def settle_shared_url(
    url: str, claimants: Sequence[tuple[dt.datetime, str]], taken: Taken, config: Config
) -> SharedUrl:
    """The URLs of the published posts (date, source each, newest first) whose permalink
    is `url`: the oldest keeps it, the others get a suffix made from their path, which no
    later post can change (in site mode, the URLs the generator itself gives them, where
    it has a rule). The URLs given are added to `taken`, which the builder holds and a
    first build asks the state (`reading.read_changes`), one shared URL after another in
    feed order."""
    sources = [source for _, source in claimants]
    own = config.site.shared_urls(url, sources, taken) if config.site else None
    if own:
        for given in own.values():
            taken.add(given)
        return SharedUrl(url, own, [source for source, u in own.items() if u != url], [])
    (_, owner), *others = sorted(claimants)
    urls, unsettled, problems = {owner: url}, [], []
    for _, source in others:
        unique, attempt = disambiguate(url, source), 0
        while unique in taken:
            attempt += 1
            unique = disambiguate(url, f"{source}\0{attempt}")
        if attempt:
            unsettled.append(source)
        taken.add(unique)
        urls[source] = unique
        problems.append(
            Problem(
                source,
                f"permalink {url} is also {owner}'s; published at {unique}",
                Severity.WARNING,
                element="permalink",
                rule="duplicate-permalink",
            )
        )
    return SharedUrl(url, urls, unsettled, problems)


InstantRanks = Mapping[str, tuple[int, int]]
"""Where a published post that shares its `updated` instant with others stands among them
(by path) and how many they are: source → (place, count); the posts that share theirs
with no other may be left out."""


def instant_ranks(posts: Iterable[Post]) -> dict[str, tuple[int, int]]:
    """The `InstantRanks` of these posts among themselves (every published post)."""
    # Grouped by timestamp: hashing aware datetimes is slow, and this runs over every post.
    groups: dict[float, list[str]] = defaultdict(list)
    for post in posts:
        groups[post.instant].append(post.source)
    ranks: dict[str, tuple[int, int]] = {}
    for group in groups.values():
        if len(group) > 1:
            group.sort()
            ranks.update((source, (k, len(group))) for k, source in enumerate(group))
    return ranks


def _distinct_updates(posts: Sequence[Post], ranks: InstantRanks) -> dict[str, dt.datetime]:
    """Each post's `updated` (or date), with posts that share one instant spread apart by
    microseconds, earliest path latest (so the feed order stays the same).

    Atom readers tell changed entries by `updated`, and the W3C validator warns
    when two entries share one; scraped posts often do (one batch, one second,
    or the same fallback time). The second every reader shows does not change,
    and the result is the same in every feed the post is in.
    """
    updates: dict[str, dt.datetime] = {}
    for post in posts:
        when = post.updated or post.date
        place, count = ranks.get(post.source, (0, 1))
        if count > 1:
            top = count - 1
            # Spread below the instant where above it there is no room (the year 9999's end).
            room = _LATEST - when >= dt.timedelta(microseconds=top)
            when += dt.timedelta(microseconds=top - place if room else -place)
        updates[post.source] = when
    return updates


def _feed(
    node: tuple[str, ...],
    posts: Sequence[Post],
    total: int,
    urls: dict[str, str],
    updates: dict[str, dt.datetime],
    config: Config,
) -> Feed:
    entries = tuple(Entry(post, urls[post.source], updates[post.source]) for post in posts)
    updated = max((e.updated for e in entries), default=EMPTY_SITE_UPDATED)
    if not node:
        return Feed(
            (),
            config.title,
            config.description,
            (),
            config.base_url,
            config.base_url,
            updated,
            entries,
            total,
            _site_feed_names(config),
        )
    directory = (config.site and config.site.category_directory(node)) or (
        CATEGORY_ROOT,
        *(category_slug(name, config.category_map) for name in node),
    )
    url = site_url(config.base_url, "/".join(directory) + "/")
    path = SEPARATOR.join(node)
    return Feed(
        node,
        f"{config.title}{SEPARATOR}{path}",
        f"{path}: {config.description}",
        directory,
        url,
        url,
        updated,
        entries,
        total,
        _names(config.site.category_feed_files(node) if config.site else {}, config),
    )


def _names(files: dict[Format, str], config: Config) -> tuple[tuple[Format, str, str], ...]:
    """`Feed.names` for the formats written: each file with its public URL."""
    return tuple(
        (fmt, file, site_url(config.base_url, file))
        for fmt, file in files.items()
        if fmt in config.formats
    )


def _site_feed_names(config: Config) -> tuple[tuple[Format, str, str], ...]:
    """Site mode: the site feed's files where the generator's feed plugin writes them."""
    if config.site is None:
        return ()
    from .sites.base import checked_feed_files  # sites are imported only in site mode

    return _names(checked_feed_files(config.site, config.formats), config)


def _apart(feeds: Sequence[Feed], config: Config, problems: list[Problem]) -> list[Feed]:
    """Site mode: categories the generator keeps apart (Jekyll's `Release` and `release`)
    each keep a feed; the later ones get a folder with a suffix made from their name,
    with a warning on their newest post, instead of being kept back."""
    seen: set[str] = set()
    result: list[Feed] = []
    for feed in feeds:
        folder = "/".join(feed.directory).casefold()
        if folder in seen and feed.category and feed.entries:
            directory = (
                *feed.directory[:-1],
                disambiguate(feed.directory[-1] + "/", SEPARATOR.join(feed.category))[:-1],
            )
            url = site_url(config.base_url, "/".join(directory) + "/")
            feed = dataclasses.replace(feed, directory=directory, url=url, alternate=url)
            problems.append(
                Problem(
                    feed.entries[0].post.source,
                    f"category {SEPARATOR.join(feed.category)!r} shares its folder with another "
                    f"(ignoring case); its feed is in {'/'.join(directory)}/",
                    Severity.WARNING,
                    element="categories",
                    rule="category-folder-shared",
                )
            )
        seen.add("/".join(feed.directory).casefold())
        result.append(feed)
    return result


def _without_collisions(feeds: Sequence[Feed]) -> tuple[list[Feed], list[Collision]]:
    """Categories whose slugs match (also ignoring case, as macOS and Windows do) would
    overwrite each other's feeds. Neither is written; the rest of the site is published
    as usual, so one odd category cannot stop it."""
    by_folder: dict[str, list[Feed]] = defaultdict(list)
    for feed in feeds:
        by_folder["/".join(feed.directory).casefold()].append(feed)
    kept: list[Feed] = []
    collisions: list[Collision] = []
    for feed in feeds:
        rivals = by_folder["/".join(feed.directory).casefold()]
        if len(rivals) == 1:
            kept.append(feed)
        elif feed is rivals[0]:
            folder = "/".join(feed.directory)
            collisions.append(Collision(folder, tuple(f.category for f in rivals)))
    return kept, collisions
