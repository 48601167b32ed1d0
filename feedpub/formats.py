"""The feed formats feedpub writes: the one registry of their names, files and media types.

A new format is a new member here (and a renderer in `render/`); everything else —
configuration, file names, slugs a category may not take, HTTP types — reads it from here.
"""

from __future__ import annotations

import enum


class Format(enum.StrEnum):
    """A feed format; its value is the name used in `formats` and `--format`."""

    RSS = "rss"
    ATOM = "atom"
    JSON = "json"
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""

    @property
    def file_name(self) -> str:
        """The feed's file in its folder (the site's root, or a category's)."""
        return _FILE_NAMES[self]

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]

    @property
    def label(self) -> str:
        """The format's short name, as a link to the feed says it."""
        return _LABELS[self]

    @property
    def full_name(self) -> str:
        return _FULL_NAMES[self]


_FILE_NAMES = {Format.RSS: "rss.xml", Format.ATOM: "atom.xml", Format.JSON: "feed.json"}
_MEDIA_TYPES = {
    Format.RSS: "application/rss+xml",
    Format.ATOM: "application/atom+xml",
    Format.JSON: "application/feed+json",
}
_LABELS = {Format.RSS: "RSS", Format.ATOM: "Atom", Format.JSON: "JSON"}
_FULL_NAMES = {Format.RSS: "RSS 2.0", Format.ATOM: "Atom 1.0", Format.JSON: "JSON Feed 1.1"}

DEFAULT_FORMATS = (Format.RSS, Format.ATOM, Format.JSON)

OPML_FILE = "feeds.opml"
"""The subscription list of every feed, below the output folder."""
INDEX_FILE = "feeds/index.html"
"""The page that lists every feed; it is published at `<base_url>feeds/`."""
SITE_FILES = (OPML_FILE, INDEX_FILE)
