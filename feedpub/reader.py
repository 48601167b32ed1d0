"""Files → Posts. Every file is either a `Post` or a `Problem` saying why not.

Reading is in two steps, so that a build over tens of thousands of posts keeps
only metadata in memory: `read_post` turns a file into a `Post` (front matter,
checked and normalised), and `load_content` reads the body of a post that a
feed actually shows. The reader knows nothing of XML; it only makes sure no
text it hands on contains characters XML cannot carry.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import hashlib
import html
import os
import posixpath
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from . import content
from .config import Config
from .dates import DateError, parse_date
from .front_matter import FrontMatterError, NoFrontMatter, body_of, split
from .models import Content, Enclosure, Post, Problem, Severity
from .sources import SourceFile, local_file
from .urls import absolute_url, pattern_url

THUMBNAIL_KEYS = ("thumbnail", "headimg", "cover", "image")
IMAGE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".bmp": "image/bmp",
    ".ico": "image/x-icon", ".tif": "image/tiff", ".tiff": "image/tiff", ".heic": "image/heic",
}  # fmt: skip
"""Our own table, not `mimetypes`: that one reads the machine's mime.types, and
feeds must not change from one machine to the next."""

# Characters XML 1.0 cannot carry at all (TAB, LF and CR are allowed).
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Bidirectional embeddings, overrides and isolates: they can make a title read as something else.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->")
# Bytes other than the C0 controls XML forbids: deleting them leaves only those controls.
_XML_SAFE_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (0x09, 0x0A, 0x0D))
_BINARY_PROBE = 8192
_FAR_FUTURE = dt.timedelta(days=3653)
MAX_NAMES = 64
"""Category paths (or tags) a post may have; more are dropped with a warning."""
FEED_BODY_BYTES = 1024 * 1024
"""A body bigger than this goes into feeds as its summary: feed readers choke on items of
many megabytes, and a few such posts would push a feed past what validators accept."""
_EXCERPT_CHARACTERS = 64 * 1024
T = TypeVar("T")


class Warn(Protocol):
    """Records a warning about the post being read (and which field it is about)."""

    def __call__(
        self, message: str, element: str | None = None, line: int | None = None
    ) -> None: ...


class PostError(Exception):
    """One post cannot be published; the build goes on without it."""

    def __init__(self, message: str, line: int | None = None, element: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.element = element


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
        data = _read_bytes(os.path.join(config.posts, file.rel))
        text = decode(data, config.encoding)
        if not text.strip():
            raise PostError("empty file")
        try:
            parts = split(text)
        except NoFrontMatter as e:
            return None, [Problem(file.rel, str(e), Severity.WARNING, line=e.line)]
        except FrontMatterError as e:
            raise PostError(str(e), e.line) from None
        if parts.lenient:
            warn(
                f"{parts.lenient}; read as plain 'key: value' lines instead",
                line=parts.lenient.line,
            )
        post = _make_post(file, data, parts.metadata, parts.body, config, warn)
    except PostError as e:
        return None, [Problem(file.rel, str(e), line=e.line, element=e.element), *warnings]
    except Exception as e:  # a bug of ours must cost one post, not the whole site's feeds
        return None, [Problem(file.rel, f"cannot be read: {_unexpected(e)}"), *warnings]
    return post, warnings


def _unexpected(error: Exception) -> str:
    return f"{type(error).__name__}: {error} (a bug in feedpub: please report it with this file)"


def _read_bytes(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise PostError("the file disappeared while it was being read") from None
    except IsADirectoryError:
        raise PostError("is a folder, not a post") from None
    except OSError as e:
        raise PostError(f"cannot read: {e.strerror}") from None


def decode(data: bytes, encoding: str) -> str:
    """Bytes → text with LF newlines; a BOM wins over the configured encoding."""
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            encoding = name
            if name == "utf-8":
                data = data[len(bom) :]
            break
    else:
        if b"\x00" in data[:_BINARY_PROBE]:
            raise PostError("binary file (it contains NUL bytes), not a text post")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise PostError(
            f"not valid {encoding}: byte 0x{data[e.start]:02x} at offset {e.start}{_encoding_hint(data, encoding)}",
            line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _encoding_hint(data: bytes, encoding: str) -> str:
    if codecs.lookup(encoding).name == "gb18030":
        return ""
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    return '; it reads as GB18030 (GBK): set encoding = "gb18030" in feedpub.toml'


def _make_post(
    file: SourceFile, data: bytes, meta: dict[str, Any], body: str, config: Config, warn: Warn
) -> Post:
    stem = posixpath.splitext(posixpath.basename(file.rel))[0]
    illegal = len(_XML_ILLEGAL.findall(body)) if _may_hold_illegal(data, config.encoding) else 0
    if illegal:
        warn(f"body: removed {illegal} character(s) that XML 1.0 does not allow", "body")
    if len(data) > FEED_BODY_BYTES:
        warn(
            f"body: {len(data):,} bytes is more than feeds carry; they show its beginning and a link",
            "body",
        )
    date = _date(meta, file, config, warn)
    return Post(
        source=file.rel,
        title=_title(meta.get("title"), stem, warn),
        date=date,
        updated=_updated(meta, config, warn),
        categories=_categories(meta, config, warn),
        tags=_capped(_names(meta.get("tags"), "tags", warn), "tags", warn),
        # Every item names an author: readers that copy the feed's onto items and readers that
        # do not then show the same thing.
        author=_text(meta.get("author"), "author", warn) or config.author or config.title,
        thumbnail=_thumbnail(meta, config, warn),
        summary=_text(meta.get("description") or meta.get("excerpt"), "description", warn),
        draft=_flag(meta.get("draft")) is True or _flag(meta.get("published")) is False,
        url=_url(meta, file.rel, date, config, warn),
        body_format=content.detect_format(body),
        digest=hashlib.blake2b(data, digest_size=16).hexdigest(),
    )


def _may_hold_illegal(data: bytes, encoding: str) -> bool:
    """A fast, byte-level look for what _XML_ILLEGAL finds, so clean bodies (nearly all)
    are not scanned character by character. Exact for UTF-8; other encodings get the scan."""
    if not _is_utf8(encoding) or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if data.translate(None, _XML_SAFE_BYTES):
        return True
    # U+FFFE and U+FFFF: one search for their common prefix, which Chinese text almost never has
    return b"\xef\xbf" in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data)


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


@functools.lru_cache(maxsize=4)
def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _clean(value: str, field: str, warn: Warn) -> str:
    """Text safe for XML, on one line: what every feed field needs."""
    if _XML_ILLEGAL.search(value):
        value = _XML_ILLEGAL.sub("", value)
        warn(f"{field}: removed characters that XML 1.0 does not allow", field)
    if _BIDI_CONTROLS.search(value):
        value = _BIDI_CONTROLS.sub("", value)
        warn(f"{field}: removed bidirectional override characters (they can disguise text)", field)
    return _WHITESPACE.sub(" ", value).strip()


def _title(value: object, stem: str, warn: Warn) -> str:
    if isinstance(value, str):
        title = _clean(value, "title", warn)
        if _TAG.search(title):
            # Titles are text, but readers differ on markup in them (some show it, some
            # strip it, some run it): like jekyll-feed, take the tags out.
            title = _WHITESPACE.sub(" ", _TAG.sub(" ", title)).strip()
            warn("title: removed HTML tags (titles are plain text in feeds)", "title")
        if title:
            return title
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
    return _clean(stem, "title", warn) or stem


def _date(meta: dict[str, Any], file: SourceFile, config: Config, warn: Warn) -> dt.datetime:
    saved = dt.datetime.fromtimestamp(file.mtime_ns // 1_000_000_000, dt.UTC)
    value = meta.get("date")
    if value is None:
        warn(f"no date; using the file's modification time ({saved:%Y-%m-%d %H:%M:%S} UTC)", "date")
        return saved
    try:
        date = parse_date(value, config.zone())
    except DateError as e:
        warn(f"{e}; using the file's modification time ({saved:%Y-%m-%d %H:%M:%S} UTC)", "date")
        return saved
    if date - saved > _FAR_FUTURE:
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
    value = meta.get("categories", meta.get("category"))
    if value is None:
        return ()
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
        names = _names(path, "categories", warn)
        if names and names not in result:
            result.append(names)
    return _capped(tuple(result), "categories", warn)


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
        name = sys.intern(unicodedata.normalize("NFC", _clean(str(item), field, warn)))
        if not name:
            warn(f"{field}: empty name dropped", field)
        elif name not in names:
            names.append(name)
    return tuple(names)


def _text(value: object, field: str, warn: Warn) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        value = value["name"]  # author: {name: ..., email: ...}
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        warn(f"{field} must be text, not a {type(value).__name__}; ignored", field)
        return None
    return _clean(str(value), field, warn) or None


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
        url = absolute_url(_clean(value, key, warn), config.base_url)
        if url:
            return url
        warn(f"{key}: {value[:60]!r} is not an http(s) URL or a path; dropped", key)
    return None


def load_content(post: Post, url: str, config: Config) -> Content:
    """Read the body of a post a feed shows and make it fit for feeds.

    Raises PostError if the file changed into something unreadable since
    `read_post` saw it (the caller leaves the post out of this build).
    """
    try:
        return _load_content(post, url, config)
    except PostError:
        raise
    except Exception as e:  # as in read_post: one post, not the build
        raise PostError(_unexpected(e)) from e


def _load_content(post: Post, url: str, config: Config) -> Content:
    text = decode(_read_bytes(os.path.join(config.posts, post.source)), config.encoding)
    try:
        body = _XML_ILLEGAL.sub("", body_of(text))
    except FrontMatterError as e:
        raise PostError(str(e), e.line) from None
    # A quick bound in characters first: a character is at most four bytes of UTF-8.
    cut = len(body) > FEED_BODY_BYTES // 4 and len(body.encode()) > FEED_BODY_BYTES
    if cut:
        body = body[:_EXCERPT_CHARACTERS]  # the sanitiser closes what the cut leaves open
    full = content.to_html(body, post.body_format)
    if cut:
        full += f'\n<p><a href="{html.escape(url)}">…</a></p>'
    more, full = content.split_summary(full)
    summary_source = post.summary or more
    summary = content.sanitize(summary_source, url) if summary_source else None
    page = content.with_image(content.sanitize(full, url), post.thumbnail, post.title)
    if config.content == "summary" and not summary:
        summary = content.plain_summary(page)
    return Content(html=page, summary=summary, enclosure=_enclosure(post.thumbnail, config))


def _enclosure(url: str | None, config: Config) -> Enclosure | None:
    if not url:
        return None
    extension = posixpath.splitext(unquote(urlsplit(url).path))[1].lower()
    local = local_file(url, config)
    return Enclosure(
        url, IMAGE_TYPES.get(extension, config.image_type), local.stat().st_size if local else 0
    )
