"""Files → Posts. Every file is either a `Post` or a `Problem` saying why not.

`read_post` turns a file into a `Post`: its front matter, checked and
normalised. Bodies stay on disk; the body stage (bodies.py) reads the body of a
post that a feed actually shows, so a build over tens of thousands of posts
keeps only metadata in memory. The reader knows nothing of XML; it only makes
sure no text it hands on contains characters XML cannot carry (text.py).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import xxhash

from .bodies import FEED_BODY_BYTES
from .config import Config
from .dates import DateError, parse_date
from .errors import PostError, describe_bug
from .front_matter import FrontMatterError, NoFrontMatter, Split, split
from .models import BodyFormat, Post, Problem, Severity, new_post
from .scanning import SourceFile
from .sources import decode, read_bytes
from .text import (
    MAX_NAME_CHARACTERS,
    WHITESPACE,
    XML_ILLEGAL,
    Warn,
    clean,
    forbidden_references,
    is_utf8,
    may_hold_illegal,
    without_nul,
)
from .urls import MAX_SLUG_BYTES, absolute_url, category_slug, pattern_url, source_names

if TYPE_CHECKING:
    from .sites.base import PostFacts

THUMBNAIL_KEYS = ("thumbnail", "headimg", "cover", "image")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->")
# A body is HTML when its first line opens an HTML block element (what scrapers
# and Hexo's HTML posts begin with); Markdown posts begin with text or syntax.
_HTML_START = re.compile(
    r"\s*<(?:!--|!doctype|div|p|section|article|main|header|figure|table|ul|ol|dl|"
    r"blockquote|pre|h[1-6]|img|iframe|video|audio|picture|span|a|br|hr|strong|b|em|i|center|font)\b",
    re.IGNORECASE,
)
_FAR_FUTURE = dt.timedelta(days=3653)
_FAR_FUTURE_SECONDS = _FAR_FUTURE.days * 86400
MAX_NAMES = 64
MAX_CATEGORY_DEPTH = 16
MAX_CATEGORY_PATH_BYTES = 1024
"""A category path's levels and the bytes of its folders' names (their slugs): well below
the 4,096 bytes Linux allows a path, wherever the output folder is."""
"""Category paths (or tags) a post may have; more are dropped with a warning."""
T = TypeVar("T")


def read_post(file: SourceFile, config: Config) -> tuple[Post | None, list[Problem]]:
    """Read one file's front matter into a `Post`, with every warning about it.

    Never raises for a bad post: the reason comes back as an error `Problem`.
    """
    warnings: list[Problem] = []

    def warn(message: str, element: str | None = None, line: int | None = None) -> None:
        warnings.append(Problem(file.rel, message, Severity.WARNING, line=line, element=element))

    try:
        if file.size > config.max_post_bytes:
            raise PostError(
                f"{file.size:,} bytes is more than max_post_bytes ({config.max_post_bytes:,}); not read"
            )
        data = read_bytes(config, file.rel, file.size)
        # A NUL character is a NUL byte in UTF-8 and in the UTF-16 a BOM may switch to.
        text, nul = without_nul(
            decode(data, config.encoding), data if is_utf8(config.encoding) else None
        )
        if nul:
            warn(f"removed {nul} NUL character(s): a text post cannot hold them")
        if not text or text.isspace():
            raise PostError("empty file")
        try:
            parts = split(text)
        except NoFrontMatter as e:
            return None, [Problem(file.rel, str(e), Severity.WARNING, line=e.line)]
        except FrontMatterError as e:
            raise PostError(str(e), e.line) from None
        if parts.lenient and config.site is not None:
            # The generator cannot read it either, so the post has no page to link to.
            raise PostError(
                f"{parts.lenient}; {config.site.kind} cannot read it either, so it has no "
                "page: not published",
                parts.lenient.line,
            )
        if parts.lenient:
            warn(
                f"{parts.lenient}; read as plain 'key: value' lines instead",
                line=parts.lenient.line,
            )
        post = _make_post(file, data, text, parts, config, warn)
    except PostError as e:
        return None, [Problem(file.rel, str(e), line=e.line, element=e.element), *warnings]
    except Exception as e:  # a bug of ours must cost one post, not the whole site's feeds
        return None, [Problem(file.rel, f"cannot be read: {describe_bug(e)}"), *warnings]
    return post, warnings


def _make_post(
    file: SourceFile, data: bytes, text: str, parts: Split, config: Config, warn: Warn
) -> Post:
    # The body is looked at in the text, from where it starts: not copied out of it.
    meta, body_start = parts.metadata, parts.body_start
    site = config.site
    facts = None
    if site is not None:
        facts = site.post_facts(file.rel, meta, _saved(file))
        meta = facts.front_matter
    may_hold = may_hold_illegal(data, text, config.encoding)
    illegal = len(XML_ILLEGAL.findall(text, body_start)) if may_hold else 0
    if illegal:
        warn(f"body: removed {illegal} character(s) that XML 1.0 does not allow", "body")
    _warn_references(text, "body", warn, body_start)
    if len(data) > FEED_BODY_BYTES:
        warn(
            f"body: {len(data):,} bytes is more than feeds carry; they show its beginning and a link",
            "body",
        )
    date = _site_date(facts, warn) if facts else _date(meta, file, config, warn)
    # In the order the fields are checked, so warnings come in the order of the old reader.
    title = _title(meta.get("title"), file.rel, warn)
    if site is not None:
        title = site.item_title(title)
    updated = facts.updated if facts else _updated(meta, config, warn)
    categories = _categories(meta, config, warn)
    tags = _tags(meta.get("tags"), warn)
    # Every item names an author: readers that copy the feed's onto items and readers that
    # do not then show the same thing.
    author = _text(meta.get("author"), "author", warn) or config.author or config.title
    thumbnail = _thumbnail(meta, config, warn)
    summary = _warn_references(
        _text(meta.get("description") or meta.get("excerpt"), "description", warn),
        "description",
        warn,
    )
    if site is None or facts is None:  # facts are read whenever there is a site
        draft = ("draft" in meta or "published" in meta) and (
            _flag(meta.get("draft")) is True or _flag(meta.get("published")) is False
        )
        url = _url(meta, file.rel, date, config, warn)
    else:
        draft = site.unpublished(file.rel, meta)
        url = site.post_url(file.rel, facts, categories, lambda message: warn(message, "permalink"))
        body = parts.body
        if "{%" in body or "{{" in body:  # name every template tag feedpub cannot render
            first = data.decode("utf-8", "replace").count("\n") - body.count("\n")
            site.render_body(
                body,
                file.rel,
                url,
                title,
                lambda message, line: warn(message, "body", first + line),
            )
    return new_post(
        source=file.rel,
        title=title,
        date=date,
        updated=updated,
        categories=categories,
        tags=tags,
        author=author,
        thumbnail=thumbnail,
        summary=summary,
        draft=draft,
        url=url,
        body_format=BodyFormat.HTML if _HTML_START.match(text, body_start) else BodyFormat.MARKDOWN,
        # A version stamp, not a signature: XXH3's 128 bits, twenty times faster than
        # SHA-256 over a post (0.2 µs against 4.5 for 7.7 KB: 4 s of a million posts' build).
        digest=xxhash.xxh3_128_hexdigest(data),
    )


def _warn_references(html: str | None, field: str, warn: Warn, start: int = 0) -> str | None:
    """Warn of character references to characters XML forbids (in `html` from `start`
    on): the body stage removes the characters they become."""
    found = forbidden_references(html, start) if html else []
    if found:
        warn(
            f"{field}: removed {len(found)} character reference(s) to characters XML 1.0 "
            f"does not allow ({found[0]})",
            field,
        )
    return html


def _url(meta: dict[str, Any], source: str, date: dt.datetime, config: Config, warn: Warn) -> str:
    own = _text(meta.get("permalink"), "permalink", warn)
    if own:
        url = absolute_url(own, config.base_url)
        if url:
            return url
        warn(
            f"permalink {own[:60]!r} is not an http(s) URL or a path; using the pattern",
            "permalink",
        )
    return pattern_url(config, source, date, _text(meta.get("slug"), "slug", warn))


def _title(value: object, source: str, warn: Warn) -> str:
    if isinstance(value, str):
        title = clean(value, "title", warn)
        if "<" in title and _TAG.search(title):  # (each tag starts with it)
            # Titles are text, but readers differ on markup in them (some show it, some
            # strip it, some run it): like jekyll-feed, take the tags out.
            title = WHITESPACE.sub(" ", _TAG.sub(" ", title)).strip()
            warn("title: removed HTML tags (titles are plain text in feeds)", "title")
        if title:
            return title
    stem = source_names(source)[1]  # the file name, found only for a post without a title
    if isinstance(value, str):
        warn(f"title is empty; using the file name {stem!r}", "title")
    elif value is None:
        warn(f"no title; using the file name {stem!r}", "title")
    elif isinstance(value, int | float | dt.date) and not isinstance(value, bool):
        warn(f"title is a {type(value).__name__}, not text; quote it in the front matter", "title")
        return str(value)
    else:
        hint = (
            " (YAML reads yes/no/on/off as true/false; quote it)" if isinstance(value, bool) else ""
        )
        warn(
            f"title is a {type(value).__name__}, not text{hint}; using the file name {stem!r}",
            "title",
        )
    return clean(stem, "title", warn) or stem


def _saved(file: SourceFile) -> dt.datetime:
    return dt.datetime.fromtimestamp(file.mtime_ns // 1_000_000_000, dt.UTC)


def _site_date(facts: PostFacts, warn: Warn) -> dt.datetime:
    """The date the site's generator gives the post, with a warning when it fell back."""
    from .sites.base import DateSource  # sites/ is loaded only in site mode

    date, source, meta = facts.date, facts.date_source, facts.front_matter
    if source in (DateSource.MODIFIED, DateSource.CREATED):
        kind = "creation" if source is DateSource.CREATED else "modification"
        why = (
            "no date"
            if meta.get("date") in (None, "")
            else f"date {str(meta['date'])[:40]!r} is unreadable"
        )
        warn(f"{why}; using the file's {kind} time ({date:%Y-%m-%d %H:%M:%S %Z})", "date")
    elif source is DateSource.FILE_NAME and meta.get("date") not in (None, ""):
        warn(
            f"date {str(meta['date'])[:40]!r} is unreadable; using the date in the file name",
            "date",
        )
    return date


def _date(meta: dict[str, Any], file: SourceFile, config: Config, warn: Warn) -> dt.datetime:
    value = meta.get("date")
    if value is None:
        saved = _saved(file)
        warn(f"no date; using the file's modification time ({saved:%Y-%m-%d %H:%M:%S} UTC)", "date")
        return saved
    try:
        date = parse_date(value, config.zone())
    except DateError as e:
        saved = _saved(file)
        warn(f"{e}; using the file's modification time ({saved:%Y-%m-%d %H:%M:%S} UTC)", "date")
        return saved
    # Compared as datetimes only when the float timestamps come near: they are exact to a
    # few microseconds, and the saved time is made for every post otherwise.
    if (
        date.timestamp() > file.mtime_ns // 1_000_000_000 + _FAR_FUTURE_SECONDS - 1
        and date - _saved(file) > _FAR_FUTURE
    ):
        warn(
            f"dated {date:%Y-%m-%d}, more than ten years after the file was saved: a typo?", "date"
        )
    return date


def _updated(meta: dict[str, Any], config: Config, warn: Warn) -> dt.datetime | None:
    value = meta.get("updated")
    if value is None or value == "":
        return None
    try:
        return parse_date(value, config.zone())
    except DateError as e:
        warn(f"updated: {e}; ignored", "updated")
        return None


def _categories(meta: dict[str, Any], config: Config, warn: Warn) -> tuple[tuple[str, ...], ...]:
    value = meta["categories"] if "categories" in meta else meta.get("category")
    if value is None:
        return ()
    return _remembered(_categories_memo(config), value, _read_categories, config, warn)


def _tags(value: object, warn: Warn) -> tuple[str, ...]:
    if value is None:
        return ()
    return _remembered(_TAGS_MEMO, value, _read_tags, None, warn)


def _read_tags(value: object, _: None, warn: Warn) -> tuple[str, ...]:
    return _capped(_names(value, "tags", warn), "tags", warn)


def _categories_memo(config: Config) -> _Memo:
    """The memo of categories read with `config`'s rules (its kind of categories and its
    category map), found once per configuration, not once per post."""
    last = _LAST_CATEGORIES_MEMO
    if last and last[0][0] is config:
        return last[0][1]
    rules = (config.categories, tuple(config.category_map.items()))
    memo = _CATEGORIES_MEMOS.get(rules)
    if memo is None:
        if len(_CATEGORIES_MEMOS) >= _MEMOS:
            _CATEGORIES_MEMOS.clear()
        memo = _CATEGORIES_MEMOS[rules] = {}
    last[:] = [(config, memo)]  # (the config is held, so no other can take its id)
    return memo


def _remembered(
    memo: _Memo, value: object, read: Callable[[object, Any, Warn], T], context: Any, warn: Warn
) -> T:
    """`read(value, context, warn)`, computed once per value: thousands of posts share a
    few hundred lists of categories, and reading one (cleaning, normalising, checking its
    names) is most of what reading a post's front matter costs. Its warnings are told
    again every time. Only a little text, or a short list of it, is kept, so that the
    memo stays small whatever the posts hold."""
    if type(value) is str and len(value) <= _MEMO_KEY_CHARACTERS:
        key: object = value
        texts = None
    elif type(value) is list and len(value) <= MAX_CATEGORY_DEPTH:
        key = texts = tuple(value)
    else:
        return read(value, context, warn)
    try:
        known = memo.get(key)
    except TypeError:  # a list holding a list or a mapping: no key
        return read(value, context, warn)
    if known is None:
        # What is kept is text or a list of it, so only text or such a list can equal
        # a key kept (no other value YAML reads equals text).
        if texts is not None and not (
            all(type(item) is str for item in texts)
            and sum(map(len, texts)) <= _MEMO_KEY_CHARACTERS
        ):
            return read(value, context, warn)
        told: list[tuple[str, str | None, int | None]] = []
        result = read(
            value,
            context,
            lambda message, element=None, line=None: told.append((message, element, line)),
        )
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[key] = known = (result, tuple(told))
    if known[1]:
        for message, element, line in known[1]:
            warn(message, element, line)
    return known[0]


_Memo = dict[object, tuple[Any, tuple[tuple[str, str | None, int | None], ...]]]
_TAGS_MEMO: _Memo = {}
_CATEGORIES_MEMOS: dict[tuple[object, ...], _Memo] = {}
_LAST_CATEGORIES_MEMO: list[tuple[Config, _Memo]] = []
_MEMO_SIZE = 4096
_MEMOS = 16
"""Configurations whose memos of categories are kept (a build has one)."""
_MEMO_KEY_CHARACTERS = 1024
"""Keys are kept small, so that the memo stays small whatever the posts hold."""


def _read_categories(value: object, config: Config, warn: Warn) -> tuple[tuple[str, ...], ...]:
    if isinstance(value, dict):
        warn("categories must be a list or a string, not a mapping; ignored", "categories")
        return ()
    raw = value if isinstance(value, list) else [value]
    if config.categories == "flat":
        names = _names(raw, "categories", warn, nested_ok=True)
        return _capped(tuple((name,) for name in names), "categories", warn)
    # Hexo: a list of names is one path; as soon as one item is a list, every item is a path.
    paths = (
        [raw]
        if not any(isinstance(item, list) for item in raw)
        else [item if isinstance(item, list) else [item] for item in raw]
    )
    result: list[tuple[str, ...]] = []
    for path in paths:
        names = _within_path_limits(_names(path, "categories", warn), config, warn)
        if names and names not in result:
            result.append(names)
    return _capped(tuple(result), "categories", warn)


def _within_path_limits(path: tuple[str, ...], config: Config, warn: Warn) -> tuple[str, ...]:
    """The path's first levels, as many as make a folder every file system accepts: each
    level is a folder of the output, so depth and length are capped, with a warning."""
    if len(path) * (MAX_SLUG_BYTES + 1) <= MAX_CATEGORY_PATH_BYTES and all(
        len(name) * 4 <= MAX_SLUG_BYTES or len(name.encode()) <= MAX_SLUG_BYTES for name in path
    ):
        return path  # the usual case, a few short names: no slug can be too long
    size = 0
    kept = path
    for depth, name in enumerate(path):
        size += len(category_slug(name, config.category_map).encode()) + 1
        if depth == MAX_CATEGORY_DEPTH or size > MAX_CATEGORY_PATH_BYTES:
            why = (
                f"more than {MAX_CATEGORY_DEPTH} levels"
                if depth == MAX_CATEGORY_DEPTH
                else f"more than {MAX_CATEGORY_PATH_BYTES:,} bytes of folder names"
            )
            warn(
                f"categories: a path of {len(path)} levels is {why}; only the first {depth} are used",
                "categories",
            )
            kept = path[:depth]
            break
    long = [n for n in kept if len(n.encode()) > MAX_SLUG_BYTES and n not in config.category_map]
    if long:
        warn(
            f"categories: {len(long)} name(s) longer than a folder name may be "
            f"({long[0][:20]!r}…); their folders' names are cut",
            "categories",
        )
    return kept


def _capped(values: tuple[T, ...], field: str, warn: Warn) -> tuple[T, ...]:
    """At most MAX_NAMES values: a post claiming thousands of categories would make as many feeds."""
    if len(values) > MAX_NAMES:
        warn(f"{field}: only the first {MAX_NAMES} of {len(values)} are used", field)
    return values[:MAX_NAMES]


def _names(value: object, field: str, warn: Warn, nested_ok: bool = False) -> tuple[str, ...]:
    """Category or tag names from a scalar or list; unusable items are dropped with a warning."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, list) and nested_ok:
            names.extend(n for n in _names(item, field, warn) if n not in names)
            continue
        if isinstance(item, bool) or item is None or isinstance(item, list | dict):
            kind = "an empty value" if item is None else f"a {type(item).__name__}"
            warn(f"{field}: {item!r} is {kind}, not a name; dropped", field)
            continue
        # NFC, so that é typed two ways is one category; interned, since tens of
        # thousands of posts share a few hundred names.
        text = clean(str(item), field, warn, MAX_NAME_CHARACTERS)
        name = sys.intern(unicodedata.normalize("NFC", text))
        if not name:
            warn(f"{field}: empty name dropped", field)
        elif name not in names:
            names.append(name)
    return tuple(names)


def _text(value: object, field: str, warn: Warn) -> str | None:
    if type(value) is str:  # nearly always: no other check applies
        return (clean(value, field, warn) or None) if value else None
    if value is None or value == "":
        return None
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        value = value["name"]  # author: {name: ..., email: ...}
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        warn(f"{field} must be text, not a {type(value).__name__}; ignored", field)
        return None
    return clean(str(value), field, warn) or None


def _flag(value: object) -> bool | None:
    """YAML booleans, and the strings a line-by-line read leaves them as."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "false", "no"):
        return value.lower() in ("true", "yes")
    return None


def _thumbnail(meta: dict[str, Any], config: Config, warn: Warn) -> str | None:
    for key in THUMBNAIL_KEYS:
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        url = absolute_url(clean(value, key, warn), config.base_url)
        if url:
            return url
        warn(f"{key}: {value[:60]!r} is not an http(s) URL or a path; dropped", key)
    return None
