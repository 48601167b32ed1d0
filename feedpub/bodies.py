"""Post → Content: a post's body made fit for a feed, read when a feed shows it.

The body is read again from its file (the reader kept only metadata), rendered,
sanitised, split at `<!-- more -->`, and given its enclosure.

Markdown is rendered as markdown-it-py renders it, a CommonMark-compliant renderer
(markdown.py: mostly by its port to Rust, fifteen times faster). HTML
bodies (what scrapers write) are not run through Markdown: it would turn their
indentation into code blocks and their underscores into emphasis.

Sanitising uses nh3 (Rust's ammonia, an html5ever parser): it removes
`<script>`, `<style>`, event handlers and `javascript:` URLs, repairs broken
markup the way browsers do, and resolves relative `href`/`src` against the
post's URL in one pass. It is an order of magnitude faster than lxml's cleaner,
which matters when thousands of bodies go into feeds, and lxml's cleaner now
lives in a separate, less maintained project (lxml_html_clean).
"""

from __future__ import annotations

import functools
import html
import posixpath
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .config import Config
from .errors import PostError, describe_bug
from .front_matter import FrontMatterError, body_of
from .markdown import prepare as prepare_markdown
from .markdown import render as render_markdown
from .models import BodyFormat, Content, Enclosure, Post
from .sources import decode, local_file, read_bytes
from .text import XML_ILLEGAL, is_utf8, may_hold_illegal, without_nul
from .urls import absolute_url

if TYPE_CHECKING:
    import nh3

FEED_BODY_BYTES = 1024 * 1024
"""A body bigger than this goes into feeds as its beginning: feed readers choke on items of
many megabytes, and a few such posts would push a feed past what validators accept."""
_EXCERPT_CHARACTERS = 64 * 1024
IMAGE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".bmp": "image/bmp",
    ".ico": "image/x-icon", ".tif": "image/tiff", ".tiff": "image/tiff", ".heic": "image/heic",
}  # fmt: skip
"""Our own table, not `mimetypes`: that one reads the machine's mime.types, and
feeds must not change from one machine to the next."""
_MORE = re.compile(r"<!--\s*more\s*-->", re.IGNORECASE)
_SUMMARY_CHARS = 280

_EXTRA_TAGS = {"video", "audio", "source", "picture", "track"}
_EXTRA_ATTRIBUTES = {
    # referrerpolicy keeps images from hosts that refuse hotlinking visible in readers.
    "img": {"srcset", "sizes", "referrerpolicy", "loading", "title"},
    "a": {"title"},
    "video": {"src", "poster", "controls", "width", "height"},
    "audio": {"src", "controls"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "track": {"src", "kind", "srclang", "label"},
    "abbr": {"title"},
}
_SRCSET_ATTRIBUTES = {"srcset"}


def load_content(post: Post, url: str, config: Config) -> Content:
    """Read the body of a post a feed shows and make it fit for feeds.

    Raises PostError if the file changed into something unreadable since the
    reader saw it (the caller leaves the post out of this build).
    """
    try:
        return _load_content(post, url, config)
    except PostError:
        raise
    except Exception as e:  # as in the reader: one post, not the build
        raise PostError(describe_bug(e)) from e


def _load_content(post: Post, url: str, config: Config) -> Content:
    data = read_bytes(config, post.source)
    text = decode(data, config.encoding)
    try:
        body = body_of(without_nul(text, data if is_utf8(config.encoding) else None)[0])
    except FrontMatterError as e:
        raise PostError(str(e), e.line) from None
    if may_hold_illegal(data, text, config.encoding):  # as in the reader: nearly never
        body = XML_ILLEGAL.sub("", body)
    site = config.site
    if site is not None:  # the generator's template tags, rendered as it renders them
        body = site.render_body(body, post.source, url, post.title)
    # A quick bound in characters first: a character is at most four bytes of UTF-8.
    cut = len(body) > FEED_BODY_BYTES // 4 and len(body.encode()) > FEED_BODY_BYTES
    if cut:
        body = body[:_EXCERPT_CHARACTERS]  # the sanitiser closes what the cut leaves open
    full = _to_html(body, post.body_format)
    if cut:
        full += f'\n<p><a href="{html.escape(url)}">…</a></p>'
    more, full = _split_summary(full)
    # Without character references (and template tags), the body's HTML holds no character
    # XML forbids, nor can the sanitiser make one (no named reference is one of them).
    references = site is not None or "&#" in body or "&#" in full
    base = site.asset_base(url) if site else url
    if post.summary:
        summary: str | None = _sanitize(post.summary, base)
    else:
        summary = _sanitize(more, base, references) if more else None
    page = _with_image(_sanitize(full, base, references), post.thumbnail, post.title)
    if config.content == "summary" and not summary:
        length = site.summary_cut() if site else None
        summary = _plain_summary(page) if length is None else _cut_summary(page, *length)
    if site is not None:
        from .sites.tags import no_template_markers

        page = no_template_markers(page)
        summary = no_template_markers(summary) if summary else summary
    return Content(html=page, summary=summary, enclosure=_enclosure(post.thumbnail, config))


def _enclosure(url: str | None, config: Config) -> Enclosure | None:
    if not url:
        return None
    extension = posixpath.splitext(unquote(urlsplit(url).path))[1].lower()
    local = local_file(url, config)
    return Enclosure(
        url, IMAGE_TYPES.get(extension, config.image_type), local.stat().st_size if local else 0
    )


def prepare() -> None:
    """Build the shared sanitiser and the Markdown renderer now (before worker processes
    are forked, which then need not each build their own)."""
    prepare_markdown()
    _cleaner(None)


@functools.cache
def _allowed_attributes() -> dict[str, set[str]]:
    import nh3

    allowed = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag, attrs in _EXTRA_ATTRIBUTES.items():
        allowed.setdefault(tag, set()).update(attrs)
    return allowed


def _to_html(body: str, fmt: BodyFormat) -> str:
    return render_markdown(body) if fmt is BodyFormat.MARKDOWN else body


def _split_summary(body_html: str) -> tuple[str | None, str]:
    """The part before `<!-- more -->` (Hexo's excerpt), and the body without the marker."""
    parts = _MORE.split(body_html, maxsplit=1)
    if len(parts) == 1:
        return None, body_html
    return parts[0], parts[0] + parts[1]


def _sanitize(fragment: str, base: str, references: bool = True) -> str:
    """Make HTML safe for any feed reader, with every URL absolute against `base`.
    `references` False: the fragment holds no character XML forbids and no character
    reference (`&#…`), so what the sanitiser makes of it holds none either."""
    cleaned = _cleaner(None if _all_references_absolute(fragment) else base).clean(fragment)
    # Character references (&#x0C;) that the parser decoded into characters XML forbids;
    # the reader has warned of them.
    return (XML_ILLEGAL.sub("", cleaned) if references else cleaned).strip()


def _all_references_absolute(fragment: str) -> bool:
    """True when every href/src is an absolute http(s) URL, as in most scraped bodies.

    Then one shared cleaner serves every post; building a cleaner for a post's
    own base URL costs as much as cleaning it. Every "href" and "src" must start
    `href="http:` or the like, and none may be in another case (HREF, sRc: attribute
    names are case-insensitive in HTML). Searching for the names is ten times faster
    than a regular expression here, and any doubt (a bare "src" in the text, srcset,
    spaces around "=") counts as relative, which is always safe.
    """
    found = 0
    for name, prefixes in _ABSOLUTE_PREFIXES.items():
        at = fragment.find(name)
        while at != -1:
            if not fragment.startswith(prefixes, at):
                return False
            found += 1
            at = fragment.find(name, at + len(name))
    lower = fragment.lower()  # no other letter lowers to one of theirs
    return lower.count("href") + lower.count("src") == found


_ABSOLUTE_PREFIXES = {
    name: tuple(f"{name}={quote}{scheme}" for quote in "\"'" for scheme in ("http:", "https:"))
    for name in ("href", "src")
}


@functools.lru_cache(maxsize=2)  # the shared cleaner, and the one post that needed its own
def _cleaner(base: str | None) -> nh3.Cleaner:
    import nh3  # imported when first needed: a build that publishes nothing starts faster

    def rewrite_srcset(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _SRCSET_ATTRIBUTES or base is None:
            return value
        return _absolute_srcset(value, base)

    return nh3.Cleaner(
        tags=nh3.ALLOWED_TAGS | _EXTRA_TAGS,
        attributes=_allowed_attributes(),
        attribute_filter=rewrite_srcset if base is not None else None,
        url_relative=("rewrite_with_base", base) if base is not None else "pass_through",
    )


def _absolute_srcset(value: str, base: str) -> str | None:
    candidates = []
    for candidate in value.split(","):
        url, _, descriptor = candidate.strip().partition(" ")
        absolute = absolute_url(url, base) if url else None
        if absolute:
            candidates.append(f"{absolute} {descriptor.strip()}".strip())
    return ", ".join(candidates) or None


def _with_image(fragment: str, image: str | None, alt: str) -> str:
    """Put `image` at the top unless the body already shows it: newsboat and
    NetNewsWire show only images that are in the body."""
    if not image or image in fragment or html.escape(image) in fragment:
        return fragment
    return (
        f'<p><img src="{html.escape(image)}" alt="{html.escape(alt)}" '
        f'referrerpolicy="no-referrer"></p>\n{fragment}'
    )


def _plain_text(fragment: str) -> str:
    import nh3

    return " ".join(html.unescape(nh3.clean(fragment, tags=set())).split())


def _cut_summary(fragment: str, limit: int, delimiter: str) -> str:
    """Site mode: the first `limit` characters of the text, cut back to the last
    `delimiter` in them when there is one (hexo-generator-feed's `content_limit` and
    `content_limit_delim`, applied to the text rather than to the HTML, so no tag is cut)."""
    text = _plain_text(fragment)[:limit]
    if delimiter and delimiter in text:
        text = text[: text.rindex(delimiter)]
    return html.escape(text.rstrip())


def _plain_summary(fragment: str) -> str:
    """A short plain-text excerpt, for `content = "summary"` posts that have no summary."""
    text = _plain_text(fragment)
    if len(text) <= _SUMMARY_CHARS:
        return html.escape(text)
    return html.escape(text[:_SUMMARY_CHARS].rstrip() + "…")
