"""How the output folder is served over HTTP: media types, caching, WebSub headers.

The one home of these facts, shared by `feedpub serve` (previews) and the
production configurations that `feedpub server-config` prints (nginx, Apache),
so the three always agree.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from .config import Config
from .formats import Format
from .websub import is_feed, topic_url

CACHE_CONTROL = "no-cache"
"""For the files feedpub writes: caches keep them but ask each time (a 304 is cheap), so a
hub fetching a feed right after a ping never gets the previous version."""

FEED_TYPES = {fmt.file_name: fmt.media_type for fmt in Format}
"""Feed file name → media type (every feed file of a format has the same name)."""

EXTENSION_TYPES = {
    ".opml": "text/x-opml",
    ".html": "text/html",
    ".xml": "application/xml",
    ".json": "application/json",
    ".css": "text/css",
    ".txt": "text/plain",
}
"""Types of the other files feedpub writes, by extension (feeds first: they are .xml too)."""

COMPRESSIBLE = (*FEED_TYPES.values(), *EXTENSION_TYPES.values(), "image/svg+xml")


def media_type(rel: str) -> str:
    """The Content-Type for a file of the output folder, with a charset for text."""
    path = PurePosixPath(rel)
    kind = (
        FEED_TYPES.get(path.name)
        or EXTENSION_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    return f"{kind}; charset=utf-8" if kind in COMPRESSIBLE else kind


def compressible(content_type: str) -> bool:
    return content_type.split(";")[0] in COMPRESSIBLE


def link_headers(config: Config, rel: str) -> list[str]:
    """WebSub discovery (W3C WebSub 4): `Link` header values for a feed, none for other
    files. The self link alone (no hub configured) still names the feed's canonical URL."""
    if not is_feed(config, rel):
        return []
    return [f'<{hub}>; rel="hub"' for hub in config.hubs] + [
        f'<{topic_url(config, rel)}>; rel="self"'
    ]


def cache_control(rel: str) -> str | None:
    """Cache-Control for the files feedpub writes; None leaves others to the server."""
    return CACHE_CONTROL if media_type(rel).split(";")[0] in COMPRESSIBLE else None
