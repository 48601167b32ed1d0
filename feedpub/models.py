"""The data that flows through feedpub: files → Posts → Feeds → bytes.

Everything here is a frozen value: no I/O, no XML. A bad post never becomes a
`Post`; it becomes a `Problem`, which is data too (like feedparser's `bozo`); that one is
in problems.py (and here too), apart, so that a build where nothing changed, which needs
it, defines none of the others.
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from .formats import Format
from .problems import Problem as Problem
from .problems import Severity as Severity


class BodyFormat(enum.StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"


@dataclass(frozen=True, slots=True)
class Post:
    """One publishable post's metadata; the body stays on disk until a feed needs it.

    Keeping bodies out of `Post` is what lets a build over tens of thousands of
    posts hold only what the feeds need in memory (see `bodies.load_content`).
    """

    source: str
    """Path relative to the posts folder, with '/' separators: the post's identity."""
    title: str
    date: datetime
    """When the post was published; always timezone-aware."""
    updated: datetime | None
    categories: tuple[tuple[str, ...], ...]
    """Category paths, each from the top of the tree down (Hexo's meaning)."""
    tags: tuple[str, ...]
    author: str | None
    thumbnail: str | None
    """Absolute http(s) URL of the post's image, if it has one."""
    summary: str | None
    """The front matter's `description`/`excerpt`; `<!-- more -->` is found with the body."""
    draft: bool
    url: str
    """The post's permalink: its own `permalink`, or the configured pattern's (with its
    `slug` for `:title`). Unique among the site's posts only after the builder's check."""
    body_format: BodyFormat
    digest: str
    """Hash of the file's bytes: changes whenever the post does."""

    @property
    def instant(self) -> float:
        """Its `updated` (its date if it has none) as a timestamp: what the builder tells
        posts apart by (`builder.InstantRanks`), and the state indexes them by."""
        return (self.updated or self.date).timestamp()

    def __reduce__(self) -> tuple[Callable[..., Post], tuple[Any, ...]]:
        # Posts come back from the worker processes by the thousand: as a tuple of their
        # fields they pickle and unpickle in two thirds of the time dataclasses' state takes.
        return new_post, _POST_FIELDS(self)


_POST_FIELDS = operator.attrgetter(*(f.name for f in fields(Post)))
_new = object.__new__
# Each field's slot, set directly: what the frozen __init__ does through object.__setattr__,
# which looks the name up again (half of the instructions of making a Post).
(_source, _title, _date, _updated, _categories, _tags, _author, _thumbnail, _summary,
 _draft, _url, _body_format, _digest) = (
    Post.__dict__[f.name].__set__ for f in fields(Post)
)  # fmt: skip


def new_post(
    source: str,
    title: str,
    date: datetime,
    updated: datetime | None,
    categories: tuple[tuple[str, ...], ...],
    tags: tuple[str, ...],
    author: str | None,
    thumbnail: str | None,
    summary: str | None,
    draft: bool,
    url: str,
    body_format: BodyFormat,
    digest: str,
) -> Post:
    """`Post(...)`, the same value, made in half the instructions (the reader, the state
    and unpickling make one per post). tests/test_models.py holds it to `Post`'s fields."""
    post = _new(Post)
    _source(post, source)
    _title(post, title)
    _date(post, date)
    _updated(post, updated)
    _categories(post, categories)
    _tags(post, tags)
    _author(post, author)
    _thumbnail(post, thumbnail)
    _summary(post, summary)
    _draft(post, draft)
    _url(post, url)
    _body_format(post, body_format)
    _digest(post, digest)
    return post


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str
    length: int
    """Bytes, or 0 when unknown (RSS Best Practices Profile)."""


@dataclass(frozen=True, slots=True)
class Content:
    """A post's body made fit for a feed: sanitised HTML with absolute URLs."""

    html: str
    summary: str | None
    enclosure: Enclosure | None


@dataclass(frozen=True, slots=True)
class Entry:
    """A post as one feed shows it: the post plus its public, unique URL."""

    post: Post
    url: str
    updated: dt.datetime
    """The post's `updated` (or date), unique within the site: see builder._distinct_updates."""


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed to publish: the whole site (`category == ()`) or one category node."""

    category: tuple[str, ...]
    title: str
    description: str
    directory: tuple[str, ...]
    """Where the feed's files go, as path segments (slugs) below the output folder."""
    url: str
    """Public URL of the feed's folder; each format's file is in it (`Format.file_name`)."""
    alternate: str
    """The HTML page the feed stands for (site home or Hexo-style category page)."""
    updated: datetime
    entries: tuple[Entry, ...] = field(default=())
    total: int = 0
    """How many posts are at or below this node; the feed shows the newest `limit` of them."""
    names: tuple[tuple[Format, str, str], ...] = ()
    """Formats whose file is not `Format.file_name` in `directory`: (format, file relative to
    the output folder, its public URL). In site mode, where the generator's feed plugin
    writes the site feed (and jekyll-feed its category feeds)."""

    def file(self, fmt: Format) -> str:
        """The feed's file for one format, relative to the output folder."""
        for named, file, _ in self.names:
            if named is fmt:
                return file
        return "/".join((*self.directory, fmt.file_name))

    def file_url(self, fmt: Format) -> str:
        for named, _, url in self.names:
            if named is fmt:
                return url
        return self.url + fmt.file_name
