"""Slugs, permalinks and absolute URLs: the names feedpub gives things on disk and on the web.

Slugs keep Unicode (a Chinese category stays readable in its folder name and is
percent-encoded only in URLs), but can never name a path outside the output
folder or break a URL: separators, dots-only names and characters unsafe on
common filesystems are replaced.
"""

from __future__ import annotations

import datetime as dt
import functools
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

from .formats import Format
from .output import STATE_DIR

if TYPE_CHECKING:
    from .config import Config

# Characters that are unsafe in a path segment on Linux, macOS or Windows, that change a
# URL's meaning (?, #, %) or that URLs may or may not escape (the sub-delims & ; = + … and
# @ ! ~), plus whitespace and control characters. What is left is unreserved or Unicode.
_UNSAFE = re.compile(
    r"""[\x00-\x20\x7f/\\?#%*:|"<>\[\]{}^`&'()+,;=!$@~"""
    r"\u0085\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]+"
)
_DASHES = re.compile(r"-{2,}")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
MAX_SLUG_BYTES = 120
# Names feedpub itself writes inside a category's folder.
RESERVED_SLUGS = frozenset({fmt.file_name for fmt in Format} | {STATE_DIR})
# Percent-encode everything but unreserved characters and the sub-delims a path may hold.
_PATH_SAFE = "/-._~!$&'()*+,;=:@"
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/\-._~!$&'()*+,;=:@]*")
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# An http(s) URL with a host and only characters an RSS URL may hold as they are.
_PLAIN_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::\d{1,4})?(?:[/?#][A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*)?"
)
# What a published URL's authority may be: a host name or an IP address, and a port.
# Not userinfo (RFC 9110 forbids it in http(s) URLs, and it disguises the host), not an
# IPv6 zone (it names a network interface of one machine) and not an IPvFuture address.
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def slugify(name: str) -> str:
    """A path segment for `name`: Unicode kept, unsafe characters replaced by '-'.

    A name that leaves nothing usable ('..', '???') gets a slug made from its
    hash, so it still has a folder of its own and never escapes its parent.
    """
    slug = _UNSAFE.sub("-", unicodedata.normalize("NFC", name))
    slug = _DASHES.sub("-", slug).strip("-. ")
    if _WINDOWS_RESERVED.match(slug) or slug.lower() in RESERVED_SLUGS:
        slug += "-"
    if len(slug.encode()) > MAX_SLUG_BYTES:
        cut = slug.encode()[: MAX_SLUG_BYTES - 9].decode("utf-8", "ignore").rstrip("-. ")
        slug = f"{cut}-{_short_hash(name)}"
    return slug or f"c-{_short_hash(name)}"


def category_slug(name: str, category_map: Mapping[str, str]) -> str:
    """The folder of a category name: its slug from `category_map`, else its own."""
    return slugify(category_map.get(name) or name)


def _short_hash(text: str) -> str:
    # SHA-1, as ever: its digits are in URLs that must not change. (Imported here: OpenSSL
    # costs a build 2 ms and 3.4 MB, and few need a suffix.)
    import hashlib

    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def quote_path(path: str) -> str:
    """Percent-encode a URL path, keeping '/' and characters a path may hold as they are."""
    if _PLAIN_PATH.fullmatch(path):  # the usual case: nothing to encode
        return path
    return quote(path, safe=_PATH_SAFE)


def expand_permalink(pattern: str, date: dt.datetime, stem: str, path: str) -> str:
    """A site-relative URL path from Hexo's permalink tokens.

    `date` is already in the site's time zone; `stem` is the file name without its
    extension (Hexo's :title), `path` the same with its folders (:path).
    """
    return _template(pattern).format(
        date.year, date.month, date.day, date.hour, date.minute, date.second, stem, path
    )


_TOKEN = re.compile("(:year|:month|:day|:hour|:minute|:second|:title|:path)")
_FIELDS = {
    ":year": "{0:04d}",
    ":month": "{1:02d}",
    ":day": "{2:02d}",
    ":hour": "{3:02d}",
    ":minute": "{4:02d}",
    ":second": "{5:02d}",
    ":title": "{6}",
    ":path": "{7}",
}


@functools.lru_cache(maxsize=8)
def _template(pattern: str) -> str:
    """The pattern as a `str.format` template, made once per pattern (this runs per post)."""
    return "".join(
        _FIELDS.get(part) or part.replace("{", "{{").replace("}", "}}")
        for part in _TOKEN.split(pattern)
    )


def pattern_url(config: Config, source: str, date: dt.datetime, slug: str | None) -> str:
    """A post's URL from the configured permalink pattern, with the date in the site's zone."""
    path, stem = source_names(source)
    if date.tzinfo is dt.UTC and config.timezone == "UTC":
        local = date  # the usual date, in the usual zone: its fields are the same
    else:
        try:
            local = date.astimezone(config.zone())
        except OverflowError:  # the last day of the year 9999, in a zone east of UTC
            local = date
    return site_url(config.base_url, expand_permalink(config.permalink, local, slug or stem, path))


def source_names(source: str) -> tuple[str, str]:
    """A post's path without its extension (Hexo's :path), and its file name without it
    (:title): `posixpath.splitext`'s, found in fewer calls (this runs per post)."""
    slash = source.rfind("/")
    dot = source.rfind(".")
    # The extension is the last dot's, unless only dots come before it in the file name.
    path = source[:dot] if dot > slash + 1 and source[slash + 1] != "." else None
    if path is None:
        path = posixpath.splitext(source)[0]
    return path, path[slash + 1 :]


def site_url(base_url: str, path: str) -> str:
    """An absolute URL for a site-relative path (quoted here, so pass it unquoted)."""
    return base_url + quote_path(path.lstrip("/"))


def absolute_url(reference: str, base: str) -> str | None:
    """`reference` resolved against `base`; None when it is not an http(s) URL after all.

    `javascript:`, `data:` and other schemes are dropped rather than published:
    a feed reader would show or follow them.
    """
    reference = reference.strip()
    if _PLAIN_HTTP_URL.fullmatch(reference):
        return reference  # the common case, already absolute and needing no escapes
    if not reference:
        return None
    try:
        if not _ABSOLUTE.match(reference):
            reference = urljoin(base, reference)
        parts = urlsplit(reference)
    except ValueError:  # e.g. "http://[::1": an IPv6 host never closed
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port  # raises for a port that is no number, or past 65535
    except ValueError:
        return None
    netloc = parts.netloc
    if not netloc.isascii():  # an internationalised host name: IDNA, not percent-encoding
        try:
            netloc = parts.hostname.encode("idna").decode("ascii") + (f":{port}" if port else "")
        except UnicodeError:  # not a host name IDNA can write
            return None
    if not _AUTHORITY.fullmatch(netloc) or port == 0:
        return None
    # Spaces, brackets and non-ASCII characters are legal in an IRI but not in an RSS URL.
    rest = quote(parts._replace(scheme="", netloc="").geturl(), safe=_URL_SAFE)
    return f"{reference[: len(parts.scheme)]}://{netloc}{rest}"


_URL_SAFE = "/:?#@!$&'()*+,;=%~-._"


def disambiguate(url: str, source: str) -> str:
    """Make a colliding permalink unique, stably: the suffix depends only on the post's path."""
    suffix = "-" + _short_hash(source)[:6]
    head, slash, _ = url.rpartition("/") if url.endswith("/") else (url, "", "")
    if slash:
        return head + suffix + "/"
    stem, dot, ext = url.rpartition(".")
    if dot and "/" not in ext:
        return stem + suffix + "." + ext
    return url + suffix
